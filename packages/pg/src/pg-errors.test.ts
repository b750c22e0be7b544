import { BallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { hostFailure, markNotSent, notExecuted } from './pg-errors.js';

const sysError = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code });

describe('notExecuted: may a write be retried after this error?', () => {
  it('yes for errors that only happen before anything was sent', () => {
    expect(notExecuted(sysError('ECONNREFUSED'))).toBe(true);
    expect(notExecuted(sysError('ENOTFOUND'))).toBe(true);
    expect(
      notExecuted(Object.assign(new Error('the database system is starting up'), { code: '57P03' })),
    ).toBe(true);
    expect(notExecuted(new BallastError('BALLAST_SHED', 'shed', { retryable: true }))).toBe(true);
  });

  it('no for socket errors that can cut off a statement the server already ran', () => {
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'])
      expect(notExecuted(sysError(code)), code).toBe(false);
    expect(notExecuted(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(notExecuted(new BallastError('BALLAST_DEADLINE_EXCEEDED', 'late', { retryable: false }))).toBe(
      false,
    );
  });

  it('yes for any error of a failed connection attempt (marked by the pool)', () => {
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT'])
      expect(notExecuted(markNotSent(sysError(code))), code).toBe(true);
    expect(notExecuted(markNotSent(new Error('connection timeout')))).toBe(true);
  });
});

describe('hostFailure: whose fault is it?', () => {
  it("a client-side error without a SQLSTATE is the caller's: it neither opens a breaker nor moves to another host", () => {
    expect(hostFailure(new Error('cannot serialize'))).toBe('ignore');
    expect(hostFailure(new TypeError('Converting circular structure to JSON'))).toBe('ignore');
  });

  it("a lost connection, socket errors and the server's own trouble are the host's", () => {
    expect(hostFailure(new Error('Connection terminated unexpectedly'))).toBe('failure');
    expect(hostFailure(sysError('ECONNRESET'))).toBe('failure');
    expect(hostFailure(Object.assign(new Error('too many connections'), { code: '53300' }))).toBe('failure');
    expect(hostFailure(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe('ignore');
  });
});

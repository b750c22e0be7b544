import { describe, expect, it } from 'vitest';
import { statementTimeoutFor } from './host-pool-connection.js';

describe('statementTimeoutFor', () => {
  it('lowers an unset statement_timeout to the remaining time', () => {
    expect(statementTimeoutFor(0, 300, 0)).toBe(300);
  });

  it('keeps the setting while the remaining time is between a quarter of it and all of it', () => {
    expect(statementTimeoutFor(1_000, 1_000, 0)).toBe(-1);
    expect(statementTimeoutFor(1_000, 250, 0)).toBe(-1);
  });

  it('lowers it when it is more than 4x the remaining time', () => {
    expect(statementTimeoutFor(1_000, 200, 0)).toBe(200);
  });

  it('raises it, to twice the need, as soon as it would end a statement before its deadline', () => {
    expect(statementTimeoutFor(300, 301, 0)).toBe(602);
  });

  it('restores the default when a statement has no deadline', () => {
    expect(statementTimeoutFor(300, Number.POSITIVE_INFINITY, 0)).toBe(0);
    expect(statementTimeoutFor(300, Number.POSITIVE_INFINITY, 10_000)).toBe(10_000);
    expect(statementTimeoutFor(0, Number.POSITIVE_INFINITY, 0)).toBe(-1);
  });

  it('never raises it above the default', () => {
    expect(statementTimeoutFor(300, 8_000, 10_000)).toBe(10_000);
    expect(statementTimeoutFor(10_000, 20_000, 10_000)).toBe(-1);
  });

  it('always sets a value when the current one is unknown', () => {
    expect(statementTimeoutFor(Number.NaN, 500, 0)).toBe(500);
    expect(statementTimeoutFor(Number.NaN, Number.POSITIVE_INFINITY, 0)).toBe(0);
  });
});

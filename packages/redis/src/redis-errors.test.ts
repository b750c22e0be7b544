import { BallastError } from '@ballast/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  connectionLost,
  isReadOnlyReply,
  redisFailure,
  redisNotExecuted,
  redisRetryable,
  replyCode,
} from './redis-errors.js';

/** ioredis' errors, as it raises them. */
function reply(message: string): Error {
  return Object.assign(new Error(message), { name: 'ReplyError' });
}

describe('classifying Redis errors', () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(inject('ballast').redis.url);
  });
  afterAll(() => {
    raw.disconnect();
  });

  it("the command's own mistakes, as a real Redis answers them, are not Redis' failures", async () => {
    await raw.hset('errors:hash', 'f', 'v');
    const wrongType = await raw.get('errors:hash').catch((e: unknown) => e);
    const syntax = await raw.call('SET', 'k', 'v', 'BOGUS').catch((e: unknown) => e);
    const noScript = await raw.evalsha('0'.repeat(40), 0).catch((e: unknown) => e);
    for (const [error, code] of [
      [wrongType, 'WRONGTYPE'],
      [syntax, 'ERR'],
      [noScript, 'NOSCRIPT'],
    ] as const) {
      expect(replyCode(error)).toBe(code);
      expect(redisFailure(error)).toBe('ignore');
      expect(redisRetryable(error, 1000)).toBe(false);
      expect(redisNotExecuted(error)).toBe(false);
    }
  });

  it('replies that mean Redis is unwell count; those that mean it refused are safe to retry', () => {
    for (const code of ['LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'CLUSTERDOWN', 'TRYAGAIN']) {
      const e = reply(`${code} something`);
      expect([redisFailure(e), redisRetryable(e, 1000), redisNotExecuted(e)]).toEqual([
        'failure',
        true,
        true,
      ]);
    }
    for (const code of ['OOM', 'MISCONF', 'NOREPLICAS']) {
      const e = reply(`${code} something`);
      expect([redisFailure(e), redisRetryable(e, 1000), redisNotExecuted(e)]).toEqual([
        'failure',
        false,
        true,
      ]);
    }
    expect(redisFailure(reply('ERR max number of clients reached'))).toBe('failure');
    expect(redisNotExecuted(reply('MOVED 3999 127.0.0.1:6381'))).toBe(true);
    expect(isReadOnlyReply(reply("READONLY You can't write against a read only replica."))).toBe(true);
  });

  it("ioredis' connection errors: lost in flight is ambiguous, never sent is safe", () => {
    const lost = [
      new Error('Connection is closed.'),
      Object.assign(new Error('Command aborted due to connection close'), { name: 'AbortError' }),
      Object.assign(new Error('Reached the max retries per request limit (which is 0).'), {
        name: 'MaxRetriesPerRequestError',
      }),
    ];
    for (const e of lost) {
      expect(connectionLost(e)).toBe(true);
      expect([redisFailure(e), redisRetryable(e, 1000), redisNotExecuted(e)]).toEqual([
        'failure',
        true,
        false,
      ]);
    }
    const notSent = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    expect([redisFailure(notSent), redisRetryable(notSent, 1000), redisNotExecuted(notSent)]).toEqual([
      'failure',
      true,
      true,
    ]);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect([redisFailure(refused), redisNotExecuted(refused)]).toEqual(['failure', true]);
  });

  it("Ballast's own errors keep core's meaning; a caller's AbortError is not Redis' failure", () => {
    const open = new BallastError('BALLAST_CIRCUIT_OPEN', 'open', { retryable: true });
    expect([redisFailure(open), redisNotExecuted(open)]).toEqual(['ignore', true]);
    const notConnected = new BallastError('BALLAST_NO_HEALTHY_HOST', 'down', { retryable: true });
    expect([
      redisFailure(notConnected),
      redisRetryable(notConnected, 100),
      redisNotExecuted(notConnected),
    ]).toEqual(['failure', true, true]);
    const aborted = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
    expect(redisFailure(aborted)).toBe('ignore');
  });
});

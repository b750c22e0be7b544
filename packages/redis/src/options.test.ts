import { isBallastError } from '@ballast/core';
import { ManualClock } from '@ballast/core/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_CLIENT, type RedisClientOptions, resolveRedisClientOptions } from './options.js';

const URL_WITH_PASSWORD = 'redis://app:s3cr3t-pw@127.0.0.1:6380/2';

function invalid(options: unknown): Error {
  try {
    resolveRedisClientOptions(options as RedisClientOptions);
  } catch (error) {
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT'), String(error)).toBe(true);
    expect((error as Error).message).not.toContain('s3cr3t-pw');
    return error as Error;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('resolveRedisClientOptions', () => {
  it('applies the defaults and collects the passwords to mask', () => {
    const o = resolveRedisClientOptions({
      url: URL_WITH_PASSWORD,
      replicas: ['redis://:r%40pw@10.0.0.2:6379'],
    });
    expect(o).toMatchObject({
      ...DEFAULT_REDIS_CLIENT,
      url: URL_WITH_PASSWORD,
      hedge: false,
      breaker: {},
      retry: {},
    });
    expect([...o.secrets].sort()).toEqual(['r%40pw', 'r@pw', 's3cr3t-pw'].sort());
  });

  it('names the option and the value for each mistake, never a password', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /option options: expected an object/],
      [{}, /option url: expected one of url, options or client/],
      [{ url: 'http://x:s3cr3t-pw@h' }, /option url: .*received "http:\/\/x@h\/"/],
      [{ url: 42 }, /option url: .*received 42/],
      [{ url: URL_WITH_PASSWORD, timeout: 5 }, /option timeout: expected no such option/],
      [{ url: URL_WITH_PASSWORD, timeoutMs: 0 }, /option timeoutMs: expected a number >= 1, received 0/],
      [{ url: URL_WITH_PASSWORD, timeoutMs: '1s' }, /option timeoutMs.*received "1s"/],
      [{ url: URL_WITH_PASSWORD, name: '' }, /option name/],
      [{ url: URL_WITH_PASSWORD, readFrom: 'replicas' }, /option readFrom.*received "replicas"/],
      [{ url: URL_WITH_PASSWORD, replicas: 'redis://h' }, /option replicas: expected an array/],
      [{ url: URL_WITH_PASSWORD, replicas: [URL_WITH_PASSWORD, 'h:1'] }, /option replicas\[1\]/],
      [{ url: URL_WITH_PASSWORD, breaker: true }, /option breaker: expected an options object/],
      [{ url: URL_WITH_PASSWORD, limiter: 5 }, /option limiter/],
      [{ url: URL_WITH_PASSWORD, retry: 'no' }, /option retry/],
      [{ url: URL_WITH_PASSWORD, connectTimeoutMs: Number.POSITIVE_INFINITY }, /option connectTimeoutMs/],
      [
        { url: URL_WITH_PASSWORD, reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 50 },
        /option reconnectMaxDelayMs/,
      ],
      [{ url: URL_WITH_PASSWORD, keepAliveMs: -1 }, /option keepAliveMs/],
      [{ url: URL_WITH_PASSWORD, autoPipelining: 1 }, /option autoPipelining: expected a boolean/],
      [{ url: URL_WITH_PASSWORD, maxConnectWaiters: 1.5 }, /option maxConnectWaiters/],
      [{ url: URL_WITH_PASSWORD, stallTimeoutMs: 0 }, /option stallTimeoutMs/],
      [{ url: URL_WITH_PASSWORD, healthCheckIntervalMs: 0 }, /option healthCheckIntervalMs/],
      [{ url: URL_WITH_PASSWORD, healthCheckTimeoutMs: Number.NaN }, /option healthCheckTimeoutMs/],
      [{ url: URL_WITH_PASSWORD, closeTimeoutMs: -1 }, /option closeTimeoutMs/],
      [{ url: URL_WITH_PASSWORD, clock: {} }, /option clock/],
      [{ url: URL_WITH_PASSWORD, random: 0.5 }, /option random/],
      [{ options: 'host' }, /option options: expected an ioredis options object/],
      [{ options: { enableOfflineQueue: true } }, /option options.enableOfflineQueue/],
      [{ options: { maxRetriesPerRequest: null } }, /option options.maxRetriesPerRequest/],
      [{ client: {} }, /option client: expected an ioredis Redis or Cluster/],
      [
        { url: URL_WITH_PASSWORD, replicas: ['redis://h'], breaker: { acquire() {} } },
        /option breaker: expected options \(each of the primary and replicas/,
      ],
      [
        { url: URL_WITH_PASSWORD, replicas: ['redis://h'], limiter: { tryAcquire() {} } },
        /option limiter: expected options/,
      ],
    ];
    for (const [options, message] of cases) expect(invalid(options).message).toMatch(message);
  });

  it('a caller-owned client goes alone', () => {
    const client = {
      status: 'ready',
      on() {},
      sendCommand() {},
      isCluster: false,
      options: { password: 'pw1' },
    };
    expect(resolveRedisClientOptions({ client: client as never }).secrets).toEqual(['pw1']);
    expect(invalid({ client, url: URL_WITH_PASSWORD }).message).toMatch(/option client: expected alone/);
  });

  it('a clock is accepted as any object with now/setTimeout/clearTimeout', () => {
    const clock = new ManualClock();
    expect(resolveRedisClientOptions({ url: URL_WITH_PASSWORD, clock }).clock).toBe(clock);
  });
});

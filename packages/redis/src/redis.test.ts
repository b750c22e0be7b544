import { isBallastError } from '@ballast/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BallastRedis, createRedis } from './redis.js';

/** A Lua script that keeps Redis busy for ARGV[1] ms. */
const SPIN = `local t = redis.call('TIME'); local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us
return 1`;

/** Commands against the run's shared, healthy Redis. */
describe('createRedis on a real Redis', () => {
  const { url } = inject('ballast').redis;
  let redis: BallastRedis;
  const prefix = `redis-test:${process.pid}:`;

  beforeAll(() => {
    redis = createRedis({ url, name: 'shared' });
  });
  afterAll(async () => {
    await redis.close();
  });

  it('get, set (ttlMs, nx, xx), del and mget', async () => {
    const k = `${prefix}a`;
    expect(await redis.set(k, 'v1')).toBe(true);
    expect(await redis.get(k)).toBe('v1');
    expect(await redis.set(k, 'v2', { nx: true })).toBe(false);
    expect(await redis.set(k, 'v3', { xx: true, ttlMs: 60_000 })).toBe(true);
    const ttl = await redis.exec((c) => c.pttl(k));
    expect(ttl).toBeGreaterThan(50_000);
    expect(await redis.set(`${prefix}b`, 42)).toBe(true);
    expect(await redis.set(`${prefix}c`, Buffer.from('bytes'))).toBe(true);
    expect(await redis.mget([k, `${prefix}missing`, `${prefix}b`, `${prefix}c`])).toEqual([
      'v3',
      null,
      '42',
      'bytes',
    ]);
    expect(await redis.mget([])).toEqual([]);
    expect(await redis.del([k, `${prefix}b`, `${prefix}missing`])).toBe(2);
    expect(await redis.del(`${prefix}c`)).toBe(1);
    expect(await redis.get(k)).toBeNull();
  });

  it('exec runs any command under the policy and passes Redis errors through unchanged', async () => {
    const k = `${prefix}hash`;
    await redis.exec((c) => c.hset(k, 'f', 'x'));
    expect(await redis.exec((c) => c.hget(k, 'f'))).toBe('x');
    const error = await redis.get(k).catch((e: unknown) => e);
    expect((error as Error).name).toBe('ReplyError');
    expect((error as Error).message).toMatch(/^WRONGTYPE/);
    // The command's own mistake says nothing about Redis: the breaker does not count it.
    for (let i = 0; i < 10; i++) await redis.get(k).catch(() => {});
    const primary = redis.stats().nodes[0];
    expect(primary?.policy.breaker?.state).toBe('closed');
    expect(primary?.policy.breaker?.failures).toBe(0);
  });

  it('CacheStore: getRaw, setRaw with a TTL, delRaw', async () => {
    const k = `${prefix}raw`;
    await redis.setRaw(k, 'serialized', 5_000);
    expect(await redis.getRaw(k)).toBe('serialized');
    const ttl = await redis.exec((c) => c.pttl(k));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    await redis.delRaw(k);
    expect(await redis.getRaw(k)).toBeNull();
  });

  it('invalid keys, values and per-call options reject with BALLAST_INVALID_ARGUMENT naming them', async () => {
    const cases: [Promise<unknown>, RegExp][] = [
      [redis.set(`${prefix}x`, undefined as never), /argument value.*received undefined/],
      [redis.set(`${prefix}x`, { a: 1 } as never), /argument value.*received an object/],
      [redis.set(`${prefix}x`, Number.NaN), /argument value.*received NaN/],
      [redis.set(`${prefix}x`, true as never), /argument value.*received true/],
      [redis.get(undefined as never), /argument key/],
      [redis.mget('k' as never), /argument keys/],
      [redis.del([`${prefix}x`, 3 as never]), /argument keys\[1\]/],
      [redis.set(`${prefix}x`, 'v', { ttlMs: 0 }), /option ttlMs.*received 0/],
      [redis.set(`${prefix}x`, 'v', { ttlMs: 1.5 }), /option ttlMs/],
      [redis.set(`${prefix}x`, 'v', { nx: true, xx: true }), /option nx/],
      [redis.set(`${prefix}x`, 'v', { waitReplicas: -1 }), /option waitReplicas/],
      [redis.get(`${prefix}x`, { replica: 'yes' as never }), /option replica/],
      [redis.get(`${prefix}x`, { priority: 'urgent' as never }), /priority/],
      [redis.get(`${prefix}x`, { deadlineMs: Number.NaN }), /deadlineMs/],
      [redis.exec('GET' as never), /argument fn/],
    ];
    for (const [call, message] of cases) {
      const error = await call.catch((e: unknown) => e);
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
    // A key's or value's content never appears in the message.
    const error = await redis.set('secret-key', Symbol('x') as never).catch((e: unknown) => e);
    expect((error as Error).message).not.toContain('secret-key');
  });

  it('a call past its deadline rejects with BALLAST_DEADLINE_EXCEEDED while Redis is busy', async () => {
    const busy = new Redis(url);
    try {
      // A script spinning for 300 ms holds the whole server: every command waits behind it.
      const sleeping = busy.eval(SPIN, 0, '300');
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      const error = await redis.get(`${prefix}a`, { deadlineMs: 50 }).catch((e: unknown) => e);
      const elapsed = performance.now() - t0;
      expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
      expect(elapsed).toBeLessThan(150);
      await sleeping;
    } finally {
      busy.disconnect();
    }
  });

  it('close() quits, later calls reject with BALLAST_NO_HEALTHY_HOST, and close is idempotent', async () => {
    const other = createRedis({ url });
    expect(await other.set(`${prefix}closing`, 'x')).toBe(true);
    await other.close();
    await other.close();
    expect(other.stats().closed).toBe(true);
    const error = await other.get(`${prefix}closing`).catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_NO_HEALTHY_HOST')).toBe(true);
  });
});

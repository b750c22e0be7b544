import { isBallastError } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BallastRedis, createRedis } from './redis.js';

/** `cached()` on the client itself (the cache-aside over the client's own policies), on a real Redis. */
describe('createRedis(...).cached', () => {
  const { url } = inject('ballast').redis;
  const prefix = `redis-cached:${process.pid}:`;
  let redis: BallastRedis;

  beforeAll(() => {
    redis = createRedis({ url, name: 'cached-on-client', nearCache: { max: 100, ttlMs: 50 } });
  });
  afterAll(async () => {
    await redis.close();
  });

  it('loads once, stores in Redis, and answers later calls without the loader (also from a second client)', async () => {
    const key = `${prefix}answer`;
    let calls = 0;
    const loader = async () => {
      calls++;
      return { text: 'forty-two', tokens: 3 };
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => redis.cached(key, loader, { ttlMs: 60_000 })),
    );
    expect(results.every((r) => r.text === 'forty-two')).toBe(true);
    expect(calls).toBe(1);
    // Written to Redis (in the background): another client with no near cache reads it without loading.
    const other = createRedis({ url, name: 'cached-other', nearCache: false });
    try {
      await expect.poll(() => other.exec((c) => c.exists(key))).toBe(1);
      expect(await other.cached(key, loader, { ttlMs: 60_000 })).toEqual({ text: 'forty-two', tokens: 3 });
      expect(calls).toBe(1);
      await other.invalidate(key);
      expect(await other.exec((c) => c.exists(key))).toBe(0);
    } finally {
      await other.close();
    }
    expect(redis.stats().cached?.counts).toBeDefined();
  });

  it('validates the cache options at createRedis and names them', () => {
    let error: unknown;
    try {
      createRedis({ url, nearCache: { max: 0 } });
    } catch (e) {
      error = e;
    }
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect(String((error as Error).message)).toMatch(/nearCache\.max/);
    expect(() => createRedis({ url, nearCahce: {} } as never)).toThrow(/nearCahce/);
  });
});

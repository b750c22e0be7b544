import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isBallastError } from '@ballast/core';
import { FaultProxy } from '@ballast/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type CacheAside, createCacheAside } from './cached.js';
import { encodeEnvelope } from './cached-envelope.js';
import type { CacheAsideOptions } from './cached-options.js';
import type { CacheStore } from './store.js';

// Behaviour against a real Redis (the run's shared one), reached through a FaultProxy. The store is a small
// adapter over a plain ioredis client, as the cache-aside sees any client: short command timeouts, no offline
// queue, and a reconnect after a timeout (a blackhole drops bytes, so that connection's replies are lost).

const COMMAND_TIMEOUT_MS = 100;

function ioredisStore(client: Redis): CacheStore {
  const recover = (error: unknown): never => {
    if (/timed out/i.test(String((error as Error).message)) && client.status === 'ready')
      client.disconnect(true);
    throw error;
  };
  return {
    getRaw: (key) => client.get(key).catch(recover),
    setRaw: async (key, value, ttlMs) => {
      await client.set(key, value, 'PX', Math.ceil(ttlMs)).catch(recover);
    },
    delRaw: async (key) => {
      await client.del(key).catch(recover);
    },
  };
}

/** A loader that records how many calls run at once, per key and in all, and answers after `delayMs`. */
function countingLoader(delayMs: number) {
  const inflight = new Map<string, number>();
  const stats = { calls: 0, inflight: 0, maxInflight: 0, maxPerKey: 0 };
  const forKey = (key: string) => async () => {
    stats.calls++;
    stats.inflight++;
    stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
    const mine = (inflight.get(key) ?? 0) + 1;
    inflight.set(key, mine);
    stats.maxPerKey = Math.max(stats.maxPerKey, mine);
    try {
      await sleep(delayMs);
      return { key, at: stats.calls };
    } finally {
      stats.inflight--;
      inflight.set(key, (inflight.get(key) ?? 1) - 1);
    }
  };
  return { stats, forKey };
}

let proxy: FaultProxy;
let client: Redis;
let direct: Redis;
let prefix: string;

beforeAll(async () => {
  const url = new URL(inject('ballast').redis.url);
  proxy = new FaultProxy({ port: Number(url.port) });
  const port = await proxy.listen();
  const password = decodeURIComponent(url.password);
  client = new Redis({
    host: '127.0.0.1',
    port,
    password,
    commandTimeout: COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    retryStrategy: () => 50,
    lazyConnect: true,
  });
  client.on('error', () => undefined); // each failed command is seen by the cache-aside; the event adds nothing
  direct = new Redis({ host: '127.0.0.1', port: Number(url.port), password });
  await client.connect();
  await direct.ping();
});

afterAll(async () => {
  client.disconnect();
  direct.disconnect();
  await proxy.close();
});

beforeEach(async () => {
  prefix = `cached-test:${randomUUID()}:`;
  await proxy.clear();
  // After a fault, wait until the client is back before the next test starts.
  await untilClientReady();
});

/** Polls `probe` every 20 ms until it is true. */
async function until(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  for (const start = Date.now(); !(await probe()); await sleep(20)) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
  }
}

function untilClientReady(): Promise<void> {
  return until(
    async () =>
      client.status === 'ready' &&
      (await client.ping().then(
        () => true,
        () => false,
      )),
  );
}

function cacheAside(options: Partial<CacheAsideOptions> = {}): CacheAside {
  return createCacheAside({ store: ioredisStore(client), redisTimeoutMs: 250, ...options });
}

describe('cached() against a real Redis', () => {
  it('answers every previously cached key through a 5 s blackhole of Redis, without calling the loader', async () => {
    const cache = cacheAside({ nearCache: { ttlMs: 200 } });
    const keys = Array.from({ length: 200 }, (_, i) => `${prefix}${i}`);
    const options = { ttlMs: 1_000, staleIfErrorMs: 60_000 };
    await Promise.all(keys.map((key) => cache.cached(key, () => ({ key }), options)));

    await proxy.set({ blackhole: true });
    const until = Date.now() + 5_000;
    let rounds = 0;
    let answered = 0;
    const wrong: unknown[] = [];
    const mustNotLoad = () => Promise.reject(new Error('the loader ran during the outage'));
    while (Date.now() < until) {
      const results = await Promise.allSettled(keys.map((key) => cache.cached(key, mustNotLoad, options)));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled' && (r.value as { key: string }).key === keys[i]) answered++;
        else wrong.push(r.status === 'rejected' ? r.reason : r.value);
      });
      rounds++;
      await sleep(100);
    }
    await proxy.clear();
    expect(wrong).toEqual([]);
    expect(rounds).toBeGreaterThan(5);
    expect(answered).toBe(rounds * keys.length);
    const { counts } = cache.stats();
    expect(counts.loads).toBe(keys.length); // the first fill only
    expect(counts.fallbacks).toBeGreaterThan(0); // past the near TTL and past ttlMs: answered stale-if-error
  });

  it('after the blackhole lifts, values are stored in Redis again and read by another process', async () => {
    const cache = cacheAside();
    await proxy.set({ blackhole: true });
    // Redis is down and nothing is held: the loader answers; the background write fails without harm.
    expect(await cache.cached(`${prefix}during`, () => 'from-db', { ttlMs: 60_000 })).toBe('from-db');
    await proxy.clear();
    await untilClientReady();
    expect(await cache.cached(`${prefix}after`, () => 'v2', { ttlMs: 60_000 })).toBe('v2');
    await until(async () => (await direct.get(`${prefix}after`)) !== null);
    const reader = cacheAside();
    const mustNotLoad = () => Promise.reject(new Error('not from Redis'));
    expect(await reader.cached(`${prefix}after`, mustNotLoad, { ttlMs: 60_000 })).toBe('v2');
  });

  it('calls the loader at most once per key at a time under 100 concurrent callers per key', async () => {
    const loader = countingLoader(20);
    for (const nearCache of [{}, false] as const) {
      const cache = cacheAside({ nearCache });
      const keys = Array.from(
        { length: 20 },
        (_, i) => `${prefix}${nearCache === false ? 'off' : 'on'}:${i}`,
      );
      const options = { ttlMs: 150, staleIfErrorMs: 0 };
      for (let wave = 0; wave < 3; wave++) {
        const calls = keys.flatMap((key) =>
          Array.from({ length: 100 }, () => cache.cached(key, loader.forKey(key), options)),
        );
        const values = await Promise.all(calls);
        expect(values.every((v, i) => (v as { key: string }).key === keys[Math.floor(i / 100)])).toBe(true);
        await sleep(200); // past ttlMs: the next wave finds every key expired
      }
    }
    expect(loader.stats.maxPerKey).toBe(1);
    expect(loader.stats.calls).toBe(2 * 20 * 3); // one load per key per wave, near cache on and off
  });

  it.each([
    ['blackhole', { blackhole: true }],
    ['reset and refuse', { reset: true, refuse: true }],
    ['latency above the Redis deadline', { latencyMs: 400 }],
  ])(
    'keeps the loader within its limit during a Redis outage (%s) with many distinct keys',
    async (_, fault) => {
      const limit = 8;
      const loader = countingLoader(10);
      const cache = cacheAside({ loaderPolicy: { limiter: { limit, maxQueue: 2_000 } } });
      await proxy.set(fault);
      const keys = Array.from({ length: 500 }, (_, i) => `${prefix}${i}`);
      const results = await Promise.allSettled(
        keys.map((key) => cache.cached(key, loader.forKey(key), { ttlMs: 60_000, deadlineMs: 10_000 })),
      );
      await proxy.clear();
      const answered = results.filter((r) => r.status === 'fulfilled').length;
      const shed = results.filter((r) => r.status === 'rejected' && isBallastError(r.reason, 'BALLAST_SHED'));
      expect(answered + shed.length).toBe(keys.length);
      expect(answered).toBeGreaterThan(0);
      expect(loader.stats.maxInflight).toBeLessThanOrEqual(limit);
      expect(loader.stats.maxPerKey).toBe(1);
      expect(loader.stats.calls).toBe(answered);
      expect(cache.stats().counts.storeErrors).toBeGreaterThan(0);
    },
  );

  it('1,000 concurrent requests for one expired hot key make 1 loader call (a naive cache-aside makes 1,000)', async () => {
    const key = `${prefix}hot`;
    const past = Date.now() - 1_000;
    await direct.set(
      key,
      encodeEnvelope({ freshUntil: past, swrUntil: past, errorUntil: past + 60_000 }, '"old"'),
      'PX',
      60_000,
    );
    const loader = countingLoader(20);
    const cache = cacheAside();
    const values = await Promise.all(
      Array.from({ length: 1_000 }, () => cache.cached(key, loader.forKey(key), { ttlMs: 60_000 })),
    );
    expect(loader.stats.calls).toBe(1);
    expect(new Set(values.map((v) => JSON.stringify(v))).size).toBe(1);
    expect(cache.stats().counts.redisReads).toBe(1);

    // The baseline: GET, and on a miss load and SET, with no coalescing.
    const naive = countingLoader(20);
    const naiveKey = `${prefix}naive`;
    await Promise.all(
      Array.from({ length: 1_000 }, async () => {
        const hit = await client.get(naiveKey);
        if (hit !== null) return JSON.parse(hit);
        const value = await naive.forKey(naiveKey)();
        await client.set(naiveKey, JSON.stringify(value), 'PX', 60_000);
        return value;
      }),
    );
    expect(naive.stats.calls).toBe(1_000);
  });

  it('with staleWhileRevalidateMs the 1,000 are answered with the old value at once and 1 refresh runs', async () => {
    const key = `${prefix}hot`;
    const past = Date.now() - 1_000;
    await direct.set(
      key,
      encodeEnvelope({ freshUntil: past, swrUntil: past + 60_000, errorUntil: past + 60_000 }, '"old"'),
      'PX',
      60_000,
    );
    const loader = countingLoader(50);
    const cache = cacheAside();
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 };
    const values = await Promise.all(
      Array.from({ length: 1_000 }, () => cache.cached(key, loader.forKey(key), options)),
    );
    expect(values.every((v) => (v as unknown) === 'old')).toBe(true);
    await until(async () => !(await direct.get(key))?.endsWith('"old"'));
    expect(loader.stats.calls).toBe(1);
    expect(JSON.parse((await direct.get(key))?.split(':').slice(4).join(':') ?? 'null')).toMatchObject({
      key,
    });
  });

  it('a corrupt value in Redis is a miss, reported, and replaced by the loaded one', async () => {
    const key = `${prefix}corrupt`;
    await direct.set(key, 'written by something else');
    const cache = cacheAside();
    const reasons: string[] = [];
    cache.on('corrupt', (e) => reasons.push(e.reason));
    expect(await cache.cached(key, () => 'fresh', { ttlMs: 60_000 })).toBe('fresh');
    expect(reasons).toEqual(['format']);
    await until(async () => (await direct.get(key))?.startsWith('b1:') === true);
    expect(await direct.pttl(key)).toBeGreaterThan(50_000);
  });
});

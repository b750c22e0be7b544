import { isBallastError, preciseClock, systemClock } from '@ballast/core';
import { ManualClock } from '@ballast/core/testing';
import { describe, expect, test } from 'vitest';
import { type CacheAside, createCacheAside } from './cached.js';
import { MemoryStore, outcome } from './cached.test-helpers.js';
import {
  type CacheAsideOptions,
  type CachedOptions,
  DEFAULT_CACHED,
  resolveCacheAsideOptions,
  resolveCachedOptions,
} from './cached-options.js';

const clock = new ManualClock(1_000);
const store = new MemoryStore(clock);

function creating(options: Record<string, unknown>): unknown {
  try {
    createCacheAside({ store, clock, ...options } as CacheAsideOptions);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('createCacheAside options', () => {
  test.each([
    ['store', { store: undefined }, 'cacheAside.store', 'undefined'],
    ['store without delRaw', { store: { getRaw() {}, setRaw() {} } }, 'cacheAside.store.delRaw', 'undefined'],
    ['name', { name: '' }, 'cacheAside.name', '""'],
    ['nearCache', { nearCache: true }, 'cacheAside.nearCache', 'true'],
    ['nearCache.max', { nearCache: { max: 0 } }, 'cacheAside.nearCache.max', '0'],
    ['nearCache.max (NaN)', { nearCache: { max: Number.NaN } }, 'cacheAside.nearCache.max', 'NaN'],
    ['nearCache.ttlMs', { nearCache: { ttlMs: -1 } }, 'cacheAside.nearCache.ttlMs', '-1'],
    ['nearCache.maxSize', { nearCache: { maxSize: 1.5 } }, 'cacheAside.nearCache.maxSize', '1.5'],
    ['serializer', { serializer: { serialize: JSON.stringify } }, 'cacheAside.serializer', 'an object'],
    ['loaderPolicy', { loaderPolicy: 16 }, 'cacheAside.loaderPolicy', '16'],
    ['redisTimeoutMs', { redisTimeoutMs: 0 }, 'cacheAside.redisTimeoutMs', '0'],
    ['redisTimeoutMs (Infinity)', { redisTimeoutMs: Infinity }, 'cacheAside.redisTimeoutMs', 'Infinity'],
    ['clock', { clock: Date }, 'cacheAside.clock', 'a function'],
    ['random', { random: 0.5 }, 'cacheAside.random', '0.5'],
    ['epochOffsetMs', { epochOffsetMs: Number.NaN }, 'cacheAside.epochOffsetMs', 'NaN'],
  ])(
    'invalid %s: BALLAST_INVALID_ARGUMENT naming the option and the value',
    (_, options, option, received) => {
      const error = creating(options);
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toContain(`Invalid option ${option}: expected `);
      expect((error as Error).message).toMatch(new RegExp(`received ${received.replace(/[()]/g, '\\$&')}$`));
    },
  );

  test('the loader policy options are merged over the defaults (a limit of 16, no breaker, no retries)', () => {
    const cache = createCacheAside({ store, clock, loaderPolicy: { limiter: { limit: 4 } } });
    expect(cache.loaderPolicy.name).toBe('cached-loader');
    expect(cache.loaderPolicy.breaker).toBeUndefined();
    expect(cache.loaderPolicy.retry).toBeUndefined();
    expect(cache.loaderPolicy.limiter?.limit).toBe(4);
    expect(createCacheAside({ store, clock }).loaderPolicy.limiter?.limit).toBe(16);
  });
});

describe('cached() arguments', () => {
  const cache: CacheAside = createCacheAside({ store, clock });
  const call = (options: unknown, key: unknown = 'k', loader: unknown = () => 1) =>
    outcome(cache.cached(key as string, loader as () => number, options as CachedOptions));

  test.each([
    ['ttlMs missing', {}, 'cached.ttlMs', 'undefined'],
    ['ttlMs negative', { ttlMs: -5 }, 'cached.ttlMs', '-5'],
    ['ttlMs 0', { ttlMs: 0 }, 'cached.ttlMs', '0'],
    ['ttlMs NaN', { ttlMs: Number.NaN }, 'cached.ttlMs', 'NaN'],
    ['ttlMs Infinity', { ttlMs: Infinity }, 'cached.ttlMs', 'Infinity'],
    ['ttlMs a string', { ttlMs: '100' }, 'cached.ttlMs', '"100"'],
    [
      'staleWhileRevalidateMs',
      { ttlMs: 1, staleWhileRevalidateMs: -1 },
      'cached.staleWhileRevalidateMs',
      '-1',
    ],
    ['staleIfErrorMs', { ttlMs: 1, staleIfErrorMs: Number.NaN }, 'cached.staleIfErrorMs', 'NaN'],
    ['jitter 1', { ttlMs: 1, jitter: 1 }, 'cached.jitter', '1'],
    ['jitter negative', { ttlMs: 1, jitter: -0.1 }, 'cached.jitter', '-0.1'],
    ['priority', { ttlMs: 1, priority: 'urgent' }, 'cached.priority', '"urgent"'],
    ['deadlineMs', { ttlMs: 1, deadlineMs: Number.NaN }, 'cached.deadlineMs', 'NaN'],
    ['signal', { ttlMs: 1, signal: {} }, 'cached.signal', 'an object'],
    ['options', null, 'cached.options', 'null'],
  ])('invalid %s rejects with BALLAST_INVALID_ARGUMENT naming it', async (_, options, option, received) => {
    const result = await call(options);
    const error = 'error' in result ? result.error : undefined;
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(`Invalid option ${option}: expected `);
    expect((error as Error).message).toContain(`received ${received}`);
  });

  test('an empty or non-string key, and a loader that is not a function, are rejected', async () => {
    for (const result of [
      await call({ ttlMs: 1 }, ''),
      await call({ ttlMs: 1 }, 42),
      await call({ ttlMs: 1 }, 'k', 'x'),
    ])
      expect('error' in result && isBallastError(result.error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
  });

  test('defaults: no stale windows, jitter 0.1, priority interactive, no deadline', () => {
    expect(resolveCachedOptions({ ttlMs: 10 })).toEqual({
      ttlMs: 10,
      ...DEFAULT_CACHED,
      deadlineMs: Infinity,
      signal: undefined,
    });
  });
});

describe('values that cannot be stored', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  test.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['a circular object', circular],
  ])('%s: BALLAST_INVALID_ARGUMENT naming the key, not the value; nothing is stored', async (_, value) => {
    const local = new MemoryStore(clock);
    const cache = createCacheAside({ store: local, clock });
    const result = await outcome(cache.cached('user:42', () => value, { ttlMs: 1_000 }));
    const error = 'error' in result ? (result.error as Error) : undefined;
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect(error?.message).toContain('"user:42"');
    expect(error?.message).not.toContain('self');
    expect(error?.message).not.toContain('10');
    expect(local.count('set')).toBe(0);
  });
});

describe('epochOffsetMs default', () => {
  test('with the system clock it is exact even when the cache is made late in a busy event-loop turn', async () => {
    await new Promise((r) => setImmediate(r));
    systemClock.now(); // the turn's first read: systemClock answers this time for the rest of the turn
    const busyUntil = performance.now() + 40;
    while (performance.now() < busyUntil) {
      // a busy turn
    }
    const o = resolveCacheAsideOptions({ store: new MemoryStore(systemClock) });
    // Date.now() ≈ epochOffsetMs + the precise time; off by the 40 ms turn if read from the per-turn clock.
    expect(Math.abs(o.epochOffsetMs + preciseClock.now() - Date.now())).toBeLessThan(5);
  });
});

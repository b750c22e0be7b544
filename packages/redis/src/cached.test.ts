import { isBallastError } from '@ballast/core';
import { flushMicrotasks, ManualClock } from '@ballast/core/testing';
import { describe, expect, test } from 'vitest';
import { createCacheAside } from './cached.js';
import { ControlledLoader, MemoryStore, outcome } from './cached.test-helpers.js';
import { encodeEnvelope } from './cached-envelope.js';
import type { CacheAsideOptions } from './cached-options.js';

const T0 = 1_000_000;

function setup(options: Partial<CacheAsideOptions> = {}) {
  const clock = new ManualClock(T0);
  const store = new MemoryStore(clock);
  // epochOffsetMs 0: envelope times are the manual clock's; random 0: no jitter unless a test asks for it.
  const cache = createCacheAside({ store, clock, epochOffsetMs: 0, random: () => 0, ...options });
  return { clock, store, cache };
}

describe('cached: near cache → Redis → loader', () => {
  test('a miss calls the loader once, answers its value and stores an envelope in Redis for ttl + stale window', async () => {
    const { store, cache } = setup();
    const value = await cache.cached('k', () => ({ n: 1 }), {
      ttlMs: 1_000,
      staleWhileRevalidateMs: 200,
      staleIfErrorMs: 5_000,
    });
    expect(value).toEqual({ n: 1 });
    await flushMicrotasks();
    const set = store.log.find((entry) => entry.op === 'set');
    expect(set?.ttlMs).toBe(6_000); // 1,000 fresh + max(200, 5,000)
    expect(store.data.get('k')?.value).toBe(`b1:${T0 + 1_000}:${T0 + 1_200}:${T0 + 6_000}:{"n":1}`);
    expect(cache.stats().counts).toMatchObject({ calls: 1, loads: 1, loaded: 1, redisReads: 1 });
  });

  test('a fresh value is answered from the near cache without asking Redis or the loader', async () => {
    const { store, cache } = setup();
    let loads = 0;
    const loader = () => ++loads;
    await cache.cached('k', loader, { ttlMs: 60_000 });
    for (let i = 0; i < 5; i++) expect(await cache.cached('k', loader, { ttlMs: 60_000 })).toBe(1);
    expect(loads).toBe(1);
    expect(store.count('get')).toBe(1);
    expect(cache.stats().counts.nearHits).toBe(5);
  });

  test('another process (its own near cache) answers from Redis and fills its near cache', async () => {
    const { clock, store, cache } = setup();
    await cache.cached('k', () => 'v', { ttlMs: 60_000 });
    await flushMicrotasks();
    const other = createCacheAside({ store, clock, epochOffsetMs: 0 });
    const loader = () => {
      throw new Error('not called');
    };
    expect(await other.cached('k', loader, { ttlMs: 60_000 })).toBe('v');
    expect(await other.cached('k', loader, { ttlMs: 60_000 })).toBe('v');
    expect(other.stats().counts).toMatchObject({ redisHits: 1, nearHits: 1, loads: 0 });
  });

  test('the near cache asks Redis again after nearCache.ttlMs, and sees another process invalidate', async () => {
    const { clock, store, cache } = setup({ nearCache: { ttlMs: 1_000 } });
    const other = createCacheAside({ store, clock, epochOffsetMs: 0 });
    let version = 0;
    const loader = () => `v${++version}`;
    expect(await cache.cached('k', loader, { ttlMs: 60_000 })).toBe('v1');
    await other.invalidate('k');
    clock.advance(999);
    expect(await cache.cached('k', loader, { ttlMs: 60_000 })).toBe('v1'); // still within the near TTL
    clock.advance(1);
    expect(await cache.cached('k', loader, { ttlMs: 60_000 })).toBe('v2');
  });

  test('with the near cache off every call reads Redis, and a value is still loaded once', async () => {
    const { store, cache } = setup({ nearCache: false });
    let loads = 0;
    for (let i = 0; i < 3; i++) {
      expect(await cache.cached('k', () => ++loads, { ttlMs: 60_000 })).toBe(1);
      await flushMicrotasks(); // let the flight end: a caller arriving while it is in progress shares its answer
    }
    expect(loads).toBe(1);
    expect(store.count('get')).toBe(3);
    expect(cache.stats().nearCacheSize).toBe(0);
  });

  test('every answer is the serializer’s copy: loaded, from Redis or from memory, a Date reads back as a string', async () => {
    const { cache } = setup();
    const date = new Date(0);
    const first = await cache.cached('k', () => ({ at: date }), { ttlMs: 60_000 });
    expect(first).toEqual({ at: '1970-01-01T00:00:00.000Z' });
    expect(await cache.cached('k', () => ({ at: date }), { ttlMs: 60_000 })).toBe(first);
  });

  test('a custom serializer is used both ways', async () => {
    const serializer = {
      serialize: (value: unknown) => `<${String(value)}>`,
      deserialize: (text: string) => text.slice(1, -1),
    };
    const { store, cache } = setup({ serializer });
    expect(await cache.cached('k', () => 'x', { ttlMs: 1_000 })).toBe('x');
    await flushMicrotasks();
    expect(store.data.get('k')?.value.endsWith(':<x>')).toBe(true);
  });

  test('a value of null is cached like any other', async () => {
    const { cache } = setup();
    let loads = 0;
    const loader = () => {
      loads++;
      return null;
    };
    expect(await cache.cached('k', loader, { ttlMs: 1_000 })).toBeNull();
    expect(await cache.cached('k', loader, { ttlMs: 1_000 })).toBeNull();
    expect(loads).toBe(1);
  });
});

describe('cached: what Redis holds', () => {
  test('a corrupt envelope is a miss, reported in an event, and overwritten by the load', async () => {
    const { store, cache } = setup();
    const events: unknown[] = [];
    cache.on('corrupt', (e) => events.push(e));
    store.data.set('a', { value: 'not an envelope', expiresAt: Infinity });
    store.data.set('b', {
      value: `b1:${T0 + 10_000}:${T0 + 10_000}:${T0 + 10_000}:{broken`,
      expiresAt: Infinity,
    });
    expect(await cache.cached('a', () => 1, { ttlMs: 1_000 })).toBe(1);
    expect(await cache.cached('b', () => 2, { ttlMs: 1_000 })).toBe(2);
    expect(events).toEqual([
      { name: 'cached', key: 'a', reason: 'format' },
      { name: 'cached', key: 'b', reason: 'deserialize' },
    ]);
    await flushMicrotasks();
    expect(store.data.get('a')?.value.startsWith('b1:')).toBe(true);
    expect(cache.stats().counts.corrupt).toBe(2);
  });

  test('a failed Redis write does not fail the call; it is counted and reported', async () => {
    const { store, cache } = setup();
    store.failWrites = true;
    const events: unknown[] = [];
    cache.on('store-error', (e) => events.push(e));
    expect(await cache.cached('k', () => 'v', { ttlMs: 1_000 })).toBe('v');
    await flushMicrotasks();
    expect(events).toEqual([{ name: 'cached', key: 'k', op: 'set', code: 'EWRITE' }]);
    expect(cache.stats().counts.storeErrors).toBe(1);
  });

  test('a Redis read is bounded by redisTimeoutMs: a hung Redis costs that long, then the loader answers', async () => {
    const { clock, store, cache } = setup({ redisTimeoutMs: 100 });
    store.mode = 'hang';
    const answer = outcome(cache.cached('k', () => 'loaded', { ttlMs: 1_000 }));
    await clock.advanceAsync(99);
    expect(cache.stats().counts.loads).toBe(0);
    await clock.advanceAsync(3); // the deadline wheel ticks every 2 ms
    expect(await answer).toEqual({ value: 'loaded' });
    expect(store.log[0]?.options?.deadlineMs).toBe(100);
  });

  test('a Redis read takes at most half the call’s deadline: a hung Redis still leaves the loader time', async () => {
    const { clock, store, cache } = setup({ redisTimeoutMs: 1_000 });
    store.mode = 'hang';
    const answer = outcome(cache.cached('k', () => 'loaded', { ttlMs: 1_000, deadlineMs: 50 }));
    await clock.advanceAsync(24);
    expect(cache.stats().counts.loads).toBe(0);
    await clock.advanceAsync(6); // the read is abandoned at 25 ms (wheel ticks every 2 ms), then the loader runs
    expect(await answer).toEqual({ value: 'loaded' });
    expect(store.log[0]?.options?.deadlineMs).toBe(25);
  });

  test('a slow loader still cannot outlive the call’s deadline', async () => {
    const { clock, store, cache } = setup({ redisTimeoutMs: 1_000 });
    store.mode = 'hang';
    const answer = outcome(
      cache.cached('k', () => new Promise<string>(() => {}), { ttlMs: 1_000, deadlineMs: 50 }),
    );
    await clock.advanceAsync(60);
    const result = await answer;
    expect('error' in result && isBallastError(result.error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
  });

  test('invalidate removes the key here and in Redis; the next call loads again', async () => {
    const { store, cache } = setup();
    let loads = 0;
    await cache.cached('k', () => ++loads, { ttlMs: 60_000 });
    await cache.invalidate('k');
    expect(store.data.has('k')).toBe(false);
    expect(await cache.cached('k', () => ++loads, { ttlMs: 60_000 })).toBe(2);
  });

  test('invalidate during a load: its callers get the value, it is not stored, later callers load again', async () => {
    const { store, cache } = setup();
    const loader = new ControlledLoader();
    const first = cache.cached('k', loader.for('k'), { ttlMs: 60_000 });
    await flushMicrotasks();
    const invalidated = cache.invalidate('k');
    const second = cache.cached('k', loader.for('k'), { ttlMs: 60_000 });
    await flushMicrotasks();
    expect(loader.calls).toHaveLength(1); // the second caller waits for the invalidated load to end
    loader.last().done.resolve('old');
    expect(await first).toBe('old');
    await invalidated;
    await flushMicrotasks();
    expect(loader.calls).toHaveLength(2);
    expect(store.data.has('k')).toBe(false);
    loader.last().done.resolve('new');
    expect(await second).toBe('new');
    expect(loader.maxInflight.get('k')).toBe(1);
  });

  test('invalidate rejects when the Redis delete fails, after clearing the near cache', async () => {
    const { store, cache } = setup();
    await cache.cached('k', () => 1, { ttlMs: 60_000 });
    store.mode = 'fail';
    await expect(cache.invalidate('k')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    store.mode = 'ok';
    store.data.clear();
    expect(await cache.cached('k', () => 2, { ttlMs: 60_000 })).toBe(2);
  });

  test('an envelope written by a process whose clock is ahead stays fresh no longer than Redis keeps it', async () => {
    const { clock, store, cache } = setup({ nearCache: false });
    store.data.set('k', {
      value: encodeEnvelope({ freshUntil: T0 + 1e9, swrUntil: T0 + 1e9, errorUntil: T0 + 1e9 }, '1'),
      expiresAt: T0 + 500,
    });
    expect(await cache.cached('k', () => 2, { ttlMs: 1_000 })).toBe(1);
    await flushMicrotasks();
    clock.advance(500);
    expect(await cache.cached('k', () => 2, { ttlMs: 1_000 })).toBe(2);
  });
});

describe('cached: a loader that never settles and ignores its signal', () => {
  test('holds its key only so long: a caller without a deadline gets a fresh Redis value, or an error — never a hang', async () => {
    const { clock, store, cache } = setup();
    const never = () => new Promise<string>(() => {});
    // The first caller's loader overruns its 1 s deadline and keeps the key (one loader call at a time).
    const first = outcome(cache.cached('k', never, { ttlMs: 60_000, deadlineMs: 1_000 }));
    await clock.advanceAsync(1_010);
    expect('error' in (await first)).toBe(true);
    // A caller with no deadline, while nothing is in Redis: an error after the stuck-loader wait, not forever.
    const second = outcome(cache.cached('k', () => 'never called', { ttlMs: 60_000 }));
    await clock.advanceAsync(30_010);
    const r2 = await second;
    expect('error' in r2 && isBallastError(r2.error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    // Another process stores a fresh value: the next waiting caller answers it after the wait, no second loader.
    store.data.set('k', {
      value: encodeEnvelope(
        { freshUntil: T0 + 1e9, swrUntil: T0 + 1e9, errorUntil: T0 + 1e9 },
        '"from redis"',
      ),
      expiresAt: Number.POSITIVE_INFINITY,
    });
    let loads = 0;
    const third = outcome(cache.cached('k', () => `loaded ${++loads}`, { ttlMs: 60_000 }));
    await clock.advanceAsync(30_010);
    expect(await third).toEqual({ value: 'from redis' });
    expect(loads).toBe(0);
  });
});

import { isBallastError } from '@ballast/core';
import { flushMicrotasks, ManualClock } from '@ballast/core/testing';
import { describe, expect, test } from 'vitest';
import { type CacheAside, createCacheAside } from './cached.js';
import { ControlledLoader, MemoryStore, outcome } from './cached.test-helpers.js';
import type { CacheAsideEvents } from './cached-events.js';
import type { CacheAsideOptions } from './cached-options.js';

const T0 = 1_000_000;
const STALE = { ttlMs: 1_000, staleWhileRevalidateMs: 500, staleIfErrorMs: 5_000 };

function setup(options: Partial<CacheAsideOptions> = {}) {
  const clock = new ManualClock(T0);
  const store = new MemoryStore(clock);
  const cache = createCacheAside({ store, clock, epochOffsetMs: 0, random: () => 0, ...options });
  const fallbacks: CacheAsideEvents['fallback'][] = [];
  cache.on('fallback', (e) => fallbacks.push(e));
  return { clock, store, cache, fallbacks };
}

/** Loads 'v1' at 'k' and lets the flight end (a caller arriving while it ends would share its answer). */
async function prime(cache: CacheAside): Promise<void> {
  await cache.cached('k', () => 'v1', STALE);
  await flushMicrotasks();
}

/** 'v1' loaded at 'k'; then Redis fails and `ms` pass. */
async function outage(ms: number, options: Partial<CacheAsideOptions> = {}) {
  const s = setup(options);
  await prime(s.cache);
  s.store.mode = 'fail';
  s.clock.advance(ms);
  return s;
}

const fail = (message: string) => () => Promise.reject(new Error(message));

describe('stale-while-revalidate', () => {
  test('past ttlMs the old value is answered at once and one refresh runs in the background', async () => {
    const { clock, store, cache } = setup();
    await prime(cache);
    clock.advance(1_000);
    const loader = new ControlledLoader();
    for (let i = 0; i < 10; i++) expect(await cache.cached('k', loader.for('k'), STALE)).toBe('v1');
    await flushMicrotasks();
    expect(loader.calls).toHaveLength(1);
    loader.last().done.resolve('v2');
    await flushMicrotasks();
    expect(await cache.cached('k', loader.for('k'), STALE)).toBe('v2');
    expect(store.data.get('k')?.value.endsWith(':"v2"')).toBe(true);
    expect(cache.stats().counts).toMatchObject({ staleRevalidate: 10, refreshes: 1, loads: 2 });
  });

  test('the background refresh runs at priority background', async () => {
    const { clock, store, cache } = setup();
    await prime(cache);
    clock.advance(1_000);
    await cache.cached('k', () => 'v2', STALE);
    await flushMicrotasks();
    expect(store.log.filter((e) => e.op === 'get').map((e) => e.options?.priority)).toEqual([
      'interactive',
      'background',
    ]);
  });

  test('past the revalidate window the caller waits for the loader', async () => {
    const { clock, cache } = setup();
    await prime(cache);
    clock.advance(1_500);
    expect(await cache.cached('k', () => 'v2', STALE)).toBe('v2');
  });

  test('works across processes: a stale envelope in Redis is answered at once while this process refreshes it', async () => {
    const { clock, store, cache } = setup();
    await prime(cache);
    clock.advance(1_200);
    const other = createCacheAside({ store, clock, epochOffsetMs: 0, nearCache: false });
    const loader = new ControlledLoader();
    expect(await other.cached('k', loader.for('k'), STALE)).toBe('v1');
    expect(await other.cached('k', loader.for('k'), STALE)).toBe('v1');
    expect(loader.calls).toHaveLength(1);
    loader.last().done.resolve('v2');
    await flushMicrotasks();
    expect(await other.cached('k', loader.for('k'), STALE)).toBe('v2');
  });

  test('a failed refresh leaves the old value answering within the window, and is reported', async () => {
    const { clock, cache } = setup();
    const loads: CacheAsideEvents['load'][] = [];
    cache.on('load', (e) => loads.push(e));
    await prime(cache);
    clock.advance(1_000);
    expect(await cache.cached('k', fail('db down'), STALE)).toBe('v1');
    await flushMicrotasks();
    expect(await cache.cached('k', () => 'v2', STALE)).toBe('v1'); // a new refresh starts; this caller is answered first
    await flushMicrotasks();
    expect(loads.map((e) => [e.ok, e.background])).toEqual([
      [true, false],
      [false, true],
      [true, true],
    ]);
  });
});

describe('stale-if-error', () => {
  test('when the loader fails, a value within staleIfErrorMs of its freshness is answered instead', async () => {
    const { clock, cache, fallbacks } = setup();
    await prime(cache);
    clock.advance(2_000);
    expect(await cache.cached('k', fail('db down'), STALE)).toBe('v1');
    expect(fallbacks).toEqual([{ name: 'cached', key: 'k', cause: 'loader', staleMs: 1_000 }]);
    clock.advance(4_000); // 6,000 ms after the load: past 1,000 + 5,000
    const late = await outcome(cache.cached('k', fail('db down'), STALE));
    expect(late).toMatchObject({ error: { message: 'db down' } });
  });

  test('a stale envelope in Redis answers for a loader that fails, in another process too', async () => {
    const { clock, store, cache } = setup();
    await prime(cache);
    clock.advance(3_000);
    const other = createCacheAside({ store, clock, epochOffsetMs: 0 });
    expect(await other.cached('k', fail('db down'), STALE)).toBe('v1');
  });

  test('a value the loader returns that cannot be serialized is never masked by an older one', async () => {
    const { clock, cache } = setup();
    await prime(cache);
    clock.advance(2_000);
    const result = await outcome(cache.cached('k', () => undefined, STALE));
    expect('error' in result && isBallastError(result.error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
  });

  test('a caller whose deadline passes while the loader runs gets the older value if one is allowed', async () => {
    const { clock, cache, fallbacks } = setup();
    await prime(cache);
    clock.advance(2_000);
    const loader = new ControlledLoader();
    const answer = outcome(cache.cached('k', loader.for('k'), { ...STALE, deadlineMs: 100 }));
    const bare = outcome(cache.cached('x', loader.for('x'), { ...STALE, deadlineMs: 100 }));
    await clock.advanceAsync(110);
    expect(await answer).toEqual({ value: 'v1' });
    expect(fallbacks.map((e) => e.cause)).toEqual(['deadline']);
    const result = await bare;
    expect('error' in result && isBallastError(result.error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
  });
});

describe('Redis down', () => {
  test('a value held here is answered without calling the loader, even past the near TTL', async () => {
    // The near TTL has passed, the value's own ttlMs has not.
    const { clock, cache, fallbacks } = await outage(500, { nearCache: { ttlMs: 100 } });
    expect(await cache.cached('k', fail('loader must not run'), STALE)).toBe('v1');
    clock.advance(1_500); // now stale, within staleIfErrorMs
    expect(await cache.cached('k', fail('loader must not run'), STALE)).toBe('v1');
    expect(fallbacks.map((e) => [e.cause, e.staleMs])).toEqual([
      ['redis', -500],
      ['redis', 1_000],
    ]);
    expect(cache.stats().counts).toMatchObject({ loads: 1, fallbacks: 2, storeErrors: 2 });
  });

  test('past staleIfErrorMs, or with nothing held, the loader answers', async () => {
    const { cache } = await outage(6_000);
    expect(await cache.cached('k', () => 'v2', STALE)).toBe('v2');
    expect(await cache.cached('other', () => 'o', STALE)).toBe('o');
  });

  test('with the near cache off, every key goes to the loader (under its policy)', async () => {
    const { store, cache } = setup({ nearCache: false });
    store.mode = 'fail';
    expect(await cache.cached('k', () => 'v', STALE)).toBe('v');
    expect(cache.stats().loader.counts.calls).toBe(1);
  });

  test('a SWR refresh during the outage still refreshes through the loader', async () => {
    const { cache } = await outage(1_000);
    expect(await cache.cached('k', () => 'v2', STALE)).toBe('v1');
    await flushMicrotasks();
    expect(await cache.cached('k', () => 'v3', STALE)).toBe('v2');
  });
});

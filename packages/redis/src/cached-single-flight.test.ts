import { isBallastError } from '@ballast/core';
import { flushMicrotasks, ManualClock } from '@ballast/core/testing';
import { describe, expect, test } from 'vitest';
import { createCacheAside } from './cached.js';
import { ControlledLoader, MemoryStore, outcome } from './cached.test-helpers.js';
import type { CacheAsideOptions } from './cached-options.js';

const T0 = 1_000_000;

function setup(options: Partial<CacheAsideOptions> = {}) {
  const clock = new ManualClock(T0);
  const store = new MemoryStore(clock);
  const cache = createCacheAside({ store, clock, epochOffsetMs: 0, random: () => 0, ...options });
  return { clock, store, cache, loader: new ControlledLoader() };
}

describe.each([
  ['near cache on', {}],
  ['near cache off', { nearCache: false as const }],
])('single-flight (%s)', (_, options) => {
  test('100 concurrent callers of one key: one Redis read, one loader call, every caller answered', async () => {
    const { store, cache, loader } = setup(options);
    const answers = Array.from({ length: 100 }, () => cache.cached('k', loader.for('k'), { ttlMs: 1_000 }));
    await flushMicrotasks();
    expect(loader.calls).toHaveLength(1);
    loader.last().done.resolve('v');
    expect(await Promise.all(answers)).toEqual(Array(100).fill('v'));
    expect(store.count('get')).toBe(1);
    expect(cache.stats().counts).toMatchObject({ calls: 100, loads: 1, loaded: 100, redisReads: 1 });
  });

  test('a loader error reaches every waiting caller; the next call loads again', async () => {
    const { cache, loader } = setup(options);
    const answers = Array.from({ length: 5 }, () =>
      outcome(cache.cached('k', loader.for('k'), { ttlMs: 1_000 })),
    );
    await flushMicrotasks();
    const error = new Error('db down');
    loader.last().done.reject(error);
    for (const answer of await Promise.all(answers)) expect(answer).toEqual({ error });
    const next = cache.cached('k', loader.for('k'), { ttlMs: 1_000 });
    await flushMicrotasks();
    loader.last().done.resolve('v');
    expect(await next).toBe('v');
    expect(loader.calls).toHaveLength(2);
    expect(cache.stats().counts.errors).toBe(5);
  });

  test('different keys load side by side', async () => {
    const { cache, loader } = setup(options);
    const a = cache.cached('a', loader.for('a'), { ttlMs: 1_000 });
    const b = cache.cached('b', loader.for('b'), { ttlMs: 1_000 });
    await flushMicrotasks();
    expect(loader.calls.map((c) => c.key)).toEqual(['a', 'b']);
    loader.last('b').done.resolve('B');
    loader.last('a').done.resolve('A');
    expect([await a, await b]).toEqual(['A', 'B']);
  });
});

describe('single-flight and deadlines', () => {
  test('a caller whose signal aborts leaves alone; the load goes on for the others', async () => {
    const { cache, loader } = setup();
    const controller = new AbortController();
    const leaving = outcome(cache.cached('k', loader.for('k'), { ttlMs: 1_000, signal: controller.signal }));
    const staying = cache.cached('k', loader.for('k'), { ttlMs: 1_000 });
    await flushMicrotasks();
    controller.abort(new Error('client went away'));
    const left = await leaving;
    expect('error' in left && isBallastError(left.error, 'BALLAST_ABORTED')).toBe(true);
    expect(loader.last().signal.aborted).toBe(false);
    loader.last().done.resolve('v');
    expect(await staying).toBe('v');
  });

  test('the load runs under the deadline of the caller that started it; a caller with more time goes again', async () => {
    const { clock, cache, loader } = setup();
    const short = outcome(cache.cached('k', loader.for('k'), { ttlMs: 1_000, deadlineMs: 100 }));
    await flushMicrotasks();
    const long = outcome(cache.cached('k', loader.for('k'), { ttlMs: 1_000, deadlineMs: 1_000 }));
    await clock.advanceAsync(110);
    const first = await short;
    expect('error' in first && isBallastError(first.error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect(loader.calls[0]?.signal.aborted).toBe(true);
    // The first loader ignores its signal: the key stays taken until it ends, so no second call starts beside it.
    expect(loader.calls).toHaveLength(1);
    loader.calls[0]?.done.resolve('late');
    await flushMicrotasks();
    expect(loader.calls).toHaveLength(2);
    loader.last().done.resolve('v');
    expect(await long).toEqual({ value: 'v' });
    expect(loader.maxInflight.get('k')).toBe(1);
  });

  test('a spent deadline (0) fails a miss at once without calling the loader, but a held value still answers', async () => {
    const { cache } = setup();
    let loads = 0;
    const result = await outcome(cache.cached('k', () => ++loads, { ttlMs: 1_000, deadlineMs: 0 }));
    expect('error' in result && isBallastError(result.error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect(loads).toBe(0);
    await cache.cached('k', () => ++loads, { ttlMs: 1_000 });
    expect(await cache.cached('k', () => ++loads, { ttlMs: 1_000, deadlineMs: 0 })).toBe(1);
  });

  test('loader calls across keys stay within the loader policy’s limit; the rest queue', async () => {
    const { cache, loader } = setup({ loaderPolicy: { limiter: { limit: 2 } } });
    const answers = ['a', 'b', 'c', 'd', 'e'].map((key) =>
      cache.cached(key, loader.for(key), { ttlMs: 1_000 }),
    );
    await flushMicrotasks();
    expect(loader.calls).toHaveLength(2);
    expect(cache.stats().loader.limiter?.queued).toBe(3);
    for (let i = 0; i < 5; i++) {
      loader.calls[i]?.done.resolve(`v${i}`);
      await flushMicrotasks();
    }
    expect(await Promise.all(answers)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  test('a Policy instance may be shared as the loader policy', async () => {
    const { createPolicy } = await import('@ballast/core');
    const policy = createPolicy({ name: 'db', retry: false });
    const { cache } = setup({ loaderPolicy: policy });
    expect(cache.loaderPolicy).toBe(policy);
    expect(await cache.cached('k', () => 1, { ttlMs: 1_000 })).toBe(1);
    expect(policy.stats().counts.calls).toBe(1);
  });
});

import { describe, expect, test } from 'vitest';
import type { CacheEntry } from './cached-envelope.js';
import { NearCache } from './near-cache.js';

const entry = (value: unknown, freshUntil: number, errorUntil = freshUntil, size = 1): CacheEntry => ({
  value,
  freshUntil,
  swrUntil: freshUntil,
  errorUntil,
  size,
});

describe('NearCache', () => {
  test('answers without asking Redis until the earlier of the value’s freshness and the near TTL', () => {
    const near = new NearCache({ max: 10, ttlMs: 100, maxSize: undefined });
    near.set('long', entry(1, 10_000), 0);
    near.set('short', entry(2, 50), 0);
    expect(near.get('long', 0)?.checkedUntil).toBe(100);
    expect(near.get('short', 0)?.checkedUntil).toBe(50);
  });

  test('drops a value once it is past its last useful moment (errorUntil)', () => {
    const near = new NearCache({ max: 10, ttlMs: 100, maxSize: undefined });
    near.set('k', entry(1, 10, 20), 0);
    expect(near.get('k', 19)?.entry.value).toBe(1);
    expect(near.get('k', 20)).toBeUndefined();
    expect(near.size).toBe(0);
    near.set('k', entry(1, 10, 20), 20); // already useless: not held
    expect(near.size).toBe(0);
  });

  test('evicts the least recently used beyond max', () => {
    const near = new NearCache({ max: 2, ttlMs: 100, maxSize: undefined });
    near.set('a', entry('a', 1_000), 0);
    near.set('b', entry('b', 1_000), 0);
    near.get('a', 0);
    near.set('c', entry('c', 1_000), 0);
    expect([near.get('a', 0), near.get('b', 0), near.get('c', 0)].map((r) => r?.entry.value)).toEqual([
      'a',
      undefined,
      'c',
    ]);
  });

  test('maxSize bounds the summed serialized size; a value larger than it is not held', () => {
    const near = new NearCache({ max: 100, ttlMs: 100, maxSize: 10 });
    near.set('a', entry('a', 1_000, 1_000, 6), 0);
    near.set('b', entry('b', 1_000, 1_000, 6), 0);
    expect(near.get('a', 0)).toBeUndefined();
    near.set('huge', entry('h', 1_000, 1_000, 11), 0);
    expect(near.get('huge', 0)).toBeUndefined();
    expect(near.get('b', 0)?.entry.value).toBe('b');
  });
});

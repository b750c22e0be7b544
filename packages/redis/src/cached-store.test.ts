import { createPolicy } from '@ballast/core';
import { flushMicrotasks, ManualClock } from '@ballast/core/testing';
import { describe, expect, test } from 'vitest';
import { deferred, MemoryStore } from './cached.test-helpers.js';
import { CacheAsideObserver } from './cached-events.js';
import { EnvelopeStore, STORE_FAILED } from './cached-store.js';
import { jsonSerializer } from './serializer.js';

function setup(timeoutMs = Infinity) {
  const clock = new ManualClock(1_000);
  const memory = new MemoryStore(clock);
  const observer = new CacheAsideObserver('cached');
  const bound = createPolicy({ clock, breaker: false, limiter: false, retry: false });
  const store = new EnvelopeStore(memory, jsonSerializer, bound, clock, timeoutMs, observer);
  return { clock, memory, observer, store };
}

describe('EnvelopeStore', () => {
  test('read tells a miss, a failure and an unreadable value apart, and never throws', async () => {
    const { memory, observer, store } = setup();
    expect(await store.read('none', Infinity, 'interactive')).toBeUndefined();
    memory.data.set('junk', { value: 'junk', expiresAt: Infinity });
    expect(await store.read('junk', Infinity, 'interactive')).toBeUndefined();
    memory.mode = 'fail';
    expect(await store.read('any', Infinity, 'interactive')).toBe(STORE_FAILED);
    expect(observer.counts).toMatchObject({ redisReads: 3, corrupt: 1, storeErrors: 1 });
  });

  test('a value that is not a string (a Buffer from a custom store) is unreadable, not a crash', async () => {
    const { memory, store } = setup();
    memory.getRaw = () => Promise.resolve(Buffer.from('b1:1:1:1:1') as unknown as string);
    expect(await store.read('k', Infinity, 'interactive')).toBeUndefined();
  });

  test('write stores for as long as the entry is of use; remove waits for a write still in progress', async () => {
    const { memory, store } = setup();
    const gate = deferred<void>();
    const setRaw = memory.setRaw.bind(memory);
    memory.setRaw = async (...args) => {
      await gate.promise;
      return setRaw(...args);
    };
    store.write(
      'k',
      { value: 1, freshUntil: 2_000, swrUntil: 2_000, errorUntil: 5_000, size: 1 },
      '1',
      1_000,
      'batch',
    );
    const removed = store.remove('k', {});
    await flushMicrotasks();
    expect(memory.count('del')).toBe(0);
    gate.resolve();
    await removed;
    expect(memory.log.map((e) => [e.op, e.ttlMs])).toEqual([
      ['set', 4_000],
      ['del', undefined],
    ]);
    expect(memory.data.has('k')).toBe(false);
  });

  test('a failed write is reported, not thrown; a failed delete is both', async () => {
    const { memory, observer, store } = setup();
    memory.mode = 'fail';
    store.write(
      'k',
      { value: 1, freshUntil: 2_000, swrUntil: 2_000, errorUntil: 2_000, size: 1 },
      '1',
      1_000,
      'batch',
    );
    await flushMicrotasks();
    await expect(store.remove('k', {})).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(observer.counts.storeErrors).toBe(2);
  });
});

import { isBallastError } from '@ballast/core';
import { flushMicrotasks, ManualClock } from '@ballast/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCacheAside } from './cached.js';
import { ControlledLoader, MemoryStore, outcome, type StoreMode } from './cached.test-helpers.js';
import { entryTimes } from './cached-envelope.js';

const KEYS = ['a', 'b', 'c'] as const;
const key = fc.constantFrom(...KEYS);

type Op =
  | { t: 'call'; key: string; deadlineMs: number; withSignal: boolean }
  | { t: 'settle'; i: number; how: 'resolve' | 'reject' | 'ignore' }
  | { t: 'abort'; i: number }
  | { t: 'advance'; ms: number }
  | { t: 'store'; mode: StoreMode }
  | { t: 'invalidate'; key: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('call' as const),
      key,
      deadlineMs: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(Number.POSITIVE_INFINITY)),
      withSignal: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('settle' as const),
      i: fc.nat(),
      how: fc.constantFrom('resolve' as const, 'reject' as const, 'ignore' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), i: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('store' as const),
      mode: fc.constantFrom<StoreMode>('ok', 'fail', 'hang'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('invalidate' as const), key }) },
);

const config = fc.record({
  nearCache: fc.boolean(),
  ttlMs: fc.integer({ min: 1, max: 500 }),
  staleWhileRevalidateMs: fc.integer({ min: 0, max: 500 }),
  staleIfErrorMs: fc.integer({ min: 0, max: 1_000 }),
  jitter: fc.double({ min: 0, max: 0.99, noNaN: true }),
  loaderLimit: fc.integer({ min: 1, max: 3 }),
});

describe('cached() properties', () => {
  it('at most one loader call per key at any time; every caller gets a value the loader produced for its key, or an error', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(op, { maxLength: 50 }), async (cfg, ops) => {
        const clock = new ManualClock(1_000_000);
        const store = new MemoryStore(clock);
        const cache = createCacheAside({
          store,
          clock,
          epochOffsetMs: 0,
          redisTimeoutMs: 50,
          nearCache: cfg.nearCache ? { ttlMs: 100 } : false,
          loaderPolicy: { limiter: { limit: cfg.loaderLimit } },
        });
        const loader = new ControlledLoader();
        const produced = new Set<string>();
        const results: Promise<{ key: string; result: { value: string } | { error: unknown } }>[] = [];
        const controllers: AbortController[] = [];
        let n = 0;
        const settle = (i: number, how: 'resolve' | 'reject') => {
          const call = loader.calls[i % Math.max(1, loader.calls.length)];
          if (call === undefined) return;
          const value = `${call.key}#${++n}`;
          produced.add(value);
          if (how === 'resolve') call.done.resolve(value);
          else call.done.reject(new Error('loader failed'));
        };
        for (const o of ops) {
          if (o.t === 'call') {
            const controller = new AbortController();
            controllers.push(controller);
            const { ttlMs, staleWhileRevalidateMs, staleIfErrorMs, jitter } = cfg;
            const promise = cache.cached(o.key, loader.for(o.key), {
              ttlMs,
              staleWhileRevalidateMs,
              staleIfErrorMs,
              jitter,
              deadlineMs: o.deadlineMs,
              ...(o.withSignal && { signal: controller.signal }),
            });
            results.push(outcome(promise).then((result) => ({ key: o.key, result })));
          } else if (o.t === 'settle') {
            if (o.how !== 'ignore') settle(o.i, o.how);
          } else if (o.t === 'abort') controllers[o.i % Math.max(1, controllers.length)]?.abort();
          else if (o.t === 'advance') await clock.advanceAsync(o.ms);
          else if (o.t === 'store') store.mode = o.mode;
          else void cache.invalidate(o.key).catch(() => undefined);
          await flushMicrotasks();
          for (const k of KEYS) expect(loader.inflight.get(k) ?? 0).toBeLessThanOrEqual(1);
        }
        // Let everything end: Redis answers, every loader call still open resolves, deadlines pass.
        store.mode = 'ok';
        for (let round = 0; round < 5; round++) {
          for (let i = 0; i < loader.calls.length; i++) settle(i, 'resolve');
          await clock.advanceAsync(400);
        }
        for (const k of KEYS) expect(loader.maxInflight.get(k) ?? 0).toBeLessThanOrEqual(1);
        const settled = await Promise.all(results);
        expect(settled).toHaveLength(ops.filter((o) => o.t === 'call').length);
        for (const { key: k, result } of settled) {
          if ('value' in result) {
            expect(produced.has(result.value)).toBe(true);
            expect(result.value.startsWith(`${k}#`)).toBe(true);
          } else {
            const error = result.error;
            expect(isBallastError(error) || (error as Error).message === 'loader failed').toBe(true);
          }
        }
        expect(cache.stats().inflight).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('jitter keeps each fresh TTL within [ttlMs × (1 − jitter), ttlMs], and the stale windows follow it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (now, ttl, swr, sie, jitter, random) => {
          const t = entryTimes(now, ttl, swr, sie, jitter, random);
          const fresh = t.freshUntil - now;
          expect(fresh).toBeGreaterThanOrEqual(Math.min(ttl, Math.floor(ttl * (1 - jitter))) - 1);
          expect(fresh).toBeLessThanOrEqual(ttl);
          expect(fresh).toBeGreaterThanOrEqual(0);
          expect(t.swrUntil - t.freshUntil).toBe(swr);
          expect(t.errorUntil - t.freshUntil).toBe(Math.max(swr, sie));
        },
      ),
    );
  });
});

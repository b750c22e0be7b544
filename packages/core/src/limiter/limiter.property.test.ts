import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';
import { type LimiterPermit, PRIORITIES, type Priority } from '../types.js';
import type { LimitAlgorithm } from './limit-algorithm.js';
import { createLimiter } from './limiter.js';

type Op =
  | { t: 'try'; p: Priority }
  | { t: 'acquire'; p: Priority; deadlineMs: number; withSignal: boolean }
  | { t: 'release'; i: number; outcome: 'success' | 'dropped' | 'ignore'; rttMs: number }
  | { t: 'double'; i: number }
  | { t: 'abort'; i: number }
  | { t: 'advance'; ms: number };

const priority = fc.constantFrom(...PRIORITIES);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('try' as const), p: priority }),
  fc.record({
    t: fc.constant('acquire' as const),
    p: priority,
    deadlineMs: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(Number.POSITIVE_INFINITY)),
    withSignal: fc.boolean(),
  }),
  fc.record({
    t: fc.constant('release' as const),
    i: fc.nat(),
    outcome: fc.constantFrom('success' as const, 'dropped' as const, 'ignore' as const),
    rttMs: fc.integer({ min: 0, max: 200 }),
  }),
  fc.record({ t: fc.constant('double' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('abort' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 150 }) }),
);

/** An algorithm whose limit follows a script, one step per sample: random limit changes, including fractions. */
function scripted(limits: number[]): LimitAlgorithm {
  let k = 0;
  let limit = limits[0] as number;
  return {
    get limit() {
      return limit;
    },
    onSample() {
      k++;
      limit = limits[k % limits.length] as number;
    },
  };
}

const config = fc.record({
  limits: fc.array(fc.double({ min: 0.5, max: 8, noNaN: true }), { minLength: 1, maxLength: 6 }),
  overdraft: fc.integer({ min: 0, max: 2 }),
  maxQueue: fc.integer({ min: 0, max: 6 }),
  codel: fc.boolean(),
  lifo: fc.constantFrom('adaptive' as const, true, false),
  serviceTime: fc.boolean(),
});

describe('limiter properties', () => {
  it('in-flight stays within the limit (+ criticalOverdraft for critical), every permit is released once, no waiter is lost or settled twice', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(op, { maxLength: 60 }), async (cfg, ops) => {
        const clock = new ManualClock();
        const limiter = createLimiter({
          clock,
          limit: scripted(cfg.limits),
          criticalOverdraft: cfg.overdraft,
          maxQueue: cfg.maxQueue,
          codel: cfg.codel ? { targetMs: 5, intervalMs: 20 } : false,
          lifo: cfg.lifo,
          expectedServiceTime: cfg.serviceTime ? {} : false,
        });
        const held: LimiterPermit[] = [];
        const released: LimiterPermit[] = [];
        const seen = new Set<LimiterPermit>();
        const controllers: AbortController[] = [];
        const settled: number[] = [];
        let doubles = 0;

        // Admissions happen synchronously inside an operation, and the limit only moves inside a release
        // before its admissions, so the effective limit at the end of the operation is the one they saw.
        // Checked in promise callbacks: failures are collected and rethrown by check(), so fast-check sees them.
        const violations: string[] = [];
        const admit = (permit: LimiterPermit) => {
          if (seen.has(permit)) violations.push('a permit was granted twice');
          seen.add(permit);
          const bound = limiter.stats().limit + (permit.priority === 0 ? cfg.overdraft : 0);
          if (permit.inflightAtStart > bound)
            violations.push(`admitted at in-flight ${permit.inflightAtStart} above ${bound}`);
          held.push(permit);
        };

        const check = () => {
          expect(violations).toEqual([]);
          const s = limiter.stats();
          expect(s.inflight).toBe(held.length);
          const byP = Object.values(s.inflightByPriority).reduce((a, b) => a + b, 0);
          expect(byP).toBe(s.inflight);
          expect(Object.values(s.queuedByPriority).reduce((a, b) => a + b, 0)).toBe(s.queued);
          expect(s.queued).toBeLessThanOrEqual(cfg.maxQueue);
          expect(s.doubleReleases).toBe(doubles);
          if (s.queued === 0) expect(clock.pendingTimers).toBe(0);
          expect(clock.pendingTimers).toBeLessThanOrEqual(1);
        };

        for (const o of ops) {
          switch (o.t) {
            case 'try': {
              const permit = limiter.tryAcquire(o.p);
              if (permit !== undefined) admit(permit);
              break;
            }
            case 'acquire': {
              const index = settled.length;
              settled.push(0);
              let signal: AbortSignal | undefined;
              if (o.withSignal) {
                const ac = new AbortController();
                controllers.push(ac);
                signal = ac.signal;
              }
              limiter.acquire(o.p, clock.now() + o.deadlineMs, signal).then(
                (permit) => {
                  settled[index] = (settled[index] as number) + 1;
                  admit(permit);
                },
                (error: unknown) => {
                  settled[index] = (settled[index] as number) + 1;
                  if (!isBallastError(error, 'BALLAST_SHED') && !isBallastError(error, 'BALLAST_ABORTED'))
                    violations.push(`unexpected rejection: ${String(error)}`);
                },
              );
              break;
            }
            case 'release': {
              if (held.length === 0) break;
              const [permit] = held.splice(o.i % held.length, 1);
              released.push(permit as LimiterPermit);
              limiter.release(permit as LimiterPermit, o.outcome, o.rttMs);
              break;
            }
            case 'double': {
              if (released.length === 0) break;
              limiter.release(released[o.i % released.length] as LimiterPermit, 'success', 1);
              doubles++;
              break;
            }
            case 'abort':
              if (controllers.length > 0) controllers[o.i % controllers.length]?.abort();
              break;
            case 'advance':
              clock.advance(o.ms);
              break;
          }
          await flushMicrotasks();
          check();
        }

        // Drain: release everything (which admits waiters), and let deadlines pass, until nothing is left.
        for (let round = 0; round < 1_000 && (held.length > 0 || limiter.queued > 0); round++) {
          while (held.length > 0) {
            const permit = held.pop() as LimiterPermit;
            limiter.release(permit, 'ignore', 0);
            await flushMicrotasks();
          }
          if (limiter.queued > 0) await clock.advanceAsync(1_000);
          check();
        }
        expect(limiter.inflight).toBe(0);
        expect(limiter.queued).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        expect(settled.every((n) => n === 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

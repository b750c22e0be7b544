import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { createRetryBudget } from '../retry/retry-budget.js';
import { createHedge } from './hedge.js';
import { type Plan, type Started, setup } from './run-hedged-harness.js';

const plans = fc.array(
  fc.record({ ms: fc.integer({ min: 0, max: 200 }), ok: fc.boolean(), ignoresAbort: fc.boolean() }),
  { minLength: 4, maxLength: 4 },
);

describe('runHedged properties', () => {
  it('settles exactly once, with the first success, aborts every loser, releases every admit once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        plans,
        async (delayMs, maxHedges, budgetSize, admitCapacity, plan) => {
          const budget =
            budgetSize === undefined
              ? false
              : createRetryBudget({ ratio: 0, minRetriesPerSec: budgetSize / 10, windowMs: 10_000 });
          const hedge = createHedge({ delayMs, maxHedges, budget });
          const { manual, clock, started, outcome, live } = setup(hedge, plan, { admitCapacity });
          await manual.advanceAsync(2_000);

          expect(outcome.settled).toBe(1);
          expect(clock.pending.size).toBe(0);
          expect(started.length).toBeLessThanOrEqual(1 + Math.min(maxHedges, budgetSize ?? 3));
          started.forEach((s, i) => {
            expect(s.index).toBe(i);
            expect(s.at).toBe(i * delayMs);
          });
          if (outcome.error === undefined) {
            const winner = started[outcome.value as number] as Started;
            expect((plan[winner.index] as Plan).ok).toBe(true);
            for (const s of started) {
              if (s === winner) expect(s.signal.aborted).toBe(false);
              else {
                expect(s.signal.aborted).toBe(true);
                // No other attempt succeeded earlier.
                if (s.endedAt !== undefined && (plan[s.index] as Plan).ok)
                  expect(s.endedAt).toBeGreaterThanOrEqual(winner.endedAt as number);
              }
            }
          } else {
            expect(started.every((s) => !(plan[s.index] as Plan).ok && s.endedAt !== undefined)).toBe(true);
            expect(started.some((s) => s.signal.aborted)).toBe(false);
            // A failure settles only when nothing runs any more.
            expect(outcome.runningAtSettle).toBe(0);
          }

          // `done` once, when the last started attempt settled.
          expect(outcome.done).toBe(1);
          expect(outcome.runningAtDone).toBe(0);
          expect(outcome.doneAt).toBe(Math.max(...started.map((s) => s.settledAt as number)));

          // Admission: every hedge admitted, every release called exactly once, never more running than admitted.
          if (admitCapacity === undefined) expect(live.admitCalls).toBe(0);
          else {
            expect(live.releaseCalls.length).toBeGreaterThanOrEqual(started.length - 1);
            expect(live.releaseCalls.every((calls) => calls === 1)).toBe(true);
            expect(live.outstanding).toBe(0);
            for (const s of started) expect(s.runningAtStart).toBeLessThanOrEqual(1 + s.outstandingAtStart);
            expect(live.maxRunning).toBeLessThanOrEqual(1 + admitCapacity);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('on parent abort, settles once with its reason only when no attempt runs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        fc.integer({ min: 0, max: 300 }),
        plans,
        async (delayMs, maxHedges, admitCapacity, abortAt, plan) => {
          const hedge = createHedge({ delayMs, maxHedges, budget: false });
          const parent = new AbortController();
          const { manual, clock, started, outcome, live } = setup(hedge, plan, {
            signal: parent.signal,
            admitCapacity,
          });
          const reason = new Error('deadline');
          manual.setTimeout(() => parent.abort(reason), abortAt);
          await manual.advanceAsync(2_000);

          expect(outcome.settled).toBe(1);
          expect(clock.pending.size).toBe(0);
          expect(started.every((s) => s.at <= abortAt && s.settledAt !== undefined)).toBe(true);
          const lastSettled = Math.max(...started.map((s) => s.settledAt as number));
          if (maxHedges === 0) {
            // Not hedged: the work runs with the parent's own signal and its outcome is the call's.
            expect(started).toHaveLength(1);
            expect(outcome.settledAt).toBe(lastSettled);
          } else if (isBallastError(outcome.error, 'BALLAST_ABORTED') && outcome.error.cause === reason) {
            expect(started.every((s) => s.signal.aborted)).toBe(true);
            expect(outcome.runningAtSettle).toBe(0);
            expect(outcome.settledAt).toBe(started.length === 0 ? abortAt : Math.max(abortAt, lastSettled));
          } else {
            // Settled before the abort: a winner, or every attempt failed.
            expect(outcome.settledAt as number).toBeLessThanOrEqual(abortAt);
            if (outcome.error !== undefined) expect(outcome.runningAtSettle).toBe(0);
          }
          expect(outcome.done).toBe(1);
          expect(outcome.runningAtDone).toBe(0);
          expect(outcome.doneAt).toBe(started.length === 0 ? outcome.settledAt : lastSettled);
          if (admitCapacity !== undefined) {
            expect(live.releaseCalls.every((calls) => calls === 1)).toBe(true);
            expect(live.outstanding).toBe(0);
            for (const s of started) expect(s.runningAtStart).toBeLessThanOrEqual(1 + s.outstandingAtStart);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRetryBudget } from '../retry/retry-budget.js';
import { createHedge } from './hedge.js';
import { type Plan, type Started, setup } from './run-hedged-harness.js';

describe('runHedged properties', () => {
  it('settles exactly once, with the first success, and aborts every loser', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 200 }), ok: fc.boolean() }), {
          minLength: 4,
          maxLength: 4,
        }),
        async (delayMs, maxHedges, budgetSize, plan) => {
          const budget =
            budgetSize === undefined
              ? false
              : createRetryBudget({ ratio: 0, minRetriesPerSec: budgetSize / 10, windowMs: 10_000 });
          const hedge = createHedge({ delayMs, maxHedges, budget });
          const { manual, clock, started, outcome } = setup(hedge, plan);
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
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

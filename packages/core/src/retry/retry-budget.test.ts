import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRetryBudget, RETRY_BUDGET_EPSILON } from './retry-budget.js';

function withdrawAll(budget: ReturnType<typeof createRetryBudget>, nowMs: number): number {
  let n = 0;
  while (budget.tryWithdraw(nowMs)) n++;
  return n;
}

describe('retry budget', () => {
  it('the budget refuses retries beyond 20 % of requests once that is above the floor', () => {
    const budget = createRetryBudget(); // 20 %, 10/s over 10 s: floor 100
    for (let i = 0; i < 1_000; i++) budget.deposit(5_000);
    expect(withdrawAll(budget, 5_000)).toBe(200);
    expect(budget.stats(5_000)).toEqual({ requests: 1_000, retries: 200, available: 0 });
  });

  it('below the floor, the floor: a quiet client may still retry minRetriesPerSec', () => {
    const budget = createRetryBudget(); // 20 % of 300 = 60 < floor 100
    for (let i = 0; i < 300; i++) budget.deposit(5_000);
    expect(withdrawAll(budget, 5_000)).toBe(100);
  });

  it('with no traffic only the floor is available', () => {
    const budget = createRetryBudget({ minRetriesPerSec: 2, windowMs: 5_000 });
    expect(budget.stats(0).available).toBe(10);
    expect(withdrawAll(budget, 0)).toBe(10);
  });

  it('a refused withdrawal takes nothing', () => {
    const budget = createRetryBudget({ ratio: 0.5, minRetriesPerSec: 0 });
    budget.deposit(0);
    expect(budget.tryWithdraw(0)).toBe(false);
    budget.deposit(0);
    expect(budget.tryWithdraw(0)).toBe(true);
    expect(budget.stats(0)).toEqual({ requests: 2, retries: 1, available: 0 });
  });

  it('budget buckets expire after the window', () => {
    const budget = createRetryBudget({ ratio: 0.5, minRetriesPerSec: 0, windowMs: 1_000, buckets: 10 });
    for (let i = 0; i < 10; i++) budget.deposit(0);
    expect(withdrawAll(budget, 50)).toBe(5);
    // Still inside the window (buckets 0..9 cover [0, 1000)).
    expect(budget.stats(999)).toEqual({ requests: 10, retries: 5, available: 0 });
    // The bucket at [0, 100) leaves the window at 1000: both its requests and its retries are gone.
    expect(budget.stats(1_000)).toEqual({ requests: 0, retries: 0, available: 0 });
    budget.deposit(1_000);
    budget.deposit(1_000);
    expect(budget.tryWithdraw(1_000)).toBe(true);
  });

  it('buckets expire one at a time as the window slides', () => {
    const budget = createRetryBudget({ ratio: 1, minRetriesPerSec: 0, windowMs: 1_000, buckets: 4 });
    budget.deposit(0);
    budget.deposit(250);
    budget.deposit(500);
    expect(budget.stats(999).requests).toBe(3);
    expect(budget.stats(1_000).requests).toBe(2);
    expect(budget.stats(1_250).requests).toBe(1);
    expect(budget.stats(1_500).requests).toBe(0);
  });

  it('a long idle gap clears every bucket', () => {
    const budget = createRetryBudget({ minRetriesPerSec: 0 });
    for (let i = 0; i < 50; i++) budget.deposit(i * 100);
    expect(budget.stats(1e9)).toEqual({ requests: 0, retries: 0, available: 0 });
  });

  it('a time older than the newest seen counts in the newest bucket', () => {
    const budget = createRetryBudget({ ratio: 1, minRetriesPerSec: 0, windowMs: 1_000, buckets: 10 });
    budget.deposit(5_000);
    budget.deposit(4_000); // late caller: counted at 5_000, not lost and not expiring early
    expect(budget.stats(5_000).requests).toBe(2);
    expect(budget.stats(5_999).requests).toBe(2);
  });

  it('floating-point products round to the documented integer', () => {
    const budget = createRetryBudget({ ratio: 0.1, minRetriesPerSec: 0 });
    for (let i = 0; i < 30; i++) budget.deposit(0); // 0.1 × 30 = 3.0000000000000004
    expect(withdrawAll(budget, 0)).toBe(3);
    expect(RETRY_BUDGET_EPSILON).toBeLessThan(1e-6);
  });
});

type Op = { kind: 'deposit' | 'withdraw'; count: number } | { kind: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('deposit' as const), count: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('withdraw' as const), count: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
);

describe('retry budget properties', () => {
  it('successful withdrawals never exceed max(ratio × deposits in the window, the floor)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(opArb, { maxLength: 120 }),
        (ratio, minRetriesPerSec, buckets, ops) => {
          const windowMs = 1_000;
          const bucketMs = windowMs / buckets;
          const floor = minRetriesPerSec * (windowMs / 1000);
          const budget = createRetryBudget({ ratio, minRetriesPerSec, windowMs, buckets });
          const deposits: number[] = [];
          const withdrawals: number[] = [];
          let now = 0;
          const inRange = (times: number[], from: number, to: number) =>
            times.filter((t) => t > from && t <= to).length;
          for (const op of ops) {
            if (op.kind === 'advance') now += op.ms;
            else if (op.kind === 'deposit') {
              for (let i = 0; i < op.count; i++) budget.deposit(now);
              for (let i = 0; i < op.count; i++) deposits.push(now);
            } else {
              for (let i = 0; i < op.count; i++) if (budget.tryWithdraw(now)) withdrawals.push(now);
            }
            const withdrew = op.kind === 'withdraw' && withdrawals.at(-1) === now;
            // The window as the budget counts it: the current bucket and the `buckets - 1` before it.
            const first = Math.floor(now / bucketMs) - buckets + 1;
            const counted = (t: number) => Math.floor(t / bucketMs) >= first;
            const countedDeposits = deposits.filter(counted).length;
            const countedWithdrawals = withdrawals.filter(counted).length;
            const allowed = Math.floor(Math.max(ratio * countedDeposits, floor) + RETRY_BUDGET_EPSILON);
            expect(budget.stats(now)).toEqual({
              requests: countedDeposits,
              retries: countedWithdrawals,
              available: Math.max(0, allowed - countedWithdrawals),
            });
            // At the moment of a successful withdrawal, the window's withdrawals are covered by its deposits.
            // (A refused one proves nothing: earlier withdrawals outlive the deposits that paid for them.)
            if (withdrew) expect(countedWithdrawals).toBeLessThanOrEqual(allowed);
            // Model-free: withdrawals in any span of (window - bucket) are covered by the deposits of that span
            // and the window before it (a withdrawal's deposits may expire before the withdrawal does).
            expect(inRange(withdrawals, now - windowMs + bucketMs, now)).toBeLessThanOrEqual(
              Math.floor(
                Math.max(ratio * inRange(deposits, now - 2 * windowMs + bucketMs, now), floor) +
                  RETRY_BUDGET_EPSILON,
              ),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { BallastError, shedError } from '../errors.js';
import {
  createRetry,
  NO_RETRY_ATTEMPTS,
  NO_RETRY_BUDGET,
  NO_RETRY_DEADLINE,
  NO_RETRY_NOT_RETRYABLE,
  NO_RETRY_UNSAFE,
  type RetryEvents,
  retryBudgetExhaustedError,
  retryGiveUpReason,
} from './retry.js';
import { createRetryBudget } from './retry-budget.js';

const sysError = (code: string) => Object.assign(new Error(code), { code });
const circuitOpen = (retryAfterMs: number) =>
  new BallastError('BALLAST_CIRCUIT_OPEN', 'open', { retryable: true, retryAfterMs });
/** A retry whose jitter always picks the low end, with no budget unless given. */
const retryWith = (options: Parameters<typeof createRetry>[0] = {}) =>
  createRetry({ random: () => 0, budget: false, ...options });

describe('retry decisions', () => {
  it('an idempotent call is retried after ECONNRESET', () => {
    expect(retryWith().decide(sysError('ECONNRESET'), 1, true, Infinity, 0, 0)).toBe(25);
  });

  it('a non-idempotent call is not retried after ECONNRESET', () => {
    expect(retryWith().decide(sysError('ECONNRESET'), 1, false, Infinity, 0, 0)).toBe(NO_RETRY_UNSAFE);
  });

  it('a non-idempotent call is retried after ECONNREFUSED', () => {
    expect(retryWith().decide(sysError('ECONNREFUSED'), 1, false, Infinity, 0, 0)).toBe(25);
  });

  it('a non-idempotent call is retried after it was shed or the circuit was open', () => {
    const retry = retryWith();
    expect(retry.decide(shedError('limit', 'pg'), 1, false, Infinity, 0, 0)).toBe(25);
    expect(retry.decide(circuitOpen(10), 1, false, Infinity, 0, 0)).toBe(25);
  });

  it('a driver-supplied notExecuted makes its own errors safe to retry', () => {
    const retry = retryWith({ notExecuted: (e) => (e as { code?: string }).code === '08001' });
    const connectFailed = Object.assign(new Error('connect'), { code: '08001', retryable: true });
    expect(retry.decide(connectFailed, 1, false, Infinity, 0, 0)).toBe(25);
  });

  it('no retry once maxAttempts attempts ran (counting the first)', () => {
    const retry = retryWith({ maxAttempts: 3 });
    expect(retry.decide(sysError('ECONNRESET'), 2, true, Infinity, 0, 25)).toBeGreaterThanOrEqual(0);
    expect(retry.decide(sysError('ECONNRESET'), 3, true, Infinity, 0, 25)).toBe(NO_RETRY_ATTEMPTS);
    expect(retryWith({ maxAttempts: 1 }).decide(sysError('ECONNRESET'), 1, true, Infinity, 0, 0)).toBe(
      NO_RETRY_ATTEMPTS,
    );
  });

  it('errors that are not retryable are not retried', () => {
    const retry = retryWith();
    expect(retry.decide(new Error('bug'), 1, true, Infinity, 0, 0)).toBe(NO_RETRY_NOT_RETRYABLE);
    expect(retry.decide(new BallastError('BALLAST_DEADLINE_EXCEEDED', 'late'), 1, true, Infinity, 0, 0)).toBe(
      NO_RETRY_NOT_RETRYABLE,
    );
    expect(retry.decide(Object.assign(new Error('x'), { retryable: false }), 1, true, Infinity, 0, 0)).toBe(
      NO_RETRY_NOT_RETRYABLE,
    );
    expect(retry.decide(undefined, 1, true, Infinity, 0, 0)).toBe(NO_RETRY_NOT_RETRYABLE);
  });

  it('an error with retryable: true is retried', () => {
    expect(
      retryWith().decide(Object.assign(new Error('x'), { retryable: true }), 1, true, Infinity, 0, 0),
    ).toBe(25);
  });

  it('an open circuit that outlasts the deadline is not retried', () => {
    expect(retryWith().decide(circuitOpen(500), 1, true, 400, 0, 0)).toBe(NO_RETRY_NOT_RETRYABLE);
  });

  it('retryAfterMs is the minimum delay, up to the cap', () => {
    const retry = retryWith({ maxDelayMs: 400 });
    expect(retry.decide(circuitOpen(300), 1, true, Infinity, 0, 0)).toBe(300);
    expect(retry.decide(circuitOpen(5), 1, true, Infinity, 0, 0)).toBe(25);
  });

  it('a retryAfterMs hint beyond the cap gives up instead of holding the caller for it', () => {
    const retry = retryWith({ maxDelayMs: 100 });
    expect(retry.decide(circuitOpen(60_000), 1, true, Infinity, 0, 0)).toBe(NO_RETRY_NOT_RETRYABLE);
  });

  it('no retry when the delay exceeds the remaining deadline', () => {
    const retry = retryWith({ random: () => 0.5 }); // 50 ms on the first retry
    expect(retry.decide(sysError('ECONNRESET'), 1, true, 49, 0, 0)).toBe(NO_RETRY_DEADLINE);
    expect(retry.decide(sysError('ECONNRESET'), 1, true, 50, 0, 0)).toBe(NO_RETRY_DEADLINE);
    expect(retry.decide(sysError('ECONNRESET'), 1, true, 51, 0, 0)).toBe(50);
    expect(retry.decide(sysError('ECONNRESET'), 1, true, -3, 0, 0)).toBe(NO_RETRY_DEADLINE);
  });

  it('delays grow with decorrelated jitter from the previous delay, within [base, cap]', () => {
    const retry = retryWith({ random: () => 0.999, maxAttempts: 10, maxDelayMs: 1_000 });
    let previous = 0;
    const delays: number[] = [];
    for (let attempt = 1; attempt < 10; attempt++) {
      previous = retry.decide(sysError('ETIMEDOUT'), attempt, true, Infinity, 0, previous);
      delays.push(previous);
    }
    expect(delays[0]).toBeCloseTo(74.95);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] as number);
    expect(delays.at(-1)).toBe(1_000);
  });

  it('each retry withdraws from the budget and a refusal is reported', () => {
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSec: 0.2, windowMs: 10_000 }); // floor 2
    const retry = createRetry({ random: () => 0, budget });
    const error = sysError('ECONNRESET');
    expect(retry.budget).toBe(budget);
    expect(retry.decide(error, 1, true, Infinity, 0, 0)).toBe(25);
    expect(retry.decide(error, 1, true, Infinity, 0, 0)).toBe(25);
    expect(retry.decide(error, 1, true, Infinity, 0, 0)).toBe(NO_RETRY_BUDGET);
    expect(budget.stats(0).retries).toBe(2);
  });

  it('a retry refused for another reason does not spend the budget', () => {
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSec: 0.1 }); // floor 1
    const retry = createRetry({ budget });
    retry.decide(sysError('ECONNRESET'), 1, false, Infinity, 0, 0); // unsafe
    retry.decide(sysError('ECONNRESET'), 1, true, 1, 0, 0); // deadline
    expect(budget.stats(0).retries).toBe(0);
  });

  it('each retry gets a new budget by default, and budget: false means unlimited', () => {
    expect(createRetry().budget).toBeDefined();
    expect(createRetry().budget).not.toBe(createRetry().budget);
    const retry = createRetry({ budget: false, random: () => 0 });
    expect(retry.budget).toBeUndefined();
    for (let i = 0; i < 1_000; i++) expect(retry.decide(sysError('EPIPE'), 1, true, Infinity, 0, 0)).toBe(25);
  });

  it('the budget-exhausted error keeps the last error as its cause', () => {
    const last = sysError('ECONNRESET');
    const error = retryBudgetExhaustedError('pg', last);
    expect(error.code).toBe('BALLAST_RETRY_BUDGET_EXHAUSTED');
    expect(error.cause).toBe(last);
    expect(error.retryable).toBe(false);
  });

  it('every give-up code has a reason name', () => {
    expect(
      [NO_RETRY_ATTEMPTS, NO_RETRY_NOT_RETRYABLE, NO_RETRY_BUDGET, NO_RETRY_DEADLINE, NO_RETRY_UNSAFE].map(
        retryGiveUpReason,
      ),
    ).toEqual(['attempts', 'not-retryable', 'budget', 'deadline', 'unsafe']);
    expect(retryGiveUpReason(25)).toBeUndefined();
  });

  it('retries and give-ups are announced', () => {
    const retry = retryWith({ name: 'pg-primary', maxAttempts: 2 });
    const seen: Array<RetryEvents[keyof RetryEvents]> = [];
    const offRetry = retry.on('retry', (e) => seen.push(e));
    retry.on('give-up', (e) => seen.push(e));
    retry.decide(sysError('ECONNRESET'), 1, true, Infinity, 0, 0);
    retry.decide(sysError('ECONNRESET'), 1, false, Infinity, 0, 0);
    retry.decide(sysError('ECONNRESET'), 2, true, Infinity, 0, 25);
    offRetry();
    retry.decide(sysError('ECONNRESET'), 1, true, Infinity, 0, 0);
    expect(seen).toEqual([
      { name: 'pg-primary', attempt: 1, delayMs: 25, code: 'ECONNRESET' },
      { name: 'pg-primary', attempt: 1, reason: 'unsafe', code: 'ECONNRESET' },
      { name: 'pg-primary', attempt: 2, reason: 'attempts', code: 'ECONNRESET' },
    ]);
  });
});

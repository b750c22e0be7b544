/**
 * Retry with decorrelated jitter and a retry budget.
 *
 * - {@link createRetry} builds the policy `createPolicy` consults between attempts: `decide()` returns a delay
 *   in ms, or a negative `NO_RETRY_*` constant saying why not. It never retries a call not marked idempotent
 *   after an ambiguous failure, never sleeps past the deadline, and pays every retry from a budget.
 * - {@link createRetryBudget} caps retries (and hedges) at `max(ratio × calls, minRetriesPerSec × window)` per
 *   sliding window; share one instance between retry and hedging.
 *
 * @example
 * const budget = createRetryBudget();                     // 20 %, at least 10/s, over 10 s
 * const retry = createRetry({ maxAttempts: 3, budget });
 * budget.deposit(now);                                     // once per logical request
 * const delayMs = retry.decide(error, 1, false, Infinity, now, 0);
 * if (delayMs === NO_RETRY_BUDGET) throw retryBudgetExhaustedError('pg', error);
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` from `createRetry`/`createRetryBudget` for an invalid option.
 * @packageDocumentation
 */
export { decorrelatedJitter } from './decorrelated-jitter.js';
export {
  createRetry,
  NO_RETRY_ATTEMPTS,
  NO_RETRY_BUDGET,
  NO_RETRY_DEADLINE,
  NO_RETRY_NOT_RETRYABLE,
  NO_RETRY_UNSAFE,
  type Retry,
  type RetryDecision,
  type RetryEvents,
  type RetryGiveUpReason,
  retryBudgetExhaustedError,
  retryGiveUpReason,
} from './retry.js';
export {
  createRetryBudget,
  DEFAULT_RETRY_BUDGET,
  isRetryBudget,
  RETRY_BUDGET_EPSILON,
  type ResolvedRetryBudgetOptions,
  type RetryBudget,
  type RetryBudgetOptions,
  type RetryBudgetStats,
  resolveRetryBudgetOptions,
} from './retry-budget.js';
export { defaultIsRetryable, defaultNotExecuted } from './retry-classify.js';
export {
  DEFAULT_RETRY,
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from './retry-options.js';

import { type Clock, checkClock } from '../clock.js';
import { invalidArgument } from '../errors.js';
import { checkFunction, checkInteger, checkNumber, checkObject } from '../options.js';
import {
  createRetryBudget,
  DEFAULT_RETRY_BUDGET,
  isRetryBudget,
  type RetryBudget,
  type RetryBudgetOptions,
  resolveRetryBudgetOptions,
} from './retry-budget.js';
import { defaultIsRetryable, defaultNotExecuted } from './retry-classify.js';

/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Options of {@link createRetry}. */
export interface RetryOptions {
  /**
   * Names the retry in events (usually the policy's name).
   * @default 'retry'
   */
  name?: string | undefined;
  /**
   * The policy's time source. Retry reads no time itself (`decide` takes `nowMs`); accepted so a policy can pass
   * its options through, and validated.
   * @default undefined
   */
  clock?: Clock | undefined;
  /**
   * Attempts in all, counting the first: `1` disables retries.
   * @default 3
   */
  maxAttempts?: number | undefined;
  /**
   * Smallest delay before a retry, in ms; the decorrelated jitter draws from `[baseDelayMs, previous × 3]`.
   * @default 25
   */
  baseDelayMs?: number | undefined;
  /**
   * Largest delay, in ms. A `retryAfterMs` hint on the error raises the delay up to this; a hint beyond it
   * gives up (reason `'not-retryable'`) rather than hold the caller and its permit that long.
   * @default 1000
   */
  maxDelayMs?: number | undefined;
  /**
   * Uniform random source in `[0, 1)` for the jitter; inject one for deterministic tests.
   * @default Math.random
   */
  random?: (() => number) | undefined;
  /**
   * Whether trying again may succeed; `remainingMs` is the time left before the deadline (`Infinity`: none).
   * @default defaultIsRetryable
   */
  isRetryable?: ((error: unknown, remainingMs: number) => boolean) | undefined;
  /**
   * Whether `error` proves the operation did not run: only then is a call not marked idempotent retried.
   * @default defaultNotExecuted
   */
  notExecuted?: ((error: unknown) => boolean) | undefined;
  /**
   * The retry budget: an instance (to share it with hedging or other policies), options for a new one, or
   * `false` for unlimited retries.
   * @default {} (a new budget: 20 % of requests + 10 retries/s over 10 s)
   */
  budget?: RetryBudget | RetryBudgetOptions | false | undefined;
}

/** Retry options after defaults and validation. */
export interface ResolvedRetryOptions {
  readonly name: string;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly random: () => number;
  readonly isRetryable: (error: unknown, remainingMs: number) => boolean;
  readonly notExecuted: (error: unknown) => boolean;
  /** `undefined` when the budget is off. */
  readonly budget: RetryBudget | undefined;
}

/** The defaults of {@link RetryOptions}. `budget` is the options of the new budget each retry gets. */
export const DEFAULT_RETRY = Object.freeze({
  name: 'retry',
  maxAttempts: 3,
  baseDelayMs: 25,
  maxDelayMs: 1_000,
  random: Math.random,
  isRetryable: defaultIsRetryable,
  notExecuted: defaultNotExecuted,
  budget: DEFAULT_RETRY_BUDGET as RetryBudgetOptions,
});

/**
 * Merges `options` with {@link DEFAULT_RETRY} and validates every field.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option (e.g. `retry.maxAttempts`) and the value.
 */
export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  checkObject('retry', options);
  const d = DEFAULT_RETRY;
  const name = options.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument('retry.name', name, 'a non-empty string');
  if (options.clock !== undefined) checkClock('retry.clock', options.clock);
  const baseDelayMs = checkNumber('retry.baseDelayMs', options.baseDelayMs ?? d.baseDelayMs, 0, MAX_DELAY_MS);
  return {
    name,
    maxAttempts: checkInteger('retry.maxAttempts', options.maxAttempts ?? d.maxAttempts, 1, 1_000),
    baseDelayMs,
    maxDelayMs: checkNumber(
      'retry.maxDelayMs',
      options.maxDelayMs ?? d.maxDelayMs,
      baseDelayMs,
      MAX_DELAY_MS,
    ),
    random: checkFunction('retry.random', options.random ?? d.random),
    isRetryable: checkFunction('retry.isRetryable', options.isRetryable ?? d.isRetryable),
    notExecuted: checkFunction('retry.notExecuted', options.notExecuted ?? d.notExecuted),
    budget: resolveBudget('retry.budget', options.budget),
  };
}

/**
 * Turns a `budget` option into an instance: the instance itself, a new budget from options (`undefined` means
 * defaults), or `undefined` for `false`.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `option`.
 */
export function resolveBudget(
  option: string,
  value: RetryBudget | RetryBudgetOptions | false | undefined,
): RetryBudget | undefined {
  if (value === false) return undefined;
  if (value === undefined) return createRetryBudget();
  if (isRetryBudget(value)) return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument(option, value, 'a RetryBudget, budget options or false');
  return createRetryBudget(resolveRetryBudgetOptions(value, option));
}

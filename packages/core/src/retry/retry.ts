import { errorCode } from '../classify.js';
import { BallastError } from '../errors.js';
import { Events, type Listener, type Unsubscribe } from '../events.js';
import { decorrelatedJitter } from './decorrelated-jitter.js';
import type { RetryBudget } from './retry-budget.js';
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from './retry-options.js';

/** `decide` result: `maxAttempts` reached. */
export const NO_RETRY_ATTEMPTS = -1;
/** `decide` result: `isRetryable(error)` said no. */
export const NO_RETRY_NOT_RETRYABLE = -2;
/** `decide` result: the retry budget refused; the policy throws `BALLAST_RETRY_BUDGET_EXHAUSTED`. */
export const NO_RETRY_BUDGET = -3;
/** `decide` result: the delay would not leave any time before the deadline. */
export const NO_RETRY_DEADLINE = -4;
/** `decide` result: the call is not idempotent and the error does not prove it did not run. */
export const NO_RETRY_UNSAFE = -5;

/**
 * What {@link Retry.decide} returns: a delay in ms (>= 0) before the next attempt, or one of the negative
 * `NO_RETRY_*` constants saying why there is none.
 */
export type RetryDecision = number;

/** Why a retry gave up, as named in the `give-up` event. */
export type RetryGiveUpReason = 'attempts' | 'not-retryable' | 'budget' | 'deadline' | 'unsafe';

const REASONS: readonly RetryGiveUpReason[] = ['attempts', 'not-retryable', 'budget', 'deadline', 'unsafe'];

/**
 * Names the reason behind a negative {@link RetryDecision}; `undefined` for a delay (>= 0) or an unknown code.
 * @example retryGiveUpReason(NO_RETRY_UNSAFE) // 'unsafe'
 */
export function retryGiveUpReason(decision: RetryDecision): RetryGiveUpReason | undefined {
  return decision < 0 ? REASONS[-decision - 1] : undefined;
}

/** Events of a {@link Retry}, also published on `ballast:retry:<event>`. */
export interface RetryEvents {
  /** A retry was scheduled after `attempt` failed. */
  retry: { name: string; attempt: number; delayMs: number; code: string | undefined };
  /** No retry after `attempt` failed. */
  'give-up': { name: string; attempt: number; reason: RetryGiveUpReason; code: string | undefined };
}

/** The retry policy `createPolicy` consults between attempts. */
export interface Retry {
  readonly name: string;
  readonly options: ResolvedRetryOptions;
  /**
   * The budget each retry withdraws from, `undefined` when off. The caller deposits into it once per logical
   * request (`budget.deposit(nowMs)`); share it with hedging so both are paid from one budget.
   */
  readonly budget: RetryBudget | undefined;
  /**
   * Decides whether to retry after an attempt failed. Called only on failure; allocates nothing unless an
   * event listener is attached. Checks, in order: attempts left, `isRetryable`, idempotency (or `notExecuted`),
   * the delay against the deadline, then withdraws one retry from the budget (last, so a refused retry for
   * another reason costs nothing).
   * @param error what the attempt failed with
   * @param attempt the attempt that just failed, 1-based
   * @param idempotent whether the call may safely run twice
   * @param remainingMs time left before the deadline (`Infinity`: none; may be negative)
   * @param nowMs the current clock time, for the budget
   * @param previousDelayMs the delay this function returned for the previous retry, 0 before the first
   * @returns the delay in ms before the next attempt, or a negative `NO_RETRY_*` constant
   */
  decide(
    error: unknown,
    attempt: number,
    idempotent: boolean,
    remainingMs: number,
    nowMs: number,
    previousDelayMs: number,
  ): RetryDecision;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof RetryEvents>(event: K, listener: Listener<RetryEvents[K]>): Unsubscribe;
}

/**
 * Creates the retry policy: at most `maxAttempts`, decorrelated jitter between `baseDelayMs` and `maxDelayMs`
 * (at least the error's `retryAfterMs`), paid from a retry budget, never past the deadline, and never after an
 * ambiguous failure of a call not marked idempotent (the write may have committed).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the invalid option, e.g. `retry.maxAttempts`.
 * @example
 * const retry = createRetry({ maxAttempts: 4, budget: sharedBudget });
 * const delayMs = retry.decide(error, attempt, idempotent, deadlineAt - now, now, previousDelayMs);
 * if (delayMs === NO_RETRY_BUDGET) throw retryBudgetExhaustedError('pg', error);
 */
export function createRetry(options?: RetryOptions): Retry {
  return new RetryPolicy(resolveRetryOptions(options));
}

/** The `BALLAST_RETRY_BUDGET_EXHAUSTED` error, with the last attempt's error as `cause`. */
export function retryBudgetExhaustedError(
  source: string,
  lastError: unknown,
): BallastError<'BALLAST_RETRY_BUDGET_EXHAUSTED'> {
  return new BallastError('BALLAST_RETRY_BUDGET_EXHAUSTED', `${source}: retry budget exhausted`, {
    retryable: false,
    cause: lastError,
    source,
  });
}

class RetryPolicy implements Retry {
  readonly name: string;
  readonly options: ResolvedRetryOptions;
  readonly budget: RetryBudget | undefined;
  readonly #events = new Events<RetryEvents>('retry');

  constructor(options: ResolvedRetryOptions) {
    this.options = Object.freeze(options);
    this.name = options.name;
    this.budget = options.budget;
  }

  on<K extends keyof RetryEvents>(event: K, listener: Listener<RetryEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  decide(
    error: unknown,
    attempt: number,
    idempotent: boolean,
    remainingMs: number,
    nowMs: number,
    previousDelayMs: number,
  ): RetryDecision {
    const o = this.options;
    if (attempt >= o.maxAttempts) return this.#giveUp(NO_RETRY_ATTEMPTS, error, attempt);
    if (!o.isRetryable(error, remainingMs)) return this.#giveUp(NO_RETRY_NOT_RETRYABLE, error, attempt);
    if (!idempotent && !o.notExecuted(error)) return this.#giveUp(NO_RETRY_UNSAFE, error, attempt);
    let delayMs = decorrelatedJitter(previousDelayMs, o.baseDelayMs, o.maxDelayMs, o.random);
    const retryAfterMs = (error as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
    if (typeof retryAfterMs === 'number' && retryAfterMs > delayMs) {
      // A hint beyond the longest back-off we would ever wait means "not soon": give up rather than hold the
      // caller (and its permit) for it.
      if (retryAfterMs > o.maxDelayMs) return this.#giveUp(NO_RETRY_NOT_RETRYABLE, error, attempt);
      delayMs = retryAfterMs;
    }
    // Equal counts as too late: the next attempt would start with no time left.
    if (delayMs >= remainingMs) return this.#giveUp(NO_RETRY_DEADLINE, error, attempt);
    if (this.budget !== undefined && !this.budget.tryWithdraw(nowMs))
      return this.#giveUp(NO_RETRY_BUDGET, error, attempt);
    if (this.#events.wants('retry'))
      this.#events.emit('retry', { name: this.name, attempt, delayMs, code: errorCode(error) });
    return delayMs;
  }

  #giveUp(decision: RetryDecision, error: unknown, attempt: number): RetryDecision {
    if (this.#events.wants('give-up')) {
      this.#events.emit('give-up', {
        name: this.name,
        attempt,
        reason: retryGiveUpReason(decision) as RetryGiveUpReason,
        code: errorCode(error),
      });
    }
    return decision;
  }
}

import { checkInteger, checkNumber, checkObject } from '../options.js';

/** Options of {@link createRetryBudget}. */
export interface RetryBudgetOptions {
  /**
   * Retries (and hedges) allowed per logical request in the window, e.g. `0.2` = 20 %.
   * @default 0.2
   */
  ratio?: number | undefined;
  /**
   * Retries per second allowed regardless of traffic, so a quiet service can still retry.
   * The window's floor is `minRetriesPerSec × windowMs / 1000`.
   * @default 10
   */
  minRetriesPerSec?: number | undefined;
  /**
   * Length of the sliding window in ms over which requests and retries are counted.
   * @default 10_000
   */
  windowMs?: number | undefined;
  /**
   * Number of time buckets the window is divided into; a bucket expires as a whole, so the window slides in
   * steps of `windowMs / buckets`.
   * @default 10
   */
  buckets?: number | undefined;
}

/** Budget options after defaults and validation. */
export interface ResolvedRetryBudgetOptions {
  readonly ratio: number;
  readonly minRetriesPerSec: number;
  readonly windowMs: number;
  readonly buckets: number;
}

/** The defaults of {@link RetryBudgetOptions} (Finagle's: 20 % of requests, 10 retries/s floor, 10 s window). */
export const DEFAULT_RETRY_BUDGET: Readonly<ResolvedRetryBudgetOptions> = Object.freeze({
  ratio: 0.2,
  minRetriesPerSec: 10,
  windowMs: 10_000,
  buckets: 10,
});

/** What {@link RetryBudget.stats} returns; counts cover the current window. */
export interface RetryBudgetStats {
  requests: number;
  retries: number;
  /** Withdrawals that would succeed now. */
  available: number;
}

/**
 * A retry budget shared by retries and hedges: in any window, the withdrawals allowed are
 * `floor(max(ratio × requests, minRetriesPerSec × windowMs / 1000) + 1e-9)`, where `requests` are the deposits in
 * the same window. Unlike Finagle's budget, which adds the floor to the ratio, the floor is a minimum: a busy
 * client's retries never pass `ratio` of its requests (20 % transient errors at 200 requests/s cost 1.25x the
 * load with the floor added, 1.2x with it as a minimum; measured in the `retry-storm` benchmark), and a quiet one
 * may still retry `minRetriesPerSec`. The `1e-9` absorbs floating-point error (`0.1 × 30` is `3.0000000000000004` — or just below
 * 3 for other products) so a budget of exactly N means N.
 *
 * The guarantee holds at the moment of each withdrawal, over the window as counted then (the current bucket
 * and the `buckets - 1` before it). Withdrawals stay counted until their own bucket expires, even when the
 * deposits that paid for them expired earlier, so over any span of `windowMs - windowMs / buckets` the
 * withdrawals never exceed `ratio ×` the deposits of that span and the `windowMs` before it, or the floor,
 * whichever is larger.
 *
 * Counting uses a ring of lazily expiring buckets: no timers; every method takes the caller's `nowMs`.
 * `deposit` and `tryWithdraw` are O(1) amortised and allocate nothing. A `nowMs` older than the newest one
 * seen counts in the newest bucket.
 */
export interface RetryBudget {
  readonly options: ResolvedRetryBudgetOptions;
  /** Records one logical request (call it once per call, not per attempt). */
  deposit(nowMs: number): void;
  /** Takes one retry or hedge from the budget; `false` (and nothing taken) when the budget is spent. */
  tryWithdraw(nowMs: number): boolean;
  stats(nowMs: number): RetryBudgetStats;
}

/** Absorbs floating-point error in `ratio × requests`; see {@link RetryBudget}. */
export const RETRY_BUDGET_EPSILON = 1e-9;

/** Validates budget options (`retry.budget.ratio`, …) and merges them with {@link DEFAULT_RETRY_BUDGET}. */
export function resolveRetryBudgetOptions(
  options: RetryBudgetOptions = {},
  prefix = 'retryBudget',
): ResolvedRetryBudgetOptions {
  checkObject(prefix, options);
  const d = DEFAULT_RETRY_BUDGET;
  return {
    ratio: checkNumber(`${prefix}.ratio`, options.ratio ?? d.ratio, 0, 1_000),
    minRetriesPerSec: checkNumber(
      `${prefix}.minRetriesPerSec`,
      options.minRetriesPerSec ?? d.minRetriesPerSec,
      0,
      1e9,
    ),
    windowMs: checkNumber(`${prefix}.windowMs`, options.windowMs ?? d.windowMs, 1, 2 ** 31 - 1),
    buckets: checkInteger(`${prefix}.buckets`, options.buckets ?? d.buckets, 1, 10_000),
  };
}

/** True when `value` looks like a {@link RetryBudget} instance rather than an options object. */
export function isRetryBudget(value: unknown): value is RetryBudget {
  const v = value as Partial<RetryBudget> | null | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.deposit === 'function' &&
    typeof v.tryWithdraw === 'function'
  );
}

/**
 * Creates a retry budget. Pass one instance to both `retry.budget` and `hedge.budget` so they share it.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the invalid option.
 * @example
 * const budget = createRetryBudget({ ratio: 0.1 });
 * budget.deposit(clock.now());                 // once per logical request
 * if (budget.tryWithdraw(clock.now())) retry();  // once per retry or hedge
 */
export function createRetryBudget(options?: RetryBudgetOptions): RetryBudget {
  return new BucketedRetryBudget(resolveRetryBudgetOptions(options));
}

class BucketedRetryBudget implements RetryBudget {
  readonly options: ResolvedRetryBudgetOptions;
  readonly #bucketMs: number;
  readonly #floor: number;
  readonly #requests: Float64Array;
  readonly #retries: Float64Array;
  /** Number of the newest bucket seen (`floor(nowMs / bucketMs)`); -Infinity before the first call. */
  #head = Number.NEGATIVE_INFINITY;
  /** The last time `#advance` saw and the slot it returned (a later time may have moved `#head` since). */
  #lastNow = Number.NaN;
  #lastSlot = 0;
  #requestTotal = 0;
  #retryTotal = 0;

  constructor(options: ResolvedRetryBudgetOptions) {
    this.options = Object.freeze(options);
    this.#bucketMs = options.windowMs / options.buckets;
    this.#floor = (options.minRetriesPerSec * options.windowMs) / 1000;
    this.#requests = new Float64Array(options.buckets);
    this.#retries = new Float64Array(options.buckets);
  }

  deposit(nowMs: number): void {
    // Calls of one event-loop turn share a clock reading: skip the bucket arithmetic when it repeats.
    const slot = nowMs === this.#lastNow ? this.#lastSlot : this.#advance(nowMs);
    this.#requests[slot] = (this.#requests[slot] as number) + 1;
    this.#requestTotal++;
  }

  tryWithdraw(nowMs: number): boolean {
    const slot = this.#advance(nowMs);
    if (this.#retryTotal + 1 > this.#allowed()) return false;
    this.#retries[slot] = (this.#retries[slot] as number) + 1;
    this.#retryTotal++;
    return true;
  }

  stats(nowMs: number): RetryBudgetStats {
    this.#advance(nowMs);
    return {
      requests: this.#requestTotal,
      retries: this.#retryTotal,
      available: Math.max(0, this.#allowed() - this.#retryTotal),
    };
  }

  #allowed(): number {
    return Math.floor(Math.max(this.options.ratio * this.#requestTotal, this.#floor) + RETRY_BUDGET_EPSILON);
  }

  /** Expires the buckets that left the window and returns the ring slot of `nowMs`'s bucket. */
  #advance(nowMs: number): number {
    const n = this.options.buckets;
    const bucket = Math.floor(nowMs / this.#bucketMs);
    if (bucket > this.#head) {
      // At most `n` slots to clear however far time jumped: O(1) amortised, bounded by the bucket count.
      const steps = Math.min(bucket - this.#head, n);
      for (let i = 1; i <= steps; i++) {
        const s = mod(bucket - steps + i, n);
        this.#requestTotal -= this.#requests[s] as number;
        this.#retryTotal -= this.#retries[s] as number;
        this.#requests[s] = 0;
        this.#retries[s] = 0;
      }
      this.#head = bucket;
    }
    this.#lastNow = nowMs;
    this.#lastSlot = mod(this.#head, n);
    return this.#lastSlot;
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

import {
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  createCircuitBreaker,
} from './breaker/index.js';
import { type Clock, checkClock, systemClock } from './clock.js';
import { ComposedPolicy } from './composed-policy.js';
import { invalidArgument } from './errors.js';
import { createHedge, type Hedge, type HedgeOptions } from './hedge/index.js';
import { createLimiter, type LimiterOptions, type LimiterStats } from './limiter/index.js';
import type { AttemptContext } from './operation.js';
import { checkNumber, checkObject } from './options.js';
import { createRetry, type Retry, type RetryBudgetStats, type RetryOptions } from './retry/index.js';
import type { BreakerLike, LimiterLike, Priority } from './types.js';

/** Options of {@link createPolicy}. Every part is on by default except hedging; pass `false` to turn one off. */
export interface PolicyOptions {
  /** Names the policy in errors, events and stats. @default 'policy' */
  name?: string | undefined;
  /** A circuit breaker: options for Ballast's own, an instance (`createCircuitBreaker`, `fromOpossum`), or `false`. @default {} */
  breaker?: CircuitBreakerOptions | BreakerLike | false | undefined;
  /** An adaptive concurrency limiter with admission queue: options, an instance, or `false`. @default {} (Gradient2) */
  limiter?: LimiterOptions | LimiterLike | false | undefined;
  /** Retries with decorrelated jitter and a retry budget, or `false`. @default {} (3 attempts, 20 % budget) */
  retry?: RetryOptions | false | undefined;
  /** Hedging of idempotent calls after the observed p95, paid from the retry budget. @default false */
  hedge?: HedgeOptions | false | undefined;
  /** Deadline in ms for calls that do not pass `deadlineMs`; `undefined` means none. @default undefined */
  timeoutMs?: number | undefined;
  /** The time source. @default systemClock */
  clock?: Clock | undefined;
}

/** Per-call options of {@link Policy.execute}. */
export interface ExecuteOptions {
  /** Shed order under pressure: `background` first, `critical` never before the others. @default 'interactive' */
  priority?: Priority | undefined;
  /** Milliseconds from now after which the call fails with `BALLAST_DEADLINE_EXCEEDED`. @default the policy's `timeoutMs` */
  deadlineMs?: number | undefined;
  /** The caller's signal: aborting it fails the call with `BALLAST_ABORTED` and aborts the attempt's signal. */
  signal?: AbortSignal | undefined;
  /** The operation can run twice without harm: allows retries after ambiguous failures, and hedging. @default false */
  idempotent?: boolean | undefined;
}

/** Counters of a policy since it was created. */
export interface PolicyCounts {
  /** Calls with valid options (an invalid call is rejected with `BALLAST_INVALID_ARGUMENT` and not counted). */
  calls: number;
  successes: number;
  failures: number;
  shed: number;
  circuitOpen: number;
  deadlineExceeded: number;
  aborted: number;
  retries: number;
}

/** What {@link Policy.stats} returns: a snapshot, safe to serialise. */
export interface PolicyStats {
  name: string;
  counts: PolicyCounts;
  /** The breaker's snapshot (state, window counts, rates, open time); `undefined` without a breaker. */
  breaker: CircuitBreakerStats | undefined;
  /** The limiter's snapshot (limit, in-flight and queued per priority, sheds); `undefined` without a limiter. */
  limiter: LimiterStats | undefined;
  /** Requests and retries in the budget's window; `undefined` without retries or hedging. */
  retryBudget: RetryBudgetStats | undefined;
}

/** @internal */
export interface StatsSource<S> {
  stats?(nowMs?: number): S;
}

/**
 * Work of {@link Policy.executeCallback}: starts the attempt and calls `done` once with its outcome (`error`
 * `null` or `undefined` for success).
 */
export type CallbackWork<T> = (ctx: AttemptContext, done: (error: unknown, value?: T) => void) => void;

/** A composed policy: deadline → admission/limiter → breaker → retry/hedge → your work. */
export interface Policy {
  readonly name: string;
  /** The breaker in use (attach listeners with its `on`), if any. */
  readonly breaker: BreakerLike | undefined;
  /** The limiter in use, if any. */
  readonly limiter: LimiterLike | undefined;
  /** The retry strategy (attach listeners with its `on`), if any. */
  readonly retry: Retry | undefined;
  /** The hedging strategy, if any. */
  readonly hedge: Hedge | undefined;
  /**
   * Runs `work` under the policy.
   * @throws BallastError `BALLAST_SHED` (with `reason`), `BALLAST_CIRCUIT_OPEN`, `BALLAST_DEADLINE_EXCEEDED`,
   *   `BALLAST_ABORTED`, `BALLAST_RETRY_BUDGET_EXHAUSTED` (the last error as `cause`), `BALLAST_INVALID_ARGUMENT`
   *   for bad per-call options; otherwise the work's own error, unchanged.
   */
  execute<T>(work: (ctx: AttemptContext) => Promise<T> | T, options?: ExecuteOptions): Promise<T>;
  /**
   * {@link Policy.execute} for work that answers through a callback — `done(null, value)` or `done(error)`,
   * once — as drivers with a callback API do: one promise per call instead of two. With `recover`, a call that
   * fails for any reason (shed, open circuit, deadline, abort, the work's error after retries) is answered by
   * `recover(error)` instead of rejecting: a fallback that costs no promise when the call succeeds.
   * @throws as {@link Policy.execute}, and `BALLAST_INVALID_ARGUMENT` when `recover` is not a function.
   */
  executeCallback<T>(
    work: CallbackWork<T>,
    options?: ExecuteOptions,
    recover?: (error: unknown) => Promise<T> | T,
  ): Promise<T>;
  stats(): PolicyStats;
}

function isInstance<T extends object>(value: unknown, method: keyof T): value is T {
  return typeof value === 'object' && value !== null && typeof (value as T)[method] === 'function';
}

/**
 * Composes deadline, admission control, circuit breaker, retry and hedging around calls to one dependency.
 * @example
 * const policy = createPolicy({ name: 'pg-primary', timeoutMs: 2_000 });
 * const rows = await policy.execute(({ signal }) => query(sql, signal), { priority: 'interactive' });
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option.
 */
export function createPolicy(options: PolicyOptions = {}): Policy {
  checkObject('policy', options);
  const name = options.name ?? 'policy';
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument('policy.name', name, 'a non-empty string');
  const clock = options.clock === undefined ? systemClock : checkClock('policy.clock', options.clock);
  const timeoutMs =
    options.timeoutMs === undefined ? undefined : checkNumber('policy.timeoutMs', options.timeoutMs, 1);

  const b = part('policy.breaker', options.breaker ?? {});
  const breaker: BreakerLike | undefined =
    b === false
      ? undefined
      : isInstance<BreakerLike>(b, 'acquire')
        ? b
        : createCircuitBreaker({ name, clock, ...(b as CircuitBreakerOptions) });
  const l = part('policy.limiter', options.limiter ?? {});
  const limiter: LimiterLike | undefined =
    l === false
      ? undefined
      : isInstance<LimiterLike>(l, 'tryAcquire')
        ? l
        : createLimiter({ name, clock, ...(l as LimiterOptions) });
  const r = part('policy.retry', options.retry ?? {});
  const retry = r === false ? undefined : createRetry({ name, clock, ...(r as RetryOptions) });
  const h = part('policy.hedge', options.hedge ?? false);
  const hedge =
    h === false ? undefined : createHedge({ name, budget: retry?.budget, ...(h as HedgeOptions) });
  return new ComposedPolicy(name, clock, timeoutMs, breaker, limiter, retry, hedge);
}

/** A part is `false`, an options object or an instance; anything else (`true`, a number) is a mistake. */
function part(option: string, value: unknown): object | false {
  if (value === false) return false;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(option, value, 'an options object, an instance, or false');
  }
  return value;
}

import {
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  createCircuitBreaker,
} from './breaker/index.js';
import { type Clock, checkClock, systemClock } from './clock.js';
import { deadlineWheelFor } from './deadline-wheel.js';
import { abortedError, BallastError, deadlineError, invalidArgument } from './errors.js';
import { createHedge, type Hedge, type HedgeOptions, runHedged } from './hedge/index.js';
import { createLimiter, type LimiterOptions, type LimiterStats } from './limiter/index.js';
import { type AttemptContext, Operation } from './operation.js';
import { checkNumber, checkObject } from './options.js';
import {
  createRetry,
  NO_RETRY_BUDGET,
  type Retry,
  type RetryBudget,
  type RetryBudgetStats,
  type RetryOptions,
} from './retry/index.js';
import type { BreakerLike, LimiterLike, LimiterOutcome, LimiterPermit, Priority } from './types.js';

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

interface StatsSource<S> {
  stats?(nowMs?: number): S;
}

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

  const b = options.breaker ?? {};
  const breaker: BreakerLike | undefined =
    b === false
      ? undefined
      : isInstance<BreakerLike>(b, 'acquire')
        ? b
        : createCircuitBreaker({ name, clock, ...b });
  const l = options.limiter ?? {};
  const limiter: LimiterLike | undefined =
    l === false
      ? undefined
      : isInstance<LimiterLike>(l, 'tryAcquire')
        ? l
        : createLimiter({ name, clock, ...l });
  const r = options.retry ?? {};
  const retry = r === false ? undefined : createRetry({ name, clock, ...r });
  const h = options.hedge ?? false;
  const hedge = h === false ? undefined : createHedge({ name, budget: retry?.budget, ...h });
  return new ComposedPolicy(name, clock, timeoutMs, breaker, limiter, retry, hedge);
}

function checkPriority(priority: unknown): Priority {
  switch (priority) {
    case 'critical':
    case 'interactive':
    case 'batch':
    case 'background':
      return priority;
    default:
      throw invalidArgument('priority', priority, "one of 'critical', 'interactive', 'batch', 'background'");
  }
}

/** The context of a first attempt with no deadline and no caller signal: shared, so the fast path allocates none. */
const FIRST_ATTEMPT: AttemptContext = Object.freeze({
  signal: new AbortController().signal,
  attempt: 1,
  deadlineAt: Number.POSITIVE_INFINITY,
  remainingMs: () => Number.POSITIVE_INFINITY,
});

class ComposedPolicy implements Policy {
  readonly counts: PolicyCounts = {
    calls: 0,
    successes: 0,
    failures: 0,
    shed: 0,
    circuitOpen: 0,
    deadlineExceeded: 0,
    aborted: 0,
    retries: 0,
  };
  readonly #wheel;
  readonly #wrapped: boolean;
  /** The budget retries and hedges are paid from, shared when both are on. */
  readonly #budget: RetryBudget | undefined;
  /** A hedging budget of its own (the caller passed one): it needs the deposits too. */
  readonly #hedgeBudget: RetryBudget | undefined;

  constructor(
    readonly name: string,
    readonly clock: Clock,
    readonly timeoutMs: number | undefined,
    readonly breaker: BreakerLike | undefined,
    readonly limiter: LimiterLike | undefined,
    readonly retry: Retry | undefined,
    readonly hedge: Hedge | undefined,
  ) {
    this.#wheel = deadlineWheelFor(clock);
    this.#wrapped = typeof breaker?.wrap === 'function';
    this.#budget = retry?.budget ?? hedge?.budget;
    this.#hedgeBudget = hedge?.budget !== this.#budget ? hedge?.budget : undefined;
  }

  execute<T>(work: (ctx: AttemptContext) => Promise<T> | T, options?: ExecuteOptions): Promise<T> {
    const now = this.clock.now();
    this.counts.calls++;
    let deadlineMs = this.timeoutMs;
    let priority: Priority = 'interactive';
    let signal: AbortSignal | undefined;
    let idempotent = false;
    if (options !== undefined) {
      try {
        if (options.priority !== undefined) priority = checkPriority(options.priority);
        if (options.deadlineMs !== undefined) {
          deadlineMs = checkNumber('deadlineMs', options.deadlineMs, Number.NEGATIVE_INFINITY);
          // A deadline computed from what is left of a request's budget may already be spent: never start it.
          if (deadlineMs <= 0) {
            this.counts.deadlineExceeded++;
            return Promise.reject(deadlineError(this.name));
          }
        }
      } catch (error) {
        return Promise.reject(error);
      }
      signal = options.signal;
      idempotent = options.idempotent === true;
      if (signal?.aborted) {
        this.counts.aborted++;
        return Promise.reject(abortedError(this.name, signal.reason));
      }
    }
    if (deadlineMs === undefined && signal === undefined) {
      return this.#run(work, undefined, priority, idempotent, now);
    }
    const deadlineAt = deadlineMs === undefined ? Number.POSITIVE_INFINITY : now + deadlineMs;
    const op = new Operation(this.name, this.clock, deadlineAt, signal, this.counts);
    return op.race(this.#run(work, op, priority, idempotent, now), this.#wheel);
  }

  /**
   * The first attempt, written flat and without an async frame (a `.then` pair costs less than one here):
   * no allocation but the limiter's permit and the two continuations. Anything unusual (queueing, failure,
   * retry, hedging, an opossum breaker) leaves for a slower path.
   */
  #run<T>(
    work: (ctx: AttemptContext) => Promise<T> | T,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    start: number,
  ): Promise<T> {
    const limiter = this.limiter;
    if (limiter === undefined) return this.#start(work, op, idempotent, start, undefined);
    const permit = limiter.tryAcquire(priority);
    if (permit === undefined) return this.#queue(work, op, priority, idempotent, limiter);
    return this.#start(work, op, idempotent, start, permit);
  }

  async #queue<T>(
    work: (ctx: AttemptContext) => Promise<T> | T,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    limiter: LimiterLike,
  ): Promise<T> {
    let permit: LimiterPermit;
    try {
      permit = await limiter.acquire(priority, op?.deadlineAt ?? Number.POSITIVE_INFINITY, op?.callerSignal);
    } catch (error) {
      if (op !== undefined) {
        if (op.ended === undefined) this.counts.shed++;
        op.settle();
      } else this.counts.shed++;
      throw error;
    }
    return this.#start(work, op, idempotent, this.clock.now(), permit);
  }

  #start<T>(
    work: (ctx: AttemptContext) => Promise<T> | T,
    op: Operation | undefined,
    idempotent: boolean,
    start: number,
    permit: LimiterPermit | undefined,
  ): Promise<T> {
    this.#budget?.deposit(start);
    this.#hedgeBudget?.deposit(start);
    if (this.#wrapped || (this.hedge !== undefined && idempotent)) {
      return this.#slow(work, op, idempotent, start, permit, undefined);
    }
    const breaker = this.breaker;
    let breakerPermit = -1;
    let result: Promise<T> | T;
    try {
      if (breaker !== undefined) breakerPermit = breaker.acquire(start);
      result = work(op ?? FIRST_ATTEMPT);
    } catch (error) {
      return this.#slow(work, op, idempotent, start, permit, { error, breakerPermit });
    }
    if (!(result instanceof Promise)) {
      if (!isThenable(result)) {
        this.#succeeded(op, start, permit, breakerPermit);
        return Promise.resolve(result);
      }
      result = Promise.resolve(result);
    }
    return result.then(
      (value) => {
        this.#succeeded(op, start, permit, breakerPermit);
        return value;
      },
      (error: unknown) => this.#slow(work, op, idempotent, start, permit, { error, breakerPermit }),
    );
  }

  #succeeded(
    op: Operation | undefined,
    start: number,
    permit: LimiterPermit | undefined,
    breakerPermit: number,
  ): void {
    const end = this.clock.now();
    if (breakerPermit >= 0) (this.breaker as BreakerLike).onSuccess(breakerPermit, end - start, end);
    if (permit !== undefined) {
      const outcome = op?.ended === undefined ? 'success' : limiterOutcome(undefined, op);
      (this.limiter as LimiterLike).release(permit, outcome, end - start);
    }
    if (op === undefined) this.counts.successes++;
    else {
      if (op.ended === undefined) this.counts.successes++;
      op.settle();
    }
  }

  /** Failures, retries, hedging and wrapping breakers. Holds the limiter permit until the last attempt ends. */
  async #slow<T>(
    work: (ctx: AttemptContext) => Promise<T> | T,
    op: Operation | undefined,
    idempotent: boolean,
    callStart: number,
    permit: LimiterPermit | undefined,
    firstFailure: { error: unknown; breakerPermit: number } | undefined,
  ): Promise<T> {
    const { breaker, retry, clock } = this;
    let attempt = 1;
    let start = callStart;
    let previousDelayMs = 0;
    let outcome: LimiterOutcome = 'ignore';
    let failure = firstFailure;
    try {
      for (;;) {
        if (failure === undefined) {
          let breakerPermit = -1;
          try {
            const ctx = op ?? FIRST_ATTEMPT;
            let value: T;
            if (this.#wrapped)
              value = await (breaker as Required<BreakerLike>).wrap(async () =>
                this.#attempt(work, ctx, idempotent, start),
              );
            else {
              if (breaker !== undefined) breakerPermit = breaker.acquire(start);
              value = await this.#attempt(work, ctx, idempotent, start);
            }
            const end = clock.now();
            if (breakerPermit >= 0) (breaker as BreakerLike).onSuccess(breakerPermit, end - start, end);
            outcome = 'success';
            if (op?.ended === undefined) this.counts.successes++;
            return value;
          } catch (error) {
            failure = { error, breakerPermit };
          }
        }
        const { error, breakerPermit } = failure;
        failure = undefined;
        const end = clock.now();
        if (breakerPermit >= 0) (breaker as BreakerLike).onFailure(breakerPermit, end - start, end, error);
        outcome = limiterOutcome(error, op);
        // Our own open breaker means fail fast: waiting out its open time here would hold the caller and the permit.
        const ownRejection = breaker !== undefined && breakerPermit < 0 && !this.#wrapped;
        if (retry === undefined || op?.ended !== undefined || ownRejection) throw this.#failed(error, op);
        const deadlineAt = op?.deadlineAt ?? Number.POSITIVE_INFINITY;
        const delayMs = retry.decide(error, attempt, idempotent, deadlineAt - end, end, previousDelayMs);
        if (delayMs < 0) {
          if (delayMs !== NO_RETRY_BUDGET) throw this.#failed(error, op);
          throw this.#failed(
            new BallastError('BALLAST_RETRY_BUDGET_EXHAUSTED', `${this.name}: retry budget exhausted`, {
              cause: error,
              source: this.name,
            }),
            op,
          );
        }
        this.counts.retries++;
        if (delayMs > 0) await this.#sleep(delayMs);
        if (op?.ended !== undefined) throw op.ended;
        previousDelayMs = delayMs;
        attempt++;
        // A retry needs a context that says which attempt it is.
        op ??= new Operation(this.name, clock, Number.POSITIVE_INFINITY, undefined);
        op.attempt = attempt;
        start = clock.now();
      }
    } finally {
      if (permit !== undefined)
        (this.limiter as LimiterLike).release(permit, outcome, clock.now() - callStart);
      op?.settle();
    }
  }

  #attempt<T>(
    work: (ctx: AttemptContext) => Promise<T> | T,
    ctx: AttemptContext,
    idempotent: boolean,
    now: number,
  ): Promise<T> | T {
    if (this.hedge !== undefined && idempotent) return runHedged(this.hedge, work, ctx, this.clock, now);
    return work(ctx);
  }

  /** Counts how a call ended, unless the race already did (deadline, caller abort). */
  #failed(error: unknown, op: Operation | undefined): unknown {
    if (op?.ended !== undefined) return error;
    switch ((error as { code?: unknown } | null | undefined)?.code) {
      case 'BALLAST_CIRCUIT_OPEN':
        this.counts.circuitOpen++;
        return error;
      case 'BALLAST_SHED':
        this.counts.shed++;
        return error;
      default:
        this.counts.failures++;
        return error;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  stats(): PolicyStats {
    const now = this.clock.now();
    return {
      name: this.name,
      counts: { ...this.counts },
      breaker: (this.breaker as StatsSource<CircuitBreakerStats> | undefined)?.stats?.(now),
      limiter: (this.limiter as StatsSource<LimiterStats> | undefined)?.stats?.(now),
      retryBudget: this.#budget?.stats(now),
    };
  }
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null | undefined)?.then === 'function';
}

/** Deadline expiry says the dependency is overloaded; an attempt stopped by the breaker says nothing. */
function limiterOutcome(error: unknown, op: Operation | undefined): LimiterOutcome {
  if (op?.ended?.code === 'BALLAST_DEADLINE_EXCEEDED') return 'dropped';
  if (op?.ended !== undefined) return 'ignore';
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return code === 'BALLAST_CIRCUIT_OPEN' || code === 'BALLAST_SHED' ? 'ignore' : 'success';
}

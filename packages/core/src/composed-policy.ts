import type { CircuitBreakerStats } from './breaker/index.js';
import type { Clock } from './clock.js';
import { type DeadlineWheel, deadlineWheelFor } from './deadline-wheel.js';
import { abortedError, BallastError, deadlineError, invalidArgument, shedError } from './errors.js';
import { type Hedge, type HedgeAdmit, runHedgedTracked } from './hedge/index.js';
import type { LimiterStats } from './limiter/index.js';
import {
  type AttemptContext,
  failWith,
  NEVER_ABORTED,
  NEVER_ENDS,
  Operation,
  type Recover,
} from './operation.js';
import { checkBoolean, checkNumber } from './options.js';
import type {
  CallbackWork,
  ExecuteOptions,
  Policy,
  PolicyCounts,
  PolicyStats,
  StatsSource,
} from './policy.js';
import { NO_RETRY_BUDGET, type Retry, type RetryBudget } from './retry/index.js';
import type { BreakerLike, LimiterLike, LimiterOutcome, LimiterPermit, Priority } from './types.js';

type Work<T> = (ctx: AttemptContext) => Promise<T> | T;

/** The context of a first attempt with no deadline and no caller signal: shared, so the fast path allocates none. */
const FIRST_ATTEMPT: AttemptContext = Object.freeze({
  signal: NEVER_ABORTED,
  endSignal: NEVER_ENDS,
  attempt: 1,
  deadlineAt: Number.POSITIVE_INFINITY,
  remainingMs: () => Number.POSITIVE_INFINITY,
});

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

function checkSignal(value: unknown): AbortSignal {
  const s = value as AbortSignal | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.addEventListener !== 'function' ||
    typeof s.aborted !== 'boolean'
  ) {
    throw invalidArgument('signal', value, 'an AbortSignal');
  }
  return s;
}

/**
 * The policy behind {@link createPolicy}: deadline → admission/limiter → breaker → retry/hedge → work.
 * The first attempt of a call runs on a flat path without an async frame; queueing, failures, retries,
 * hedging and wrapping breakers take the slower paths. The limiter permit is held until the work (every
 * attempt, every hedge) has really stopped, so in-flight counts tell the truth about the dependency.
 */
export class ComposedPolicy implements Policy {
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
  readonly #wheel: DeadlineWheel;
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

  execute<T>(work: Work<T>, options?: ExecuteOptions): Promise<T> {
    return this.#call(work, false, options, undefined);
  }

  executeCallback<T>(work: CallbackWork<T>, options?: ExecuteOptions, recover?: Recover<T>): Promise<T> {
    if (recover !== undefined && typeof recover !== 'function')
      return Promise.reject(invalidArgument('recover', recover, 'a function'));
    return this.#call(work, true, options, recover);
  }

  /** `callback` says which form `work` has; `recover` answers every way the call can fail. */
  #call<T>(
    work: Work<T> | CallbackWork<T>,
    callback: boolean,
    options: ExecuteOptions | undefined,
    recover: Recover<T> | undefined,
  ): Promise<T> {
    const now = this.clock.now();
    let deadlineMs = this.timeoutMs;
    let priority: Priority = 'interactive';
    let signal: AbortSignal | undefined;
    let idempotent = false;
    if (options !== undefined) {
      // Never throw synchronously: every mistake becomes a rejection, before any work starts.
      try {
        if (typeof options !== 'object' || options === null)
          throw invalidArgument('options', options, 'an object');
        if (options.priority !== undefined) priority = checkPriority(options.priority);
        if (options.deadlineMs !== undefined) {
          deadlineMs = checkNumber('deadlineMs', options.deadlineMs, Number.NEGATIVE_INFINITY);
        }
        if (options.idempotent !== undefined) idempotent = checkBoolean('idempotent', options.idempotent);
        if (options.signal !== undefined) signal = checkSignal(options.signal);
      } catch (error) {
        return rejected(recover, error);
      }
    }
    if (typeof work !== 'function') return rejected(recover, invalidArgument('work', work, 'a function'));
    this.counts.calls++;
    if (deadlineMs !== undefined && deadlineMs <= 0) {
      // A deadline computed from what is left of a request's budget may already be spent: never start it.
      this.counts.deadlineExceeded++;
      return rejected(recover, deadlineError(this.name));
    }
    if (signal?.aborted) {
      this.counts.aborted++;
      return rejected(recover, abortedError(this.name, signal.reason));
    }
    if (deadlineMs === undefined && signal === undefined)
      return this.#run(work, callback, recover, undefined, priority, idempotent, now);
    const op = new Operation(
      this.name,
      this.clock,
      now + (deadlineMs ?? Number.POSITIVE_INFINITY),
      signal,
      this.counts,
    );
    // Registered before the work starts, so a call that ends synchronously unregisters what it registered.
    op.arm(this.#wheel);
    return this.#run(work, callback, recover, op, priority, idempotent, now);
  }

  #run<T>(
    work: Work<T> | CallbackWork<T>,
    callback: boolean,
    recover: Recover<T> | undefined,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    start: number,
  ): Promise<T> {
    if (op?.ended !== undefined) {
      op.settle();
      return rejected(recover, op.ended);
    }
    const limiter = this.limiter;
    let permit: LimiterPermit | undefined;
    if (limiter !== undefined) {
      permit = limiter.tryAcquire(priority);
      if (permit === undefined) return this.#wait(work, callback, recover, op, priority, idempotent, start);
    }
    return callback
      ? this.#startCallback(work as CallbackWork<T>, recover, op, priority, idempotent, start, permit)
      : this.#start(work as Work<T>, op, priority, idempotent, start, permit);
  }

  /** The limit is full: fail at once if the breaker is open, else queue for a permit. */
  #wait<T>(
    work: Work<T> | CallbackWork<T>,
    callback: boolean,
    recover: Recover<T> | undefined,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    start: number,
  ): Promise<T> {
    // Waiting for a permit behind calls the open breaker already gave up on would only delay the same answer.
    const open = this.#openCircuit(start);
    if (open !== undefined) {
      this.counts.circuitOpen++;
      op?.settle();
      return rejected(recover, open);
    }
    const limiter = this.limiter as LimiterLike;
    const queued = raced(op, this.#queue(work, callback, op, priority, idempotent, limiter));
    return recover === undefined ? queued : queued.then(undefined, recover);
  }

  /**
   * The breaker's own rejection (counted and reported by it) when it is open and stays open past `now`, else
   * undefined. Only asked when the limit is full: a call that would queue learns at once.
   */
  #openCircuit(now: number): unknown {
    const breaker = this.breaker;
    if (breaker === undefined || this.#wrapped || breaker.state !== 'open') return undefined;
    const remainingMs = (breaker as StatsSource<CircuitBreakerStats>).stats?.(now)?.remainingOpenMs ?? 0;
    if (!(remainingMs > 0)) return undefined;
    let permit: number;
    try {
      permit = breaker.acquire(now);
    } catch (error) {
      return error;
    }
    // Admitted after all (a breaker of another make): hand the permit back uncounted and queue as usual.
    breaker.onFailure(permit, 0, now, shedError('limit', this.name));
    return undefined;
  }

  async #queue<T>(
    work: Work<T> | CallbackWork<T>,
    callback: boolean,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    limiter: LimiterLike,
  ): Promise<T> {
    let permit: LimiterPermit;
    try {
      permit = await limiter.acquire(priority, op?.deadlineAt ?? Number.POSITIVE_INFINITY, op?.callerSignal);
    } catch (error) {
      if (op?.ended === undefined) this.counts.shed++;
      op?.settle();
      throw error;
    }
    if (op?.ended !== undefined) {
      limiter.release(permit, 'ignore', 0);
      op.settle();
      throw op.ended;
    }
    // Raced already (the caller raced this whole queued path).
    const start = this.clock.now();
    return callback
      ? this.#startCallback(
          work as CallbackWork<T>,
          undefined,
          op,
          priority,
          idempotent,
          start,
          permit,
          false,
        )
      : this.#start(work as Work<T>, op, priority, idempotent, start, permit, false);
  }

  /**
   * The first attempt, written flat and without an async frame (a `.then` pair costs less than one here): no
   * allocation but the limiter's permit and the two continuations. With an operation (a deadline or a caller's
   * signal) and `race`, the promise it returns is the race itself: the deadline rejects it at once.
   */
  #start<T>(
    work: Work<T>,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    start: number,
    permit: LimiterPermit | undefined,
    race = true,
  ): Promise<T> {
    const racing = race ? op : undefined;
    if (this.#wrapped || (this.hedge !== undefined && idempotent)) {
      return raced(racing, this.#slow(work, op, priority, idempotent, start, permit, undefined));
    }
    const breaker = this.breaker;
    let breakerPermit = -1;
    let result: Promise<T> | T;
    try {
      if (breaker !== undefined) breakerPermit = breaker.acquire(start);
      this.#deposit(start);
      result = work(op ?? FIRST_ATTEMPT);
    } catch (error) {
      return raced(
        racing,
        this.#slow(work, op, priority, idempotent, start, permit, { error, breakerPermit }),
      );
    }
    if (!(result instanceof Promise)) {
      if (!isThenable(result)) {
        this.#succeeded(op, start, permit, breakerPermit);
        return Promise.resolve(result);
      }
      result = Promise.resolve(result);
    }
    const pending = result;
    if (racing === undefined) {
      return pending.then(
        (value) => {
          this.#succeeded(op, start, permit, breakerPermit);
          return value;
        },
        (error: unknown) =>
          this.#slow(work, op, priority, idempotent, start, permit, { error, breakerPermit }),
      );
    }
    // The attempt and the race in two promises (op.race around the `.then` above took three).
    return racing.raceWith<T>((resolve, reject) => {
      pending.then(
        (value) => {
          try {
            this.#succeeded(op, start, permit, breakerPermit);
            resolve(value);
          } catch (error) {
            // A breaker or limiter of the caller's that throws: the call fails with it instead of hanging.
            reject(error);
          }
        },
        (error: unknown) => {
          this.#slow(work, op, priority, idempotent, start, permit, { error, breakerPermit }).then(
            resolve,
            reject,
          );
        },
      );
    });
  }

  /**
   * {@link ComposedPolicy.#start} for callback work: the call's one promise is the race's (or a plain one), and
   * the work's `done` settles it. Failures take the same slow path, with the work wrapped in a promise.
   */
  #startCallback<T>(
    work: CallbackWork<T>,
    recover: Recover<T> | undefined,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    start: number,
    permit: LimiterPermit | undefined,
    race = true,
  ): Promise<T> {
    const racing = race ? op : undefined;
    if (this.#wrapped || (this.hedge !== undefined && idempotent)) {
      const rest = raced(
        racing,
        this.#slow(promised(work), op, priority, idempotent, start, permit, undefined),
      );
      return recover === undefined ? rest : rest.then(undefined, recover);
    }
    const run = (resolve: (value: T | Promise<T>) => void, reject: (error: unknown) => void): void => {
      const breaker = this.breaker;
      let breakerPermit = -1;
      let answered = false;
      let threw = false;
      const done = (error: unknown, value?: T): void => {
        if (answered) return;
        answered = true;
        if (!threw && (error === undefined || error === null)) {
          try {
            this.#succeeded(op, start, permit, breakerPermit);
          } catch (thrown) {
            // A breaker or limiter of the caller's that throws: the call fails with it instead of hanging.
            failWith(resolve, reject, recover, thrown);
            return;
          }
          resolve(value as T);
          return;
        }
        this.#afterCallback(
          work,
          recover,
          racing,
          op,
          priority,
          idempotent,
          start,
          permit,
          error,
          breakerPermit,
          resolve,
          reject,
        );
      };
      try {
        if (breaker !== undefined) breakerPermit = breaker.acquire(start);
        this.#deposit(start);
        work(op ?? FIRST_ATTEMPT, done);
      } catch (error) {
        threw = true;
        done(error);
      }
    };
    return racing === undefined ? new Promise<T>(run) : racing.raceWith<T>(run, recover);
  }

  /**
   * A failed first attempt of callback work: the slow path (retries, counts, permits), then the call's answer —
   * with `recover` unless the race already answered the call (the deadline or the caller ended it first; recover
   * ran then): never twice. The slow path's promise is always listened to, so a failure after the race ended is
   * never an unhandled rejection.
   */
  #afterCallback<T>(
    work: CallbackWork<T>,
    recover: Recover<T> | undefined,
    racing: Operation | undefined,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    start: number,
    permit: LimiterPermit | undefined,
    error: unknown,
    breakerPermit: number,
    resolve: (value: T | Promise<T>) => void,
    reject: (error: unknown) => void,
  ): void {
    this.#slow(promised(work), op, priority, idempotent, start, permit, { error, breakerPermit }).then(
      resolve,
      (failure: unknown) => {
        if (racing?.ended === undefined) failWith(resolve, reject, recover, failure);
      },
    );
  }

  #deposit(now: number): void {
    this.#budget?.deposit(now);
    this.#hedgeBudget?.deposit(now);
  }

  #succeeded(
    op: Operation | undefined,
    start: number,
    permit: LimiterPermit | undefined,
    breakerPermit: number,
  ): void {
    const end = this.clock.now();
    if (breakerPermit >= 0) (this.breaker as BreakerLike).onSuccess(breakerPermit, end - start, end);
    if (permit !== undefined)
      (this.limiter as LimiterLike).release(permit, endedOutcome(op) ?? 'success', end - start);
    if (op === undefined) this.counts.successes++;
    else {
      if (op.ended === undefined) this.counts.successes++;
      op.settle();
    }
  }

  /**
   * Failures, retries, hedging and wrapping breakers. Holds the limiter permit until the last attempt, and every
   * hedge it started, has stopped; the limiter's sample is the last attempt's duration.
   */
  async #slow<T>(
    work: Work<T>,
    op: Operation | undefined,
    priority: Priority,
    idempotent: boolean,
    callStart: number,
    permit: LimiterPermit | undefined,
    firstFailure: { error: unknown; breakerPermit: number } | undefined,
  ): Promise<T> {
    const { breaker, retry, clock } = this;
    let start = callStart;
    let previousDelayMs = 0;
    let outcome: LimiterOutcome = 'ignore';
    let failure = firstFailure;
    // Hedged losers may still run after the winner answered: the permit waits for them.
    let losersDone: Promise<void> | undefined;
    const attempt = async (ctx: AttemptContext): Promise<T> => {
      if (this.hedge === undefined || !idempotent) return work(ctx);
      const tracked = runHedgedTracked(this.hedge, work, ctx, clock, start, this.#admitHedge(priority));
      losersDone = tracked.done;
      return tracked.result;
    };
    try {
      for (;;) {
        if (failure === undefined) {
          let breakerPermit = -1;
          try {
            const ctx = op ?? FIRST_ATTEMPT;
            // The budget counts calls, not attempts: a retry that deposited would pay for a quarter of itself
            // (at ratio 0.2 retries could reach 1 / (1 - 0.2) = 1.25x the calls instead of 1.2x).
            const first = (op?.attempt ?? 1) === 1;
            let value: T;
            if (this.#wrapped) {
              if (first) this.#deposit(start);
              value = await (breaker as Required<BreakerLike>).wrap(() => attempt(ctx));
            } else {
              if (breaker !== undefined) breakerPermit = breaker.acquire(start);
              if (first) this.#deposit(start);
              value = await attempt(ctx);
            }
            const end = clock.now();
            if (breakerPermit >= 0) (breaker as BreakerLike).onSuccess(breakerPermit, end - start, end);
            outcome = endedOutcome(op) ?? 'success';
            if (op?.ended === undefined) this.counts.successes++;
            return value;
          } catch (error) {
            failure = { error, breakerPermit };
          }
        }
        const { error, breakerPermit } = failure;
        failure = undefined;
        const end = clock.now();
        // A call the deadline or the caller ended says nothing about the dependency: the breaker sees that
        // ending (which it ignores, though a long one still counts as slow), not the driver's own error.
        if (breakerPermit >= 0)
          (breaker as BreakerLike).onFailure(breakerPermit, end - start, end, op?.ended ?? error);
        outcome = endedOutcome(op) ?? 'ignore';
        // Our own open breaker means fail fast: waiting out its open time here would hold the caller and the permit.
        const ownRejection = breaker !== undefined && breakerPermit < 0 && !this.#wrapped;
        if (retry === undefined || op?.ended !== undefined || ownRejection) throw this.#failed(error, op);
        const deadlineAt = op?.deadlineAt ?? Number.POSITIVE_INFINITY;
        const delayMs = retry.decide(
          error,
          op?.attempt ?? 1,
          idempotent,
          deadlineAt - end,
          end,
          previousDelayMs,
        );
        if (delayMs < 0) {
          if (delayMs !== NO_RETRY_BUDGET) throw this.#failed(error, op);
          const exhausted = new BallastError(
            'BALLAST_RETRY_BUDGET_EXHAUSTED',
            `${this.name}: retry budget exhausted`,
            {
              cause: error,
              source: this.name,
            },
          );
          throw this.#failed(exhausted, op);
        }
        this.counts.retries++;
        // A retry needs a context that says which attempt it is.
        op ??= new Operation(this.name, clock, Number.POSITIVE_INFINITY, undefined);
        if (delayMs > 0) await op.sleep(delayMs);
        if (op.ended !== undefined) throw op.ended;
        previousDelayMs = delayMs;
        op.attempt++;
        start = clock.now();
      }
    } finally {
      if (permit !== undefined) {
        const limiter = this.limiter as LimiterLike;
        const rttMs = clock.now() - start;
        if (losersDone === undefined) limiter.release(permit, outcome, rttMs);
        else void losersDone.then(() => limiter.release(permit, outcome, rttMs));
      }
      op?.settle();
    }
  }

  /** Each hedge needs a permit of its own: a hedge is one more call in flight at the dependency. */
  #admitHedge(priority: Priority): HedgeAdmit | undefined {
    const limiter = this.limiter;
    if (limiter === undefined) return undefined;
    return () => {
      const permit = limiter.tryAcquire(priority);
      return permit === undefined ? undefined : () => limiter.release(permit, 'ignore', 0);
    };
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

/** `work` raced against the operation's deadline and the caller's signal (as is without an operation). */
function raced<T>(op: Operation | undefined, work: Promise<T>): Promise<T> {
  return op === undefined ? work : op.race(work);
}

/** A failed call: `recover(error)` when there is one, else the rejection. */
function rejected<T>(recover: Recover<T> | undefined, error: unknown): Promise<T> {
  if (recover === undefined) return Promise.reject(error);
  return new Promise<T>((resolve, reject) => failWith(resolve, reject, recover, error));
}

/** Callback work as promise work, for the paths that retry or hedge it. */
function promised<T>(work: CallbackWork<T>): Work<T> {
  return (ctx) =>
    new Promise<T>((resolve, reject) => {
      work(ctx, (error, value) => {
        if (error === undefined || error === null) resolve(value as T);
        else reject(error);
      });
    });
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null | undefined)?.then === 'function';
}

/**
 * What the limiter learns from a call the deadline or the caller ended: a deadline says the dependency is
 * overloaded ('dropped'); a caller's abort says nothing. `undefined` when the call was not ended that way.
 * A failure of the dependency is not a latency sample either (a fast error would read as spare capacity).
 */
function endedOutcome(op: Operation | undefined): LimiterOutcome | undefined {
  const ended = op?.ended;
  if (ended === undefined) return undefined;
  return ended.code === 'BALLAST_DEADLINE_EXCEEDED' ? 'dropped' : 'ignore';
}

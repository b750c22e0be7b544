import type { Clock, TimerHandle } from '../clock.js';
import { abortedError, BallastError, isBallastError } from '../errors.js';
import type { Hedge } from './hedge.js';

/**
 * What each attempt of a hedged call receives; structurally the policy's `AttemptContext`, so a policy passes
 * its own context as `parent`.
 */
export interface HedgeAttemptContext {
  /** Aborted when the parent's signal aborts or when another attempt of the call won. */
  readonly signal: AbortSignal;
  /** The parent's attempt number (retries), 1-based. */
  readonly attempt: number;
  /** Absolute deadline in clock ms (`Infinity`: none). */
  readonly deadlineAt: number;
  /** Milliseconds left before the deadline. */
  remainingMs(): number;
  /** 0 for the original attempt, n for the n-th hedge; absent when the call was not hedged. */
  readonly hedge?: number | undefined;
}

/**
 * Runs one call of an idempotent operation with hedging. Attempt 0 starts at once with `parent` itself when no
 * hedge is possible (too few samples: no timer, no AbortController), else with its own context whose
 * AbortController is created when the work first reads `signal`. If it
 * has not settled after `hedge.delayMs()` and the budget pays, attempt 1 starts with its own context (and so
 * on up to `maxHedges`, re-arming the same single timer after each hedge: at most one timer is pending per call).
 *
 * - The first success wins: every other attempt's signal is aborted with a `BALLAST_ABORTED` error and its
 *   outcome is ignored. The winner's own latency is recorded in the hedge's tracker.
 * - A failure while another attempt still runs waits for that attempt.
 * - When every started attempt has failed, the call rejects at once with the last error (a pending hedge is
 *   cancelled: retrying is the retry policy's job).
 * - When the parent's signal aborts, every attempt is aborted with its reason and the call rejects with it (a
 *   non-Ballast reason is wrapped in `BALLAST_ABORTED`).
 *
 * @param hedge the strategy from `createHedge`
 * @param work the operation; it should stop when `ctx.signal` aborts
 * @param parent the call's context: its signal, attempt number and deadline
 * @param clock schedules the hedge timer and timestamps latencies
 * @param nowMs the current clock time (the call's start)
 * @throws the last attempt's error; `BALLAST_ABORTED` or the parent's BallastError reason when it aborts.
 * @example
 * const value = await runHedged(hedge, ({ signal }) => fetchRow(id, signal), ctx, clock, clock.now());
 */
export function runHedged<T>(
  hedge: Hedge,
  work: (ctx: HedgeAttemptContext) => Promise<T> | T,
  parent: HedgeAttemptContext,
  clock: Clock,
  nowMs: number,
): Promise<T> {
  const delayMs = hedge.delayMs(nowMs);
  if (delayMs < 0) return runOnce(hedge, work, parent, clock, nowMs);
  return new HedgedCall(hedge, work, parent, clock, delayMs).start(nowMs);
}

function runOnce<T>(
  hedge: Hedge,
  work: (ctx: HedgeAttemptContext) => Promise<T> | T,
  parent: HedgeAttemptContext,
  clock: Clock,
  startMs: number,
): Promise<T> {
  let result: Promise<T> | T;
  try {
    result = work(parent);
  } catch (error) {
    return Promise.reject(error);
  }
  return Promise.resolve(result).then((value) => {
    const end = clock.now();
    hedge.record(end - startMs, end);
    return value;
  });
}

/** One hedged call: its attempts, the single pending timer, and the promise it settles exactly once. */
class HedgedCall<T> {
  readonly #attempts: HedgedAttempt[] = [];
  readonly #starts: number[] = [];
  #running = 0;
  #settled = false;
  #timer: TimerHandle | undefined = undefined;
  #parentSignal: AbortSignal | undefined = undefined;
  #resolve: (value: T) => void = noop;
  #reject: (error: unknown) => void = noop;
  readonly #onTimer = (): void => this.#fireTimer();
  readonly #onParentAbort = (): void => this.#parentAborted();

  constructor(
    readonly hedge: Hedge,
    readonly work: (ctx: HedgeAttemptContext) => Promise<T> | T,
    readonly parent: HedgeAttemptContext,
    readonly clock: Clock,
    readonly delayMs: number,
  ) {}

  start(nowMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const signal = this.parent.signal;
      if (signal.aborted) {
        this.#parentAborted();
        return;
      }
      this.#parentSignal = signal;
      signal.addEventListener('abort', this.#onParentAbort, { once: true });
      this.#launch(0, nowMs);
      this.#timer = this.clock.setTimeout(this.#onTimer, this.delayMs);
    });
  }

  #launch(index: number, nowMs: number): void {
    const attempt = new HedgedAttempt(this.parent, index);
    this.#attempts.push(attempt);
    this.#starts.push(nowMs);
    this.#running++;
    let result: Promise<T> | T;
    try {
      result = this.work(attempt);
    } catch (error) {
      result = Promise.reject(error);
    }
    Promise.resolve(result).then(
      (value) => this.#succeeded(index, value),
      (error: unknown) => this.#failed(error),
    );
  }

  #fireTimer(): void {
    this.#timer = undefined;
    if (this.#settled) return;
    const index = this.#attempts.length;
    const now = this.clock.now();
    if (!this.hedge.tryHedge(index, this.delayMs, now)) return;
    this.#launch(index, now);
    if (index < this.hedge.maxHedges) this.#timer = this.clock.setTimeout(this.#onTimer, this.delayMs);
  }

  #succeeded(index: number, value: T): void {
    this.#running--;
    if (this.#settled) return;
    this.#finish();
    const end = this.clock.now();
    this.hedge.record(end - (this.#starts[index] as number), end);
    if (this.#attempts.length > 1) {
      const reason = new BallastError(
        'BALLAST_ABORTED',
        `${this.hedge.name}: hedged attempt lost to attempt ${index}`,
        { source: this.hedge.name },
      );
      for (let i = 0; i < this.#attempts.length; i++) if (i !== index) this.#attempts[i]?.abort(reason);
    }
    this.hedge.won(index);
    this.#resolve(value);
  }

  #failed(error: unknown): void {
    this.#running--;
    if (this.#settled || this.#running > 0) return;
    this.#finish();
    this.#reject(error);
  }

  #parentAborted(): void {
    if (this.#settled) return;
    this.#finish();
    const reason: unknown = this.parent.signal.reason;
    for (const a of this.#attempts) a.abort(reason);
    this.#reject(isBallastError(reason) ? reason : abortedError(this.hedge.name, reason));
  }

  /** Marks the call settled and releases its timer and parent listener. */
  #finish(): void {
    this.#settled = true;
    if (this.#timer !== undefined) {
      this.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#parentSignal?.removeEventListener('abort', this.#onParentAbort);
  }
}

/**
 * One attempt's context. Its AbortController is created on the first read of `signal`, so work that never
 * reads it costs no controller; aborting before that read makes the signal start out aborted.
 */
class HedgedAttempt implements HedgeAttemptContext {
  #controller: AbortController | undefined = undefined;
  #abortReason: unknown = undefined;
  #aborted = false;

  constructor(
    readonly parent: HedgeAttemptContext,
    readonly hedge: number,
  ) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get attempt(): number {
    return this.parent.attempt;
  }

  get deadlineAt(): number {
    return this.parent.deadlineAt;
  }

  remainingMs(): number {
    return this.parent.remainingMs();
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}

function noop(): void {}

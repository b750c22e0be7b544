import type { Clock, TimerHandle } from '../clock.js';
import { abortedError, BallastError, isBallastError } from '../errors.js';
import { type EndSignal, NEVER_ABORTED } from '../operation.js';
import type { Hedge } from './hedge.js';

/**
 * What each attempt of a hedged call receives; structurally the policy's `AttemptContext`, so a policy passes
 * its own context as `parent`.
 */
export interface HedgeAttemptContext {
  /** Aborted when the parent's signal aborts or when another attempt of the call won. */
  readonly signal: AbortSignal;
  /** An allocation-free stand-in for `signal` (see core's AttemptContext); a hedged attempt returns its signal. */
  readonly endSignal: EndSignal;
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
 * Asks for room to start one hedged attempt, e.g. a concurrency permit of the dependency's limiter.
 * `runHedged` calls it right before each hedge (attempt index >= 1; never for the original attempt, which runs
 * under the call's own permit), before the budget is charged. Returning `undefined` refuses: that hedge is skipped
 * with no budget withdrawal and no `hedge` event, the running attempts go on, and no further hedge is tried for
 * this call. Returning a function admits: `runHedged` calls it exactly once when that hedged attempt's work
 * settles (success, failure, or rejection after its signal aborted), or at once when the budget then refuses the
 * hedge. It must not throw; if it does, the hedge is skipped as if refused.
 */
export type HedgeAdmit = () => (() => void) | undefined;

/** What {@link runHedgedTracked} returns. */
export interface TrackedHedgedCall<T> {
  /** Settles exactly like the promise {@link runHedged} returns. */
  readonly result: Promise<T>;
  /**
   * Resolves (never rejects, never before `result` settled) once no attempt of the call is running any more:
   * together with `result` when it rejects; when it resolves, once every aborted loser's work has settled too
   * (together with `result` when none still ran).
   */
  readonly done: Promise<void>;
}

/**
 * Runs one call of an idempotent operation with hedging. Attempt 0 starts at once with `parent` itself when no
 * hedge is possible (too few samples or `maxHedges` 0: no timer, no AbortController, no listener, and the call
 * settles exactly as the work's promise does), else with its own context whose
 * AbortController is created when the work first reads `signal`. If it has not settled after `hedge.delayMs()`,
 * `admit` (when given) admits it and the budget pays, attempt 1 starts with its own context (and so on up to
 * `maxHedges`, re-arming the same single timer after each hedge: at most one timer is pending per call). A hedge
 * refused by `admit` or the budget ends hedging for the call.
 *
 * - The first success wins: the call resolves with it at once, every other attempt's signal is aborted with a
 *   `BALLAST_ABORTED` error and its outcome is ignored. The winner's own latency is recorded in the hedge's
 *   tracker. The aborted losers may still be running when the call resolves: use {@link runHedgedTracked} to
 *   learn when they stopped (to hold a concurrency permit until then).
 * - A failure while another attempt still runs waits for that attempt.
 * - When every started attempt has failed, the call rejects with the last error (a pending hedge is cancelled:
 *   retrying is the retry policy's job).
 * - When the parent's signal aborts, no further hedge starts and every attempt is aborted with its reason; the
 *   call rejects with it (a non-Ballast reason is wrapped in `BALLAST_ABORTED`) once every started attempt has
 *   settled, whatever they settled with. Work that ignores its signal thus keeps the call pending.
 * - So the call rejects only when none of its attempts is running any more; it may resolve while aborted losers
 *   still run.
 * - No listener is added to `parent.signal` when it is the shared never-aborting `NEVER_ABORTED`; a listener
 *   added to any other parent signal is removed when the call settles.
 *
 * @param hedge the strategy from `createHedge`
 * @param work the operation; it should stop when `ctx.signal` aborts
 * @param parent the call's context: its signal, attempt number and deadline
 * @param clock schedules the hedge timer and timestamps latencies
 * @param nowMs the current clock time (the call's start)
 * @param admit called before each hedge to admit it (see {@link HedgeAdmit}); all hedges admitted when absent
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
  admit?: HedgeAdmit | undefined,
): Promise<T> {
  const delayMs = hedge.delayMs(nowMs);
  if (delayMs < 0) return runOnce(hedge, work, parent, clock, nowMs);
  return new HedgedCall(hedge, work, parent, clock, delayMs, admit, undefined).start(nowMs);
}

/**
 * {@link runHedged}, also telling when every attempt it started has stopped: `result` is the call's outcome,
 * `done` resolves once no attempt is running (see {@link TrackedHedgedCall}). A policy holds the call's
 * concurrency permit until `done`, since a loser aborted after another attempt won still occupies the dependency
 * until its work settles.
 * @example
 * const admit = () => {
 *   const p = limiter.tryAcquire(priority);
 *   return p === undefined ? undefined : () => limiter.release(p, 'ignore', 0);
 * };
 * const { result, done } = runHedgedTracked(hedge, work, ctx, clock, clock.now(), admit);
 * try { return await result; } finally { void done.then(releaseCallPermit); }
 */
export function runHedgedTracked<T>(
  hedge: Hedge,
  work: (ctx: HedgeAttemptContext) => Promise<T> | T,
  parent: HedgeAttemptContext,
  clock: Clock,
  nowMs: number,
  admit?: HedgeAdmit | undefined,
): TrackedHedgedCall<T> {
  const delayMs = hedge.delayMs(nowMs);
  if (delayMs < 0) {
    const result = runOnce(hedge, work, parent, clock, nowMs);
    return { result, done: result.then(noop, noop) };
  }
  let allSettled: () => void = noop;
  const done = new Promise<void>((resolve) => {
    allSettled = resolve;
  });
  return {
    result: new HedgedCall(hedge, work, parent, clock, delayMs, admit, allSettled).start(nowMs),
    done,
  };
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

/**
 * One hedged call: its attempts, the single pending timer, and the promise it settles exactly once. It settles
 * on a failure or the parent's abort only when no attempt is running; `onAllSettled` runs once, after that
 * settlement, when the last running attempt has settled.
 */
class HedgedCall<T> {
  readonly #attempts: HedgedAttempt[] = [];
  readonly #starts: number[] = [];
  /** The admitted hedges' release functions, by attempt index; cleared once called. */
  readonly #releases: Array<(() => void) | undefined> = [];
  #running = 0;
  #settled = false;
  /** Set when the parent aborted: the error the call rejects with once no attempt runs. */
  #abortError: unknown = undefined;
  #stopping = false;
  /** Called once when the call has settled and none of its attempts runs any more. */
  #onAllSettled: (() => void) | undefined;
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
    readonly admit: HedgeAdmit | undefined,
    onAllSettled: (() => void) | undefined,
  ) {
    this.#onAllSettled = onAllSettled;
  }

  start(nowMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const signal = this.parent.signal;
      if (signal.aborted) {
        this.#parentAborted();
        return;
      }
      // The shared never-aborting signal of calls without deadline or caller signal: listening would only pile
      // up listeners on one global object.
      if (signal !== NEVER_ABORTED) {
        this.#parentSignal = signal;
        signal.addEventListener('abort', this.#onParentAbort, { once: true });
      }
      this.#launch(0, nowMs, undefined);
      this.#timer = this.clock.setTimeout(this.#onTimer, this.delayMs);
    });
  }

  #launch(index: number, nowMs: number, release: (() => void) | undefined): void {
    const attempt = new HedgedAttempt(this.parent, index);
    this.#attempts.push(attempt);
    this.#starts.push(nowMs);
    this.#releases.push(release);
    this.#running++;
    let result: Promise<T> | T;
    try {
      result = this.work(attempt);
    } catch (error) {
      result = Promise.reject(error);
    }
    Promise.resolve(result).then(
      (value) => this.#attemptSettled(index, true, value),
      (error: unknown) => this.#attemptSettled(index, false, error),
    );
  }

  #fireTimer(): void {
    this.#timer = undefined;
    if (this.#settled || this.#stopping) return;
    const index = this.#attempts.length;
    let release: (() => void) | undefined;
    if (this.admit !== undefined) {
      try {
        release = this.admit();
      } catch {
        release = undefined;
      }
      if (release === undefined) return;
    }
    const now = this.clock.now();
    if (!this.hedge.tryHedge(index, this.delayMs, now)) {
      release?.();
      return;
    }
    this.#launch(index, now, release);
    if (index < this.hedge.maxHedges) this.#timer = this.clock.setTimeout(this.#onTimer, this.delayMs);
  }

  #attemptSettled(index: number, ok: boolean, outcome: unknown): void {
    this.#running--;
    const release = this.#releases[index];
    this.#releases[index] = undefined;
    try {
      // Before the call settles, so the admitted room is back when the caller resumes.
      release?.();
    } finally {
      if (!this.#settled) {
        if (this.#stopping) {
          if (this.#running === 0) this.#settle(false, this.#abortError);
        } else if (ok) this.#won(index, outcome as T);
        else if (this.#running === 0) this.#settle(false, outcome);
      }
      if (this.#settled && this.#running === 0) this.#allSettled();
    }
  }

  #won(index: number, value: T): void {
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
    this.#settle(true, value);
  }

  #parentAborted(): void {
    if (this.#settled || this.#stopping) return;
    this.#stopping = true;
    this.#stopTimer();
    const reason: unknown = this.parent.signal.reason;
    this.#abortError = isBallastError(reason) ? reason : abortedError(this.hedge.name, reason);
    for (const a of this.#attempts) a.abort(reason);
    if (this.#running === 0) {
      this.#settle(false, this.#abortError);
      this.#allSettled();
    }
  }

  /** Settles the call once, releasing its timer and parent listener. */
  #settle(ok: boolean, outcome: unknown): void {
    this.#settled = true;
    this.#stopTimer();
    if (this.#parentSignal !== undefined) {
      this.#parentSignal.removeEventListener('abort', this.#onParentAbort);
      this.#parentSignal = undefined;
    }
    if (ok) this.#resolve(outcome as T);
    else this.#reject(outcome);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) {
      this.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #allSettled(): void {
    const onAllSettled = this.#onAllSettled;
    if (onAllSettled === undefined) return;
    this.#onAllSettled = undefined;
    onAllSettled();
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

  /** A hedged attempt has its own signal anyway: it is its end signal. */
  get endSignal(): EndSignal {
    return this.signal;
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

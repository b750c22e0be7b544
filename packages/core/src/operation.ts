import type { Clock } from './clock.js';
import type { DeadlineWheel, Expirable } from './deadline-wheel.js';
import { abortedError, type BallastError, deadlineError } from './errors.js';

/** What the work function receives for each attempt. */
export interface AttemptContext {
  /**
   * Aborted when the call's deadline passes, when the caller's signal aborts, or when a hedged sibling won.
   * Created lazily on first read: work that never reads it pays nothing for it.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** Absolute deadline in clock ms (`Infinity` when none). */
  readonly deadlineAt: number;
  /** Milliseconds left before the deadline (`Infinity` when none); never negative. */
  remainingMs(): number;
}

const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * One logical call through a policy: its deadline, the caller's signal and a lazily created AbortController.
 * It is the attempt context the work function receives (no extra object per attempt unless hedging).
 */
export class Operation implements AttemptContext, Expirable {
  attempt = 1;
  /** True once the policy finished with the work (see {@link Operation.settle}). */
  settled = false;
  wheelSlot = -1;
  wheelPrev: Expirable | undefined = undefined;
  wheelNext: Expirable | undefined = undefined;
  #wheel: DeadlineWheel | undefined = undefined;
  /** Set once the deadline passed or the caller aborted: the error the call ended with. */
  ended: BallastError | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #reject: ((error: unknown) => void) | undefined = undefined;
  #onCallerAbort: (() => void) | undefined = undefined;

  constructor(
    readonly source: string,
    readonly clock: Clock,
    readonly deadlineAt: number,
    readonly callerSignal: AbortSignal | undefined,
    /** Counts how the call ended when the deadline or the caller ends it (the policy's counters). */
    readonly endings: { deadlineExceeded: number; aborted: number } | undefined = undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    // Without a deadline the caller's own signal is exactly the right one: no allocation.
    if (this.deadlineAt === Number.POSITIVE_INFINITY) return this.callerSignal ?? NEVER_ABORTED;
    this.#controller = new AbortController();
    if (this.ended !== undefined) this.#controller.abort(this.ended);
    else if (this.callerSignal?.aborted)
      this.#controller.abort(abortedError(this.source, this.callerSignal.reason));
    return this.#controller.signal;
  }

  remainingMs(): number {
    if (this.deadlineAt === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.deadlineAt - this.clock.now());
  }

  /** Called by the deadline wheel. */
  expire(): void {
    this.#end(deadlineError(this.source));
  }

  /**
   * Settles with `work`, unless the deadline passes or the caller aborts first: then rejects at once while
   * `work` goes on until it notices the aborted signal. The policy calls {@link Operation.settle} when `work`
   * is done with its permits, which stops the deadline and the caller's signal from counting it any more.
   */
  race<T>(work: Promise<T>, wheel: DeadlineWheel): Promise<T> {
    const caller = this.callerSignal;
    if (caller?.aborted) {
      this.#end(abortedError(this.source, caller.reason));
    } else if (caller !== undefined) {
      this.#onCallerAbort = () => this.#end(abortedError(this.source, caller.reason));
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
    const raced = new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      // The promise's own functions, no wrappers: a later call to either is a no-op.
      work.then(resolve, reject);
    });
    if (this.ended !== undefined) this.#reject?.(this.ended);
    else if (this.deadlineAt !== Number.POSITIVE_INFINITY) {
      this.#wheel = wheel;
      wheel.add(this);
    }
    return raced;
  }

  /** The work is done: the deadline and the caller's signal no longer apply. */
  settle(): void {
    this.settled = true;
    this.#reject = undefined;
    this.#wheel?.remove(this);
    if (this.#onCallerAbort !== undefined) {
      this.callerSignal?.removeEventListener('abort', this.#onCallerAbort);
      this.#onCallerAbort = undefined;
    }
  }

  #end(error: BallastError): void {
    if (this.ended !== undefined || this.settled) return;
    this.ended = error;
    if (this.endings !== undefined) {
      if (error.code === 'BALLAST_DEADLINE_EXCEEDED') this.endings.deadlineExceeded++;
      else this.endings.aborted++;
    }
    this.#controller?.abort(error);
    this.#reject?.(error);
  }
}

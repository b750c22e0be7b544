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
  wheelSlot: Set<Expirable> | undefined = undefined;
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
   * `work` goes on until it notices the aborted signal (its permit is released only then).
   */
  race<T>(work: Promise<T>, wheel: DeadlineWheel): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      work.then(
        (value) => {
          this.#settle(wheel);
          resolve(value);
        },
        (error: unknown) => {
          this.#settle(wheel);
          reject(error);
        },
      );
      const caller = this.callerSignal;
      if (caller !== undefined) {
        if (caller.aborted) {
          this.#end(abortedError(this.source, caller.reason));
          return;
        }
        this.#onCallerAbort = () => this.#end(abortedError(this.source, caller.reason));
        caller.addEventListener('abort', this.#onCallerAbort, { once: true });
      }
      if (this.deadlineAt !== Number.POSITIVE_INFINITY && this.ended === undefined) wheel.add(this);
    });
  }

  #settle(wheel: DeadlineWheel): void {
    wheel.remove(this);
    if (this.#onCallerAbort !== undefined)
      this.callerSignal?.removeEventListener('abort', this.#onCallerAbort);
    this.#reject = undefined;
  }

  #end(error: BallastError): void {
    if (this.ended !== undefined) return;
    this.ended = error;
    if (this.#reject !== undefined && this.endings !== undefined) {
      if (error.code === 'BALLAST_DEADLINE_EXCEEDED') this.endings.deadlineExceeded++;
      else this.endings.aborted++;
    }
    this.#controller?.abort(error);
    const reject = this.#reject;
    this.#reject = undefined;
    reject?.(error);
  }
}

import type { Clock, TimerHandle } from './clock.js';
import type { DeadlineWheel, Expirable } from './deadline-wheel.js';
import { abortedError, type BallastError, deadlineError } from './errors.js';

/** A listener of an {@link EndSignal}: a function or an object with `handleEvent` (no closure needed). */
export type EndListener = ((event: unknown) => void) | { handleEvent(event: unknown): void };

/**
 * The allocation-free stand-in for an AbortSignal that drivers can listen on: it "aborts" at the same moment and
 * with the same `reason` as the attempt's `signal` would, and is listened to the same way
 * (`addEventListener('abort', listener)`). An AbortSignal satisfies this interface too.
 */
export interface EndSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: EndListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: EndListener): void;
}

/** What the work function receives for each attempt. */
export interface AttemptContext {
  /**
   * Aborted when the call's deadline passes, when the caller's signal aborts, or when a hedged sibling won.
   * Created lazily on first read: work that never reads it pays nothing for it.
   */
  readonly signal: AbortSignal;
  /**
   * The same ending as `signal`, without creating an AbortController: for drivers that only need to be told
   * (a pool cancelling a statement on the server). Pass `signal` to APIs that need a real AbortSignal.
   */
  readonly endSignal: EndSignal;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** Absolute deadline in clock ms (`Infinity` when none). */
  readonly deadlineAt: number;
  /** Milliseconds left before the deadline (`Infinity` when none); never negative. Call it as a method. */
  remainingMs(): number;
}

/**
 * The one signal that never aborts: the signal of every context without a deadline or a caller signal. Code that
 * would listen on a context's signal can skip it when it is this one (a listener on it would never fire and
 * would pile up, since every such call shares it).
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** The {@link EndSignal} of contexts that can never end (no deadline, no caller signal). */
export const NEVER_ENDS: EndSignal = Object.freeze({
  aborted: false,
  reason: undefined,
  addEventListener() {},
  removeEventListener() {},
});

/**
 * One logical call through a policy: its deadline, the caller's signal and a lazily created AbortController.
 * It is the attempt context the work function receives (no extra object per attempt unless hedging).
 *
 * Life cycle: `arm()` registers the deadline and the caller's signal before the work starts; `race()` wraps the
 * work's promise; `settle()` runs when the policy is done with the work (permits released), after which nothing
 * of the operation is referenced from the wheel or the caller's signal.
 */
export class Operation implements AttemptContext, Expirable, EndSignal {
  attempt = 1;
  /** True once the policy finished with the work (see {@link Operation.settle}). */
  settled = false;
  /** Set once the deadline passed or the caller aborted: the error the call ended with. */
  ended: BallastError | undefined = undefined;
  wheelSlot = -1;
  wheelPrev: Expirable | undefined = undefined;
  wheelNext: Expirable | undefined = undefined;
  #wheel: DeadlineWheel | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #reject: ((error: unknown) => void) | undefined = undefined;
  /** With a `recover` in {@link Operation.raceWith}: the race's resolve and the recovery its ending goes to. */
  #resolve: ((value: unknown) => void) | undefined = undefined;
  #recover: Recover<unknown> | undefined = undefined;
  #onCallerAbort: (() => void) | undefined = undefined;
  /** Wakes a back-off sleep early when the call ends. */
  #wake: (() => void) | undefined = undefined;
  /** EndSignal listeners: one inline (the common case: one driver), more in an array. */
  #listener: EndListener | undefined = undefined;
  #listeners: EndListener[] | undefined = undefined;

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

  /** The operation is its own {@link EndSignal}: no allocation. */
  get endSignal(): EndSignal {
    return this;
  }

  get aborted(): boolean {
    return this.ended !== undefined;
  }

  get reason(): unknown {
    return this.ended;
  }

  addEventListener(_type: 'abort', listener: EndListener): void {
    if (this.#listener === undefined) this.#listener = listener;
    else if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: EndListener): void {
    if (this.#listener === listener) this.#listener = undefined;
    else if (this.#listeners !== undefined) {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    }
  }

  remainingMs(): number {
    if (this.deadlineAt === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.deadlineAt - this.clock.now());
  }

  /** Called by the deadline wheel. */
  expire(): void {
    this.#end(deadlineError(this.source));
  }

  /** Registers the deadline and the caller's signal. Call before starting the work. */
  arm(wheel: DeadlineWheel): void {
    const caller = this.callerSignal;
    if (caller !== undefined) {
      if (caller.aborted) {
        this.#end(abortedError(this.source, caller.reason));
        return;
      }
      this.#onCallerAbort = () => this.#end(abortedError(this.source, caller.reason));
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
    if (this.deadlineAt !== Number.POSITIVE_INFINITY) {
      this.#wheel = wheel;
      wheel.add(this);
    }
  }

  /**
   * Settles with `work`, unless the deadline passes or the caller aborts first: then rejects at once while
   * `work` goes on until it notices the aborted signal (its permits are released only then).
   */
  race<T>(work: Promise<T>): Promise<T> {
    // The promise's own functions, no wrappers: a later call to either is a no-op.
    return this.raceWith<T>((resolve, reject) => work.then(resolve, reject));
  }

  /**
   * {@link Operation.race} for work that settles through `start`'s functions: one promise instead of two.
   * `start` runs synchronously and must call `resolve` or `reject` once the work is done. With `recover`, the
   * deadline's or the caller's ending is answered by `recover(error)` instead of rejecting.
   */
  raceWith<T>(
    start: (resolve: (value: T | Promise<T>) => void, reject: (error: unknown) => void) => void,
    recover?: Recover<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      start(resolve, reject);
      if (this.settled) return;
      if (this.ended !== undefined) failWith(resolve, reject, recover, this.ended);
      else {
        this.#reject = reject;
        if (recover !== undefined) {
          this.#resolve = resolve as (value: unknown) => void;
          this.#recover = recover as Recover<unknown>;
        }
      }
    });
  }

  /** Sleeps `ms`, or less if the call ends first (the caller then sees `ended`). */
  sleep(ms: number): Promise<void> {
    if (this.ended !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let handle: TimerHandle;
      const wake = (): void => {
        this.#wake = undefined;
        this.clock.clearTimeout(handle);
        resolve();
      };
      handle = this.clock.setTimeout(wake, ms);
      this.#wake = wake;
    });
  }

  /** The work is done: the deadline and the caller's signal no longer apply. */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.#reject = undefined;
    this.#resolve = undefined;
    this.#recover = undefined;
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
    const reject = this.#reject;
    if (reject !== undefined) {
      const resolve = this.#resolve;
      const recover = this.#recover;
      this.#reject = undefined;
      this.#resolve = undefined;
      this.#recover = undefined;
      if (resolve === undefined) reject(error);
      else failWith(resolve, reject, recover, error);
    }
    this.#wake?.();
    const event = { type: 'abort' as const };
    const one = this.#listener;
    const more = this.#listeners;
    this.#listener = undefined;
    this.#listeners = undefined;
    if (one !== undefined) notify(one, event);
    if (more !== undefined) for (const l of more) notify(l, event);
  }
}

/** What answers a failed call in place of its rejection (a fallback); a throw from it rejects. */
export type Recover<T> = (error: unknown) => Promise<T> | T;

/** Settles a failed call: with `recover(error)` when there is one (a throw from it rejects), else rejects. */
export function failWith<T>(
  resolve: (value: T | Promise<T>) => void,
  reject: (error: unknown) => void,
  recover: Recover<T> | undefined,
  error: unknown,
): void {
  if (recover === undefined) {
    reject(error);
    return;
  }
  try {
    resolve(recover(error));
  } catch (thrown) {
    reject(thrown);
  }
}

function notify(listener: EndListener, event: unknown): void {
  try {
    if (typeof listener === 'function') listener(event);
    else listener.handleEvent(event);
  } catch (error) {
    process.emitWarning(`ballast: an abort listener threw: ${String(error)}`, 'BallastListenerError');
  }
}

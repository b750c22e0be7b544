import { invalidArgument } from './errors.js';

/**
 * The one seam through which Ballast reads time and schedules work. Policy code never calls `Date.now()`,
 * `performance.now()` or `setTimeout` directly; tests pass a `ManualClock` from `@ballast/core/testing`.
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

export interface Clock {
  /** Monotonic milliseconds (fractional), from an arbitrary origin. */
  now(): number;
  /** Calls `fn` after `delayMs`. The timer never keeps the process alive. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

function setUnrefTimeout(fn: () => void, delayMs: number): TimerHandle {
  const t = setTimeout(fn, delayMs);
  t.unref();
  return t;
}

function clearNodeTimeout(handle: TimerHandle): void {
  clearTimeout(handle as NodeJS.Timeout);
}

/** `performance.now()` on every read, and unref'd Node timers. */
export const preciseClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: setUnrefTimeout,
  clearTimeout: clearNodeTimeout,
});

// Reading the clock costs ~90 ns on the machines we measured (performance.now, Date.now and hrtime alike),
// more than the rest of a policy's hot path. Within one event-loop turn the time barely moves for I/O-bound
// work, so the system clock is read at most once per turn and the value is shared until the turn ends.
let turnNow = 0;
let turnStale = true;
const markStale = (): void => {
  turnStale = true;
};

function nowOncePerTurn(): number {
  if (!turnStale) return turnNow;
  turnStale = false;
  // Ref'd on purpose: an unref'd immediate does not stop the loop from blocking in poll, so a value read in a
  // timer callback would be handed to the next socket callback however long the wait. A ref'd immediate runs
  // in this same turn and cannot keep the process alive past it.
  setImmediate(markStale);
  turnNow = performance.now();
  return turnNow;
}

/**
 * The default clock: `performance.now()` read at most once per event-loop turn (every caller in the same turn
 * sees the same value), and unref'd Node timers. Durations of I/O are exact to within the work done in the
 * turn that observed them; use {@link preciseClock} where CPU-bound work inside one turn must be timed.
 */
export const systemClock: Clock = Object.freeze({
  now: nowOncePerTurn,
  setTimeout: setUnrefTimeout,
  clearTimeout: clearNodeTimeout,
});

/** Validates a user-supplied clock once, at construction. */
export function checkClock(option: string, value: unknown): Clock {
  const c = value as Partial<Clock> | null | undefined;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.now !== 'function' ||
    typeof c.setTimeout !== 'function' ||
    typeof c.clearTimeout !== 'function'
  ) {
    throw invalidArgument(option, value, 'a Clock ({ now(), setTimeout(fn, ms), clearTimeout(h) })');
  }
  return c as Clock;
}

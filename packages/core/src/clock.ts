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

/** The real clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return t;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
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

import { checkNumber } from '../options.js';

/** Estimates how long a call takes once admitted; the admission queue sheds waiters that cannot make it. */
export interface ServiceTimeEstimator {
  /** Expected service time in milliseconds (0: unknown, shed only waiters whose deadline has passed). */
  readonly expectedMs: number;
  /** Feeds the RTT of a completed call, in milliseconds. */
  onSample(rttMs: number): void;
}

/** Options of {@link ewmaServiceTime}. */
export interface EwmaServiceTimeOptions {
  /** Estimate before the first sample, in milliseconds. @default 0 */
  initialMs?: number | undefined;
  /** Weight of each new sample, in (0, 1]. @default 0.1 */
  smoothing?: number | undefined;
}

/** Defaults of {@link ewmaServiceTime}. */
export const DEFAULT_EWMA_SERVICE_TIME = Object.freeze({ initialMs: 0, smoothing: 0.1 } as const);

/**
 * An exponentially weighted moving average of RTT samples; the first sample replaces `initialMs`.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `<prefix>.initialMs` / `<prefix>.smoothing`.
 * @example
 * createLimiter({ expectedServiceTime: ewmaServiceTime({ initialMs: 20 }) });
 */
export function ewmaServiceTime(
  options: EwmaServiceTimeOptions = {},
  prefix = 'expectedServiceTime',
): ServiceTimeEstimator {
  const d = DEFAULT_EWMA_SERVICE_TIME;
  const initialMs = checkNumber(`${prefix}.initialMs`, options.initialMs ?? d.initialMs, 0);
  const smoothing = checkNumber(`${prefix}.smoothing`, options.smoothing ?? d.smoothing, Number.MIN_VALUE, 1);
  let value = initialMs;
  let seen = false;
  return {
    get expectedMs() {
      return value;
    },
    onSample(rttMs: number): void {
      if (seen) value += (rttMs - value) * smoothing;
      else {
        value = rttMs;
        seen = true;
      }
    },
  };
}

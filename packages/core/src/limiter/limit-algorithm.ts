import { invalidArgument } from '../errors.js';
import { checkNumber } from '../options.js';

/**
 * A concurrency-limit algorithm: it watches the round-trip times of completed calls and moves the limit.
 * Implementations are small state machines with no timers; the limiter calls {@link LimitAlgorithm.onSample}
 * once per released permit that carried a meaningful sample.
 * @example
 * const algo: LimitAlgorithm = gradient2Limit({ maxLimit: 50 });
 * algo.onSample(12.5, 8, false);
 * algo.limit; // may now be higher or lower
 */
export interface LimitAlgorithm {
  /** The current limit. May be fractional; the limiter uses `max(1, floor(limit))`. */
  readonly limit: number;
  /**
   * Feeds one sample.
   * @param rttMs round-trip time of the call in milliseconds
   * @param inflight calls in flight when this call started (including itself)
   * @param dropped the call ended in a way that signals overload (timeout, server busy)
   */
  onSample(rttMs: number, inflight: number, dropped: boolean): void;
}

/** Bounds shared by the adaptive algorithms. */
export interface LimitBounds {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

/** Validates `{ initialLimit, minLimit, maxLimit }` with `min <= initial <= max`, naming `<prefix>.<field>`. */
export function resolveBounds(
  prefix: string,
  options: {
    initialLimit?: number | undefined;
    minLimit?: number | undefined;
    maxLimit?: number | undefined;
  },
  defaults: LimitBounds,
): LimitBounds {
  const minLimit = checkNumber(`${prefix}.minLimit`, options.minLimit ?? defaults.minLimit, 1);
  const maxLimit = checkNumber(`${prefix}.maxLimit`, options.maxLimit ?? defaults.maxLimit, 1);
  if (maxLimit < minLimit)
    throw invalidArgument(`${prefix}.maxLimit`, maxLimit, `a number >= minLimit (${minLimit})`);
  const initialLimit = checkNumber(
    `${prefix}.initialLimit`,
    options.initialLimit ?? Math.min(maxLimit, Math.max(minLimit, defaults.initialLimit)),
    minLimit,
    maxLimit,
  );
  return { initialLimit, minLimit, maxLimit };
}

/** Throws `BALLAST_INVALID_ARGUMENT` naming `option` when `value` is not an object (or undefined). */
export function optionsObject<T extends object>(option: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument(option, value, 'an object');
  return value;
}

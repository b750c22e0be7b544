import { checkNumber } from '../options.js';
import type { LimitAlgorithm } from './limit-algorithm.js';

/**
 * A limit that never moves: the trivial algorithm, for a known fan-out.
 * @param limit the concurrency limit, at least 1 (fractions are floored by the limiter)
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `fixedLimit.limit` when `limit` is not a number >= 1.
 * @example
 * const limiter = createLimiter({ limit: fixedLimit(8) }); // same as { limit: 8 }
 */
export function fixedLimit(limit: number): LimitAlgorithm {
  const value = checkNumber('fixedLimit.limit', limit, 1);
  return Object.freeze({
    limit: value,
    onSample(): void {},
  });
}

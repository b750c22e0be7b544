import { invalidArgument } from '../errors.js';
import { checkNumber } from '../options.js';
import { type LimitAlgorithm, optionsObject, resolveBounds } from './limit-algorithm.js';

/** Options of {@link aimdLimit}. */
export interface AimdLimitOptions {
  /** Limit before any sample. @default 20 */
  initialLimit?: number | undefined;
  /** The limit never goes below this. @default 1 */
  minLimit?: number | undefined;
  /** The limit never goes above this. @default 200 */
  maxLimit?: number | undefined;
  /** Multiplier applied on a drop or a slow call, in (0, 1). @default 0.9 */
  backoffRatio?: number | undefined;
  /** A call slower than this counts as a drop, in milliseconds. @default 5000 */
  timeoutMs?: number | undefined;
}

/** Defaults of {@link aimdLimit}. */
export const DEFAULT_AIMD_LIMIT = Object.freeze({
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  backoffRatio: 0.9,
  timeoutMs: 5000,
} as const);

/**
 * Additive increase, multiplicative decrease (Netflix `AIMDLimit`): +1 per sample while in-flight is at least
 * half the limit; `× backoffRatio` (floored) on a drop or an RTT above `timeoutMs`.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `aimd.<option>` when an option is invalid.
 * @example
 * const limiter = createLimiter({ limit: aimdLimit({ backoffRatio: 0.5, timeoutMs: 1000 }) });
 */
export function aimdLimit(options?: AimdLimitOptions): LimitAlgorithm {
  const o = optionsObject('aimd', options);
  const d = DEFAULT_AIMD_LIMIT;
  const { initialLimit, minLimit, maxLimit } = resolveBounds('aimd', o, d);
  const backoffRatio = checkNumber('aimd.backoffRatio', o.backoffRatio ?? d.backoffRatio, 0, 1);
  if (backoffRatio === 0 || backoffRatio === 1)
    throw invalidArgument('aimd.backoffRatio', backoffRatio, 'a number in (0, 1)');
  const timeoutMs = checkNumber('aimd.timeoutMs', o.timeoutMs ?? d.timeoutMs, 0);

  let limit = initialLimit;
  return {
    get limit() {
      return limit;
    },
    onSample(rttMs: number, inflight: number, dropped: boolean): void {
      let next = limit;
      if (dropped || rttMs > timeoutMs) next = Math.floor(limit * backoffRatio);
      else if (inflight * 2 >= limit) next = limit + 1;
      limit = Math.max(minLimit, Math.min(maxLimit, next));
    },
  };
}

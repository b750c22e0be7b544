import { invalidArgument } from '../errors.js';
import { checkInteger, checkNumber } from '../options.js';
import { type LimitAlgorithm, optionsObject, resolveBounds } from './limit-algorithm.js';

/** Options of {@link gradient2Limit} (Netflix concurrency-limits `Gradient2Limit`). */
export interface Gradient2LimitOptions {
  /** Limit before any sample. @default 20 */
  initialLimit?: number | undefined;
  /** The limit never goes below this. @default 1 */
  minLimit?: number | undefined;
  /** The limit never goes above this. @default 200 */
  maxLimit?: number | undefined;
  /** How much queueing the limit tolerates: RTT may grow to `tolerance ×` the long-term RTT before shrinking. @default 1.5 */
  tolerance?: number | undefined;
  /** Weight of each new limit estimate, in (0, 1]. @default 0.2 */
  smoothing?: number | undefined;
  /** Samples in the long-term RTT exponential average. @default 600 */
  longWindow?: number | undefined;
  /** Headroom added to every estimate so the limit can grow (a number, or a function of the current limit). @default 4 */
  queueSize?: number | ((limit: number) => number) | undefined;
}

/** Defaults of {@link gradient2Limit}. */
export const DEFAULT_GRADIENT2_LIMIT = Object.freeze({
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  tolerance: 1.5,
  smoothing: 0.2,
  longWindow: 600,
  queueSize: 4,
} as const);

/** The algorithm returned by {@link gradient2Limit}; `longRttMs` is exposed for diagnostics. */
export interface Gradient2Limit extends LimitAlgorithm {
  /** The long-term RTT average in milliseconds (0 before the first sample). */
  readonly longRttMs: number;
}

const WARMUP_SAMPLES = 10;

/**
 * Gradient2 (Netflix concurrency-limits): compares the latest RTT to a long exponential average of RTTs.
 * `gradient = clamp(tolerance × longRtt / rtt, 0.5, 1)`; `next = limit × gradient + queueSize`, smoothed.
 * The limit does not move while the caller is app-limited (in-flight below half the limit), and a long RTT
 * far above the current one (over 2×) decays by 5 % a sample so the limit recovers after a latency shift.
 * Drops are ignored: RTT alone drives it.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `gradient2.<option>` when an option is invalid.
 * @example
 * const limiter = createLimiter({ limit: gradient2Limit({ maxLimit: 64 }) });
 */
export function gradient2Limit(options?: Gradient2LimitOptions): Gradient2Limit {
  const o = optionsObject('gradient2', options);
  const d = DEFAULT_GRADIENT2_LIMIT;
  const { initialLimit, minLimit, maxLimit } = resolveBounds('gradient2', o, d);
  const tolerance = checkNumber('gradient2.tolerance', o.tolerance ?? d.tolerance, 1);
  const smoothing = checkNumber('gradient2.smoothing', o.smoothing ?? d.smoothing, 0, 1);
  if (smoothing === 0) throw invalidArgument('gradient2.smoothing', smoothing, 'a number in (0, 1]');
  const longWindow = checkInteger('gradient2.longWindow', o.longWindow ?? d.longWindow, 1);
  const rawQueue = o.queueSize ?? d.queueSize;
  const queueSize: (limit: number) => number =
    typeof rawQueue === 'function' ? rawQueue : constant(checkNumber('gradient2.queueSize', rawQueue, 0));
  const factor = 2 / (longWindow + 1);

  let limit = initialLimit;
  let longRtt = 0;
  let samples = 0;
  return {
    get limit() {
      return limit;
    },
    get longRttMs() {
      return longRtt;
    },
    onSample(rttMs: number, inflight: number): void {
      if (!(rttMs > 0)) return;
      // Simple average while warming up, then an exponential average over `longWindow` samples.
      if (samples < WARMUP_SAMPLES) {
        samples++;
        longRtt += (rttMs - longRtt) / samples;
      } else {
        longRtt = longRtt * (1 - factor) + rttMs * factor;
      }
      // After a long overload the average sits far above today's RTT; pull it down faster than the EMA would.
      if (longRtt / rttMs > 2) longRtt *= 0.95;
      if (inflight < limit / 2) return; // app-limited: the RTT says nothing about how far we could go
      const gradient = Math.max(0.5, Math.min(1, (tolerance * longRtt) / rttMs));
      const estimate = limit * gradient + queueSize(limit);
      const next = limit * (1 - smoothing) + estimate * smoothing;
      limit = Math.max(minLimit, Math.min(maxLimit, next));
    },
  };
}

function constant(n: number): () => number {
  return () => n;
}

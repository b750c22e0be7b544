import { invalidArgument } from '../errors.js';
import { checkFunction, checkNumber } from '../options.js';
import { type LimitAlgorithm, optionsObject, resolveBounds } from './limit-algorithm.js';

/** Options of {@link vegasLimit} (Netflix concurrency-limits `VegasLimit`). */
export interface VegasLimitOptions {
  /** Limit before any sample. @default 20 */
  initialLimit?: number | undefined;
  /** The limit never goes below this. @default 1 */
  minLimit?: number | undefined;
  /** The limit never goes above this. @default 200 */
  maxLimit?: number | undefined;
  /** Estimated queue below `alphaFactor × log10(limit)` grows the limit. @default 3 */
  alphaFactor?: number | undefined;
  /** Estimated queue above `betaFactor × log10(limit)` shrinks the limit. @default 6 */
  betaFactor?: number | undefined;
  /** Weight of each new limit estimate, in (0, 1]. @default 1 */
  smoothing?: number | undefined;
  /** The no-load RTT is re-probed every `probeMultiplier × limit` samples (jittered ×[0.5, 1)). @default 30 */
  probeMultiplier?: number | undefined;
  /** Source of randomness for the probe jitter, returning [0, 1). @default Math.random */
  random?: (() => number) | undefined;
}

/** Defaults of {@link vegasLimit}. */
export const DEFAULT_VEGAS_LIMIT = Object.freeze({
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  alphaFactor: 3,
  betaFactor: 6,
  smoothing: 1,
  probeMultiplier: 30,
  random: Math.random,
} as const);

/** `max(1, floor(log10(limit)))`, the scale Netflix's Vegas uses for its thresholds and steps. */
function log10Root(limit: number): number {
  return Math.max(1, Math.floor(Math.log10(limit)));
}

/**
 * TCP Vegas applied to concurrency: estimates the queue as `limit × (1 − rttNoLoad / rtt)` and grows the limit
 * while that queue is small (below `alpha = alphaFactor·log10(limit)`), shrinks it above `beta`; a drop shrinks
 * it by `log10(limit)`. The no-load RTT is the minimum seen, re-probed periodically so it can rise.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `vegas.<option>` when an option is invalid.
 * @example
 * const limiter = createLimiter({ limit: vegasLimit({ maxLimit: 100 }) });
 */
export function vegasLimit(options?: VegasLimitOptions): LimitAlgorithm {
  const o = optionsObject('vegas', options);
  const d = DEFAULT_VEGAS_LIMIT;
  const { initialLimit, minLimit, maxLimit } = resolveBounds('vegas', o, d);
  const alphaFactor = checkNumber('vegas.alphaFactor', o.alphaFactor ?? d.alphaFactor, 0);
  const betaFactor = checkNumber('vegas.betaFactor', o.betaFactor ?? d.betaFactor, alphaFactor);
  const smoothing = checkNumber('vegas.smoothing', o.smoothing ?? d.smoothing, 0, 1);
  if (smoothing === 0) throw invalidArgument('vegas.smoothing', smoothing, 'a number in (0, 1]');
  const probeMultiplier = checkNumber('vegas.probeMultiplier', o.probeMultiplier ?? d.probeMultiplier, 1);
  const random = checkFunction<() => number>('vegas.random', o.random ?? d.random);

  let limit = initialLimit;
  let rttNoLoad = 0;
  let probeCount = 0;
  let probeJitter = 0.5 + random() * 0.5;
  return {
    get limit() {
      return limit;
    },
    onSample(rttMs: number, inflight: number, dropped: boolean): void {
      if (!(rttMs > 0)) return;
      probeCount++;
      if (probeJitter * probeMultiplier * limit <= probeCount) {
        // Re-learn the no-load RTT: the minimum may belong to a world that no longer exists.
        probeJitter = 0.5 + random() * 0.5;
        probeCount = 0;
        rttNoLoad = rttMs;
        return;
      }
      if (rttNoLoad === 0 || rttMs < rttNoLoad) {
        rttNoLoad = rttMs;
        return;
      }
      const scale = log10Root(limit);
      let next: number;
      if (dropped) next = limit - scale;
      else if (inflight * 2 < limit)
        return; // app-limited
      else {
        const queue = Math.ceil(limit * (1 - rttNoLoad / rttMs));
        if (queue <= scale) next = limit + betaFactor * scale;
        else if (queue < alphaFactor * scale) next = limit + scale;
        else if (queue > betaFactor * scale) next = limit - scale;
        else return;
      }
      next = Math.max(minLimit, Math.min(maxLimit, next));
      limit = (1 - smoothing) * limit + smoothing * next;
    },
  };
}

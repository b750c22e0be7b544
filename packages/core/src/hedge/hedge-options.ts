import { invalidArgument } from '../errors.js';
import { checkInteger, checkNumber, checkObject } from '../options.js';
import type { RetryBudget, RetryBudgetOptions } from '../retry/retry-budget.js';
import { resolveBudget } from '../retry/retry-options.js';
import {
  createLatencyTracker,
  isLatencyTracker,
  type LatencyTracker,
  type LatencyTrackerOptions,
} from './latency-tracker.js';

/** A quantile of observed latencies to hedge after. */
export type HedgeQuantile = 'p50' | 'p90' | 'p95' | 'p99';

const QUANTILES: Readonly<Record<HedgeQuantile, number>> = Object.freeze({
  p50: 0.5,
  p90: 0.9,
  p95: 0.95,
  p99: 0.99,
});

/** Options of {@link createHedge}. */
export interface HedgeOptions {
  /**
   * Names the hedge in events and errors (usually the policy's name).
   * @default 'hedge'
   */
  name?: string | undefined;
  /**
   * When to start a hedge: a fixed delay in ms, or a quantile of the latencies of successful attempts observed
   * in the tracker's window.
   * @default 'p95'
   */
  delayMs?: number | HedgeQuantile | undefined;
  /**
   * Successful samples the window must hold before a quantile delay hedges at all (ignored for a fixed delay).
   * @default 20
   */
  minSamples?: number | undefined;
  /**
   * Floor of the hedge delay in ms, so a very fast dependency is not hedged at once.
   * @default 1
   */
  minDelayMs?: number | undefined;
  /**
   * Hedged attempts at most per call, besides the original; `0` turns hedging off.
   * @default 1
   */
  maxHedges?: number | undefined;
  /**
   * The budget each hedge withdraws from: share the retry's instance, give options for a new one, or `false`
   * for unlimited hedges.
   * @default {} (a new budget: 20 % of requests + 10/s over 10 s; someone must deposit into it)
   */
  budget?: RetryBudget | RetryBudgetOptions | false | undefined;
  /**
   * Where successful attempt latencies are recorded: an instance (to share it) or options for a new one.
   * @default {} (10 s window in 5 slices)
   */
  tracker?: LatencyTracker | LatencyTrackerOptions | undefined;
}

/** Hedge options after defaults and validation. */
export interface ResolvedHedgeOptions {
  readonly name: string;
  /** A fixed delay in ms, or `undefined` when {@link quantile} applies. */
  readonly fixedDelayMs: number | undefined;
  /** The quantile in `(0, 1]` used when no fixed delay is set. */
  readonly quantile: number;
  readonly minSamples: number;
  readonly minDelayMs: number;
  readonly maxHedges: number;
  readonly budget: RetryBudget | undefined;
  readonly tracker: LatencyTracker;
}

/** The defaults of {@link HedgeOptions}. */
export const DEFAULT_HEDGE = Object.freeze({
  name: 'hedge',
  delayMs: 'p95' as number | HedgeQuantile,
  minSamples: 20,
  minDelayMs: 1,
  maxHedges: 1,
});

/**
 * Merges `options` with {@link DEFAULT_HEDGE} and validates every field.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option (e.g. `hedge.delayMs`) and the value.
 */
export function resolveHedgeOptions(options: HedgeOptions = {}): ResolvedHedgeOptions {
  checkObject('hedge', options);
  const d = DEFAULT_HEDGE;
  const name = options.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument('hedge.name', name, 'a non-empty string');
  const delay = options.delayMs ?? d.delayMs;
  let fixedDelayMs: number | undefined;
  let quantile = QUANTILES.p95;
  if (typeof delay === 'number') fixedDelayMs = checkNumber('hedge.delayMs', delay, 0, 2 ** 31 - 1);
  else if (typeof delay === 'string' && Object.hasOwn(QUANTILES, delay)) quantile = QUANTILES[delay];
  else throw invalidArgument('hedge.delayMs', delay, "a number >= 0 or one of 'p50', 'p90', 'p95', 'p99'");
  const tracker = options.tracker ?? {};
  return {
    name,
    fixedDelayMs,
    quantile,
    minSamples: checkInteger('hedge.minSamples', options.minSamples ?? d.minSamples, 1),
    minDelayMs: checkNumber('hedge.minDelayMs', options.minDelayMs ?? d.minDelayMs, 0, 2 ** 31 - 1),
    maxHedges: checkInteger('hedge.maxHedges', options.maxHedges ?? d.maxHedges, 0, 16),
    budget: resolveBudget('hedge.budget', options.budget),
    tracker: isLatencyTracker(tracker) ? tracker : createLatencyTracker(tracker, 'hedge.tracker'),
  };
}

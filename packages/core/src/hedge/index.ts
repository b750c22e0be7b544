/**
 * Hedging of idempotent calls: when an attempt has not answered after the observed p95 of successful attempts,
 * start one more and take the first success, paid from the retry budget.
 *
 * - {@link createHedge} builds the strategy (delay, `maxHedges`, budget, latency tracker).
 * - {@link runHedged} runs one call under it: one timer per call, every loser aborted, settles exactly once;
 *   {@link runHedgedTracked} also tells when every attempt stopped, and both take an `admit` hook that gives
 *   each hedge its own concurrency permit.
 * - {@link createLatencyTracker} is the streaming quantile tracker behind the `'p95'` delay.
 *
 * @example
 * const budget = createRetryBudget();
 * const hedge = createHedge({ budget, delayMs: 'p95', maxHedges: 1 });
 * budget.deposit(clock.now());                            // once per logical request
 * const row = await runHedged(hedge, ({ signal }) => read(id, signal), ctx, clock, clock.now());
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` from `createHedge`/`createLatencyTracker` for an invalid option.
 * @packageDocumentation
 */
export { createHedge, type Hedge, type HedgeEvents, NO_HEDGE } from './hedge.js';
export {
  DEFAULT_HEDGE,
  type HedgeOptions,
  type HedgeQuantile,
  type ResolvedHedgeOptions,
  resolveHedgeOptions,
} from './hedge-options.js';
export {
  createLatencyTracker,
  DEFAULT_LATENCY_TRACKER,
  isLatencyTracker,
  type LatencyTracker,
  type LatencyTrackerOptions,
} from './latency-tracker.js';
export {
  type HedgeAdmit,
  type HedgeAttemptContext,
  runHedged,
  runHedgedTracked,
  type TrackedHedgedCall,
} from './run-hedged.js';

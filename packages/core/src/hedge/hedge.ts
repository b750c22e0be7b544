import { Events, type Listener, type Unsubscribe } from '../events.js';
import type { RetryBudget } from '../retry/retry-budget.js';
import { type HedgeOptions, type ResolvedHedgeOptions, resolveHedgeOptions } from './hedge-options.js';
import type { LatencyTracker } from './latency-tracker.js';

/** {@link Hedge.delayMs} result: do not hedge this call (too few samples, or `maxHedges` is 0). */
export const NO_HEDGE = -1;

/** Events of a {@link Hedge}, also published on `ballast:hedge:<event>`. */
export interface HedgeEvents {
  /** Hedged attempt `attempt` (1 for the first hedge) started `delayMs` after the previous attempt. */
  hedge: { name: string; attempt: number; delayMs: number };
  /** A hedged attempt (`attempt` >= 1) succeeded first; the others were aborted. */
  'hedge-won': { name: string; attempt: number };
}

/**
 * The hedging strategy {@link runHedged} consults: when to hedge, whether the budget pays for it, and where
 * latencies go. Only for idempotent operations: a hedge runs the operation twice.
 */
export interface Hedge {
  readonly name: string;
  readonly options: ResolvedHedgeOptions;
  /** Hedges at most per call, besides the original attempt. */
  readonly maxHedges: number;
  /** The budget hedges withdraw from, `undefined` when off. Deposits are the caller's (once per request). */
  readonly budget: RetryBudget | undefined;
  readonly tracker: LatencyTracker;
  /**
   * The delay in ms after which to start a hedge for a call starting at `nowMs`: the fixed `delayMs`, or the
   * configured quantile of the window, never below `minDelayMs`; {@link NO_HEDGE} when the window holds fewer
   * than `minSamples` samples or `maxHedges` is 0.
   */
  delayMs(nowMs: number): number;
  /**
   * Pays for hedged attempt `attempt` from the budget and announces it; `false` (and no event) when the budget
   * is spent.
   */
  tryHedge(attempt: number, delayMs: number, nowMs: number): boolean;
  /** Records a successful attempt's latency in ms. O(1), no allocation. */
  record(latencyMs: number, nowMs: number): void;
  /** Called once when attempt `attempt` won; announces `hedge-won` when it was a hedge. */
  won(attempt: number): void;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof HedgeEvents>(event: K, listener: Listener<HedgeEvents[K]>): Unsubscribe;
}

/**
 * Creates a hedging strategy: after the observed p95 (by default) of successful attempts, start one more
 * attempt of an idempotent call, paid from the retry budget; the first success wins. Run calls with
 * {@link runHedged}.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the invalid option, e.g. `hedge.maxHedges`.
 * @example
 * const budget = createRetryBudget();
 * const hedge = createHedge({ name: 'pg-replica', budget });   // p95, 1 hedge, after 20 samples
 * budget.deposit(clock.now());
 * const rows = await runHedged(hedge, ({ signal }) => read(signal), ctx, clock, clock.now());
 */
export function createHedge(options?: HedgeOptions): Hedge {
  return new HedgePolicy(resolveHedgeOptions(options));
}

class HedgePolicy implements Hedge {
  readonly name: string;
  readonly options: ResolvedHedgeOptions;
  readonly maxHedges: number;
  readonly budget: RetryBudget | undefined;
  readonly tracker: LatencyTracker;
  readonly #events = new Events<HedgeEvents>('hedge');

  constructor(options: ResolvedHedgeOptions) {
    this.options = Object.freeze(options);
    this.name = options.name;
    this.maxHedges = options.maxHedges;
    this.budget = options.budget;
    this.tracker = options.tracker;
  }

  delayMs(nowMs: number): number {
    const o = this.options;
    if (o.maxHedges === 0) return NO_HEDGE;
    if (o.fixedDelayMs !== undefined) return Math.max(o.fixedDelayMs, o.minDelayMs);
    if (this.tracker.count(nowMs) < o.minSamples) return NO_HEDGE;
    return Math.max(this.tracker.quantile(o.quantile, nowMs), o.minDelayMs);
  }

  tryHedge(attempt: number, delayMs: number, nowMs: number): boolean {
    if (this.budget !== undefined && !this.budget.tryWithdraw(nowMs)) return false;
    if (this.#events.wants('hedge')) this.#events.emit('hedge', { name: this.name, attempt, delayMs });
    return true;
  }

  record(latencyMs: number, nowMs: number): void {
    this.tracker.record(latencyMs, nowMs);
  }

  won(attempt: number): void {
    if (attempt > 0 && this.#events.wants('hedge-won'))
      this.#events.emit('hedge-won', { name: this.name, attempt });
  }

  on<K extends keyof HedgeEvents>(event: K, listener: Listener<HedgeEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }
}

import type { BreakerState } from '../types.js';

/**
 * A snapshot of a circuit breaker, from {@link CircuitBreaker.stats}. Window counts cover the last `windowMs`.
 * @example const { state, failureRate } = breaker.stats();
 */
export interface CircuitBreakerStats {
  readonly name: string;
  readonly state: BreakerState;
  /** Calls counted in the window: successes, failures, and ignored errors that were slow. */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  /** failures / calls, 0 when the window is empty. */
  readonly failureRate: number;
  /** slowCalls / calls, 0 when the window is empty. */
  readonly slowCallRate: number;
  readonly consecutiveFailures: number;
  /** Clock time (ms) of the last opening, `undefined` before the first. */
  readonly openedAt: number | undefined;
  /** The current (or last) open duration in ms, 0 before the first opening. */
  readonly breakDurationMs: number;
  /** While open: ms until a call may probe. 0 otherwise. */
  readonly remainingOpenMs: number;
  /** Half-open probes in flight whose lease has not ended. */
  readonly probesInFlight: number;
  /** Openings since creation (lifetime total, kept by `reset()`). */
  readonly timesOpened: number;
  /** Calls rejected since creation (lifetime total, kept by `reset()`). */
  readonly rejected: number;
}

import { invalidArgument } from '../errors.js';
import { checkInteger, checkNumber, checkObject, checkOneOf } from '../options.js';
import type { BreakerState } from '../types.js';

const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];

/**
 * A circuit breaker's state as plain JSON, from {@link CircuitBreaker.toJSON}. Times are relative (remaining ms),
 * so the state survives a restart or a move to another process whose clock has another origin.
 * The sliding window is not kept: a restored breaker starts with an empty window.
 */
export interface CircuitBreakerJSON {
  /** Format version. */
  readonly version: 1;
  readonly state: BreakerState;
  /** While open: ms until half-open is allowed. 0 otherwise. */
  readonly remainingOpenMs: number;
  /** The current (or last) open duration in ms; also the probe lease while half-open. 0 before the first opening. */
  readonly breakDurationMs: number;
  /** Openings since the last successful close: the exponent of the backoff. */
  readonly reopenCount: number;
  readonly consecutiveFailures: number;
  /** Openings since creation (or restore). */
  readonly timesOpened: number;
  /** Calls rejected since creation (or restore). */
  readonly rejected: number;
}

/**
 * Validates a {@link CircuitBreakerJSON} (e.g. read back from storage).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the offending field.
 * @example const json = checkCircuitBreakerJSON('breaker.initialState', JSON.parse(saved));
 */
export function checkCircuitBreakerJSON(option: string, value: unknown): CircuitBreakerJSON {
  const o = checkObject(option, value);
  if (o.version !== 1) throw invalidArgument(`${option}.version`, o.version, '1');
  return {
    version: 1,
    state: checkOneOf(`${option}.state`, o.state, STATES),
    remainingOpenMs: checkNumber(`${option}.remainingOpenMs`, o.remainingOpenMs, 0, Number.MAX_SAFE_INTEGER),
    breakDurationMs: checkNumber(`${option}.breakDurationMs`, o.breakDurationMs, 0, Number.MAX_SAFE_INTEGER),
    reopenCount: checkInteger(`${option}.reopenCount`, o.reopenCount, 0),
    consecutiveFailures: checkInteger(`${option}.consecutiveFailures`, o.consecutiveFailures, 0),
    timesOpened: checkInteger(`${option}.timesOpened`, o.timesOpened, 0),
    rejected: checkInteger(`${option}.rejected`, o.rejected, 0),
  };
}

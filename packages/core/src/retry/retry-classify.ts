import { errorCode, NOT_SENT_ERROR_CODES, TRANSIENT_ERROR_CODES } from '../classify.js';
import { isBallastError } from '../errors.js';

/** Ballast errors raised before the operation was handed to the dependency. */
const BALLAST_NOT_EXECUTED: ReadonlySet<string> = new Set([
  'BALLAST_SHED',
  'BALLAST_CIRCUIT_OPEN',
  'BALLAST_NO_HEALTHY_HOST',
]);

/**
 * The default `retry.isRetryable`: whether trying again may succeed.
 * - a `BallastError`: its `retryable` flag, except `BALLAST_CIRCUIT_OPEN` whose `retryAfterMs` exceeds the
 *   remaining deadline (the circuit would still be open when the deadline passes);
 * - an error whose string `code` is in `TRANSIENT_ERROR_CODES` or `NOT_SENT_ERROR_CODES` (ECONNRESET,
 *   ECONNREFUSED, …): `true`;
 * - an error with a boolean `retryable` property: that value;
 * - anything else: `false`.
 * @param remainingMs time left before the call's deadline, `Infinity` when none
 */
export function defaultIsRetryable(error: unknown, remainingMs: number): boolean {
  if (isBallastError(error)) {
    if (
      error.code === 'BALLAST_CIRCUIT_OPEN' &&
      error.retryAfterMs !== undefined &&
      error.retryAfterMs > remainingMs
    )
      return false;
    return error.retryable;
  }
  const code = errorCode(error);
  if (code !== undefined && (TRANSIENT_ERROR_CODES.has(code) || NOT_SENT_ERROR_CODES.has(code))) return true;
  const retryable = (error as { retryable?: unknown } | null | undefined)?.retryable;
  return typeof retryable === 'boolean' ? retryable : false;
}

/**
 * The default `retry.notExecuted`: `true` only when `error` proves the operation never ran, which makes a retry
 * safe even for a call not marked idempotent: `BALLAST_SHED`, `BALLAST_CIRCUIT_OPEN`, `BALLAST_NO_HEALTHY_HOST`,
 * or a socket error in `NOT_SENT_ERROR_CODES` (ECONNREFUSED, ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, ENETUNREACH).
 * Drivers pass their own to add what they know (e.g. pg's connect failures).
 */
export function defaultNotExecuted(error: unknown): boolean {
  if (isBallastError(error)) return BALLAST_NOT_EXECUTED.has(error.code);
  const code = errorCode(error);
  return code !== undefined && NOT_SENT_ERROR_CODES.has(code);
}

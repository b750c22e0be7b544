import { isBallastError } from './errors.js';
import type { ErrorVerdict } from './types.js';

/**
 * Ballast's own errors that say nothing about the dependency's health: the call never reached it, the caller
 * gave up, or its input was wrong. A deadline that expires while the call runs is not a failure either; its
 * duration counts as a slow call instead.
 */
const NOT_DEPENDENCY_FAILURES: ReadonlySet<string> = new Set([
  'BALLAST_SHED',
  'BALLAST_CIRCUIT_OPEN',
  'BALLAST_ABORTED',
  'BALLAST_INVALID_ARGUMENT',
  'BALLAST_RETRY_BUDGET_EXHAUSTED',
  'BALLAST_DEADLINE_EXCEEDED',
]);

/**
 * The default classifier: every error is the dependency's failure except Ballast's own shed, open-circuit,
 * caller-abort, deadline, budget and invalid-argument errors, and an `AbortError` raised by the caller's signal.
 */
export function defaultClassifier(error: unknown): ErrorVerdict {
  if (isBallastError(error)) return NOT_DEPENDENCY_FAILURES.has(error.code) ? 'ignore' : 'failure';
  if (error instanceof Error && error.name === 'AbortError') return 'ignore';
  return 'failure';
}

/** Node's socket error codes that prove a request never reached the peer (safe to retry even when not idempotent). */
export const NOT_SENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Socket error codes after which a call may or may not have run: retry only idempotent calls. */
export const TRANSIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
]);

/** The `code` property of an error-like value, if it has a string one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

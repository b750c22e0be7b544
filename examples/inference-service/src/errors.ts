import { isBallastError } from '@ballast/core';
import { maskUrl } from './config.js';
import { ModelError } from './model.js';

/** The request was malformed: 400 with the message. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

/** The naive layer's request budget ran out (its queries may still be running): 504. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** An error as an HTTP answer. */
export interface HttpError {
  status: number;
  body: { error: string; message?: string; retryAfterMs?: number };
  /** Seconds for the `Retry-After` header (503 only). */
  retryAfterS?: number;
}

/**
 * Ballast's refusals: the call never reached the database because it would not have helped (overload, a host
 * known to be failing, no primary). The client should come back later: 503 with Retry-After.
 */
const REFUSALS = new Set([
  'BALLAST_SHED',
  'BALLAST_CIRCUIT_OPEN',
  'BALLAST_PRIMARY_UNAVAILABLE',
  'BALLAST_NO_HEALTHY_HOST',
]);

/** When a refusal carries no hint: soon, but not at once. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** Whether `error` is one of Ballast's refusals (see {@link REFUSALS}). */
export function isRefusal(error: unknown): boolean {
  return isBallastError(error) && REFUSALS.has(error.code);
}

/**
 * Driver errors meaning a server cannot be reached or takes no more clients — what the naive layer sees where
 * Ballast would have refused: connection failures, and SQLSTATE classes 08 (connection), 53 (insufficient
 * resources) and 57P (shutting down).
 */
function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(ECONN|EPIPE|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|08|53|57P)/.test(code))
    return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|Connection is closed|timeout exceeded when trying to connect/.test(message);
}

/** The HTTP answer of a failed request. */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof BadRequestError)
    return { status: 400, body: { error: 'bad-request', message: error.message } };
  if (error instanceof ModelError) return { status: 502, body: { error: 'model-failed' } };
  if (error instanceof RequestTimeoutError) return { status: 504, body: { error: 'timeout' } };
  if (isBallastError(error)) {
    if (REFUSALS.has(error.code)) {
      const refused = unavailable(error.code, error.retryAfterMs);
      // Why (a shed's reason: 'limit', 'queue-full', 'deadline' …); which host refused stays in the logs: clients
      // need not learn the database's address.
      Object.assign(refused.body, { reason: error.reason });
      return refused;
    }
    // Retries were due but the budget is spent: the dependency keeps failing, come back later.
    if (error.code === 'BALLAST_RETRY_BUDGET_EXHAUSTED') return unavailable(error.code, undefined);
    if (error.code === 'BALLAST_DEADLINE_EXCEEDED') return { status: 504, body: { error: error.code } };
    // The client went away: nobody reads the answer, but the status shows in the metrics.
    if (error.code === 'BALLAST_ABORTED') return { status: 499, body: { error: error.code } };
  }
  if (isUnavailable(error)) return unavailable('unavailable', undefined);
  return { status: 500, body: { error: 'internal' } };
}

/** 503 with `Retry-After` in whole seconds, at least 1. */
function unavailable(code: string, retryAfterMs = DEFAULT_RETRY_AFTER_MS): HttpError {
  return {
    status: 503,
    body: { error: code, retryAfterMs },
    retryAfterS: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  };
}

/** An error for the log: its code and message, URLs masked. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return maskUrl(typeof code === 'string' ? `${code}: ${message}` : message);
}

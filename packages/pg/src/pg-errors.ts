import { isBallastError } from '@ballast/core';

/**
 * What a driver error says about the host it came from. Codes are PostgreSQL SQLSTATEs (pg's `DatabaseError.code`)
 * or Node socket error codes.
 */

/** SQLSTATEs and socket errors that mean the topology may have changed: drain the pool and re-check roles. */
const TOPOLOGY_SQLSTATES: ReadonlySet<string> = new Set([
  '25006', // read_only_sql_transaction: the "primary" is a standby now
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
]);

const SOCKET_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Codes that can only come before the statement was sent: safe to retry anywhere, even a write. Not
 * EHOSTUNREACH / ENETUNREACH / ETIMEDOUT / ECONNRESET: on an open socket they can cut off a statement the server
 * already ran; they count as not sent only when the connection attempt itself failed ({@link markNotSent}).
 */
const NOT_SENT: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', '57P03']);

/** Errors raised while opening a connection for a statement: it was never sent, whatever the code. */
const CONNECT_FAILURES = new WeakSet<object>();

/** Marks an error of a failed connection attempt: the statement waiting for it never left the client. */
export function markNotSent<E extends object>(error: E): E {
  CONNECT_FAILURES.add(error);
  return error;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when pg lost the connection (its own messages carry no code). */
function connectionLost(error: unknown): boolean {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return (
    typeof message === 'string' &&
    (message.includes('Connection terminated') ||
      message.includes('connection timeout') ||
      message.includes('Client has encountered a connection error'))
  );
}

/** The host is unreachable, going away or no longer what we thought it was. */
export function signalsTopologyChange(error: unknown): boolean {
  const code = codeOf(error);
  if (
    code !== undefined &&
    (TOPOLOGY_SQLSTATES.has(code) || code.startsWith('08') || SOCKET_ERRORS.has(code))
  )
    return true;
  return connectionLost(error);
}

/** The connection this error came from cannot be reused. */
export function breaksConnection(error: unknown): boolean {
  if (isBallastError(error)) return true; // deadline/abort mid-statement: a cancel was sent, state unknown
  const code = codeOf(error);
  if (code === '57014') return true; // query_canceled
  return signalsTopologyChange(error);
}

/** The statement provably never ran (no connection, or the server refused it before executing anything). */
export function notExecuted(error: unknown): boolean {
  if (isBallastError(error)) {
    return (
      error.code === 'BALLAST_SHED' ||
      error.code === 'BALLAST_CIRCUIT_OPEN' ||
      error.code === 'BALLAST_NO_HEALTHY_HOST' ||
      error.code === 'BALLAST_PRIMARY_UNAVAILABLE'
    );
  }
  if (typeof error === 'object' && error !== null && CONNECT_FAILURES.has(error)) return true;
  const code = codeOf(error);
  return code !== undefined && NOT_SENT.has(code);
}

/**
 * Errors worth retrying on a read (idempotent): the host failed, not the statement. A syntax error, a constraint
 * violation or a permission error would fail the same way anywhere.
 */
export function retryableRead(error: unknown): boolean {
  if (isBallastError(error)) return error.retryable;
  const code = codeOf(error);
  return signalsTopologyChange(error) || code === '40001' || code === '40P01' || code === '55P03';
}

/** A dependency failure for the breaker: the host misbehaved. Statement errors (class 22, 23, 42 …) are the caller's. */
export function hostFailure(error: unknown): 'failure' | 'ignore' {
  if (isBallastError(error)) return 'ignore';
  const code = codeOf(error);
  // Without a code: a lost connection is the host's trouble; anything else (a value whose toPostgres throws, a
  // type parser that throws) is the caller's, and must not open the breaker nor be retried on other hosts.
  if (code === undefined) return connectionLost(error) ? 'failure' : 'ignore';
  if (signalsTopologyChange(error)) return 'failure';
  // Classes 53 (insufficient resources), 58 (system error), XX (internal error) are the server's trouble.
  return code.startsWith('53') || code.startsWith('58') || code.startsWith('XX') ? 'failure' : 'ignore';
}

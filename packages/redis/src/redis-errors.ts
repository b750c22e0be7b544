import {
  BallastError,
  defaultClassifier,
  defaultIsRetryable,
  defaultNotExecuted,
  type ErrorVerdict,
  isBallastError,
} from '@ballast/core';
import { redactUrl } from './mask.js';

/**
 * What an error from ioredis says about Redis. Redis answers an error reply with a leading word (`WRONGTYPE …`,
 * `LOADING …`); ioredis raises its own connection errors without a code, so those are told apart by message.
 */

/** Error replies that say Redis (not the command) is in trouble: they count against the breaker. */
const UNHEALTHY_REPLIES: ReadonlySet<string> = new Set([
  'LOADING', // loading its dataset after a restart
  'BUSY', // a script or function is running
  'MASTERDOWN', // a replica lost its master (replica-serve-stale-data no)
  'READONLY', // a write reached a replica: a failover moved the primary
  'CLUSTERDOWN',
  'TRYAGAIN', // a multi-key command during a slot migration
  'OOM', // maxmemory reached
  'MISCONF', // persistence failed and writes are refused
  'NOREPLICAS', // min-replicas-to-write not met
]);

/**
 * Error replies after which the command provably did not run, so a retry is safe even for a write: Redis
 * rejects these before executing anything. (`ERR` from a script that failed half way is not among them.)
 */
const REFUSED_REPLIES: ReadonlySet<string> = new Set([...UNHEALTHY_REPLIES, 'MOVED', 'ASK']);

/** Error replies worth trying again within the deadline: the condition is expected to pass. */
const PASSING_REPLIES: ReadonlySet<string> = new Set([
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'READONLY',
  'CLUSTERDOWN',
  'TRYAGAIN',
]);

/** ioredis' messages for a command it refused to send (no connection, offline queue off). */
const NOT_SENT_MESSAGES = [
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Cluster isn't ready and enableOfflineQueue options is false",
];

/**
 * ioredis' messages for a command that was in flight when its connection went away (it may have run), and
 * `MaxRetriesPerRequestError`, which flushes such commands when `maxRetriesPerRequest` is spent.
 */
const CONNECTION_LOST_MESSAGES = [
  'Connection is closed.',
  'Command aborted due to connection close',
  'Reached the max retries per request limit',
  'Socket timeout',
  'Too many Cluster redirections',
  'None of startup nodes is available',
  'Failed to refresh slots cache',
];

/** The leading word of a Redis error reply (`'WRONGTYPE'`), or `undefined` when `error` is not one. */
export function replyCode(error: unknown): string | undefined {
  const e = error as { name?: unknown; message?: unknown } | null | undefined;
  if (e?.name !== 'ReplyError' || typeof e.message !== 'string') return undefined;
  const end = e.message.indexOf(' ');
  return end < 0 ? e.message : e.message.slice(0, end);
}

function messageStarts(error: unknown, prefixes: readonly string[]): boolean {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' && prefixes.some((p) => message.startsWith(p));
}

/** ioredis gave up on the connection while the command was in flight, or could not reach the cluster. */
export function connectionLost(error: unknown): boolean {
  return messageStarts(error, CONNECTION_LOST_MESSAGES);
}

/**
 * The breaker's classifier for Redis: connection loss and error replies that mean Redis is unwell (`LOADING`,
 * `BUSY`, `READONLY`, `OOM`, …) are failures; the command's own mistakes (`WRONGTYPE`, `ERR syntax …`,
 * `NOSCRIPT`, `CROSSSLOT`) are not, nor are Ballast's shed, deadline and abort errors.
 */
export function redisFailure(error: unknown): ErrorVerdict {
  if (isBallastError(error)) return defaultClassifier(error);
  const code = replyCode(error);
  if (code !== undefined) {
    if (UNHEALTHY_REPLIES.has(code)) return 'failure';
    return messageStarts(error, ['ERR max number of clients']) ? 'failure' : 'ignore';
  }
  // redis-errors' AbortError shares its name with a caller's abort, which the default classifier ignores.
  if (connectionLost(error) || messageStarts(error, NOT_SENT_MESSAGES)) return 'failure';
  return defaultClassifier(error);
}

/** `retry.notExecuted` for Redis: the command provably never ran (refused by Redis, or never sent). */
export function redisNotExecuted(error: unknown): boolean {
  const code = replyCode(error);
  if (code !== undefined) return REFUSED_REPLIES.has(code);
  return messageStarts(error, NOT_SENT_MESSAGES) || defaultNotExecuted(error);
}

/** `retry.isRetryable` for Redis: connection loss and passing conditions, within what the deadline leaves. */
export function redisRetryable(error: unknown, remainingMs: number): boolean {
  const code = replyCode(error);
  if (code !== undefined) return PASSING_REPLIES.has(code);
  if (connectionLost(error) || messageStarts(error, NOT_SENT_MESSAGES)) return true;
  return defaultIsRetryable(error, remainingMs);
}

/** True for a `READONLY` error reply. */
export function isReadOnlyReply(error: unknown): boolean {
  return replyCode(error) === 'READONLY';
}

/**
 * `BALLAST_NO_HEALTHY_HOST`: the connection to Redis is not up, so the command was not sent (safe to retry).
 * @param retryAfterMs time until ioredis tries to reconnect, when known
 */
export function notConnectedError(
  source: string,
  node: string,
  status: string,
  cause: Error | undefined,
  retryAfterMs?: number,
): BallastError<'BALLAST_NO_HEALTHY_HOST'> {
  return new BallastError(
    'BALLAST_NO_HEALTHY_HOST',
    `${source}: Redis at ${node} is not connected (${status})`,
    {
      retryable: true,
      retryAfterMs,
      cause,
      source,
    },
  );
}

/**
 * `BALLAST_INVALID_ARGUMENT` naming the option or argument and the value received.
 * @param shown how the value appears in the message; by default {@link describeValue}. Pass a masked URL for a
 *   connection string and {@link kindOf} for keys and values, which may be private.
 */
export function invalidArgument(
  option: string,
  value: unknown,
  expected: string,
  shown: string = describeValue(value),
): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  return new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `Invalid ${option}: expected ${expected}, received ${shown}`,
  );
}

/** A value for a message: short strings quoted, numbers and booleans as they are, anything else by its kind. */
export function describeValue(value: unknown): string {
  if (typeof value !== 'string') return kindOf(value);
  // A URL may carry a password (`redis://:secret@host`): shown without it. Other strings with `@` or `:` could
  // be credentials too: only their kind.
  if (value.includes('://')) return JSON.stringify(redactUrl(value));
  if (value.length <= 40 && !/[@:]/.test(value)) return JSON.stringify(value);
  return kindOf(value);
}

/** A value's kind without its content (`a string of 12 characters`, `a Buffer of 3 bytes`, `an object`). */
export function kindOf(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : typeof value;
}

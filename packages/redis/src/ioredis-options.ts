import type { RedisOptions } from 'ioredis';
import type { ResolvedRedisClientOptions } from './options.js';

/**
 * The ioredis settings under every connection Ballast creates (the caller's `options` go on top). A caller-owned
 * client should be built with them.
 * - `enableOfflineQueue: false`: a command is never queued while disconnected (Ballast waits for a connection
 *   attempt only within `maxConnectWaiters` and the call's deadline).
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when the connection
 *   drops fails at once instead of being sent again later (a write could run twice); the policy decides retries.
 */
export const IOREDIS_SAFE_OPTIONS = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
} satisfies RedisOptions);

/**
 * The reconnect delay before attempt `times` (1, 2, …): exponential from `baseMs`, capped at `maxMs`, with
 * "equal jitter" (a uniform draw from the upper half), so clients that lost Redis together do not return together.
 */
export function reconnectDelay(times: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, times - 1), 30));
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/**
 * The ioredis options of a connection Ballast creates: {@link IOREDIS_SAFE_OPTIONS}, the jittered reconnect, a
 * `READONLY` reconnect that calls `onReadOnly`, keep-alive, connect timeout and auto-pipelining; then the caller's
 * `options`, which win.
 */
export function ioredisOptionsFor(
  o: ResolvedRedisClientOptions,
  onReadOnly: (error: Error) => void,
): RedisOptions {
  return {
    ...IOREDIS_SAFE_OPTIONS,
    connectTimeout: o.connectTimeoutMs,
    keepAlive: o.keepAliveMs,
    enableAutoPipelining: o.autoPipelining,
    retryStrategy: (times) => reconnectDelay(times, o.reconnectBaseDelayMs, o.reconnectMaxDelayMs, o.random),
    reconnectOnError: readOnlyReconnect(onReadOnly),
    ...o.options,
  };
}

/** An ioredis `reconnectOnError` that reconnects on `READONLY` (and reports it), and on nothing else. */
export function readOnlyReconnect(onReadOnly: (error: Error) => void): (error: Error) => boolean {
  return (error) => {
    if (!error.message.startsWith('READONLY')) return false;
    onReadOnly(error);
    return true;
  };
}

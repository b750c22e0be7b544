import type { BreakerState } from '@ballast/core';

/** Which side of the client a connection serves. A Cluster's nodes are all `primary`. */
export type NodeRole = 'primary' | 'replica';

/** Fields of every connection event. Never carries credentials. */
export interface NodeEvent {
  /** The client's `name`. */
  name: string;
  /** `host:port` of the connection (a Cluster node's own address for node events). */
  node: string;
  role: NodeRole;
}

/**
 * Events of a Ballast Redis client, listened to with `redis.on(event, listener)` and published on
 * `diagnostics_channel` as `ballast:redis:<event>`. Errors in payloads have their credentials masked.
 */
export interface RedisEvents {
  /** A connection opened and passed ioredis' ready check (also after every reconnect). */
  ready: NodeEvent;
  /** A connection was lost or could not be opened; ioredis opens it again after `delayMs`. */
  reconnecting: NodeEvent & { delayMs: number };
  /** ioredis reported a connection error (refused, reset, authentication failed, stalled, …). */
  'connection-error': NodeEvent & { error: Error; code: string | undefined };
  /** A write was answered `READONLY` (a failover left the connection on a replica): it is reopened. */
  readonly: NodeEvent;
  /** The watchdog closed a connection that answered nothing for `silentMs` while `pending` commands waited. */
  stall: NodeEvent & { silentMs: number; pending: number };
  /** A connection's circuit breaker changed state. */
  'breaker-state-change': NodeEvent & { from: BreakerState; to: BreakerState; reason: string };
  /** A read meant for a replica went to the primary: no replica was connected with its breaker closed. */
  'replica-fallback': { name: string; reason: 'no-replica-ready' };
}

import type { Policy } from '@ballast/core';
import { Redis, type RedisOptions } from 'ioredis';
import type { NodeRole } from './events.js';
import { IOREDIS_SAFE_OPTIONS, ioredisOptionsFor, readOnlyReconnect } from './ioredis-options.js';
import { addressOf } from './mask.js';
import type { RedisClient, ResolvedRedisClientOptions } from './options.js';
import { type NodeContext, RedisNode } from './redis-node.js';

/** `host:port` (or the socket path) of a standalone client; `'cluster'` for a Cluster. */
export function clientAddress(client: RedisClient): string {
  if (client.isCluster) return 'cluster';
  const { host, port, path } = (client as Redis).options;
  return path ? String(path) : `${host ?? 'localhost'}:${port ?? 6379}`;
}

/** A connection Ballast opens (to `url`, or from the caller's ioredis `options`), configures and closes. */
export function ownedNode(
  o: ResolvedRedisClientOptions,
  url: string | undefined,
  policy: Policy,
  role: NodeRole,
  ctx: NodeContext,
): RedisNode {
  let node: RedisNode | undefined;
  // ioredis' constructor types want `replyMapping` without `undefined` (exactOptionalPropertyTypes).
  const options = ioredisOptionsFor(o, () => node?.onReadOnly()) as RedisOptions & {
    replyMapping?: 'legacy';
  };
  const client = url === undefined ? new Redis(options) : new Redis(url, options);
  node = new RedisNode(
    client,
    policy,
    role,
    url === undefined ? clientAddress(client) : addressOf(url),
    true,
    ctx,
  );
  return node;
}

/**
 * The caller's client: left as configured and open, except that a standalone client without a
 * `reconnectOnError` gets Ballast's `READONLY` reconnect until the node closes.
 */
export function callerNode(client: RedisClient, policy: Policy, ctx: NodeContext): RedisNode {
  const node = new RedisNode(client, policy, 'primary', clientAddress(client), false, ctx);
  const options = client.options as { reconnectOnError?: unknown };
  if (!client.isCluster && options.reconnectOnError == null) {
    const installed = readOnlyReconnect(() => node.onReadOnly());
    options.reconnectOnError = installed;
    node.whenClosed(() => {
      if (options.reconnectOnError === installed) options.reconnectOnError = null;
    });
  }
  return node;
}

/**
 * The connection of acknowledged writes: a duplicate of the primary's (Ballast's settings, its own socket) under
 * the primary's policy, since `WAIT` blocks the connection it runs on.
 */
export function ackNode(primary: RedisNode, ctx: NodeContext): RedisNode {
  let node: RedisNode | undefined;
  const client = (primary.client as Redis).duplicate({
    ...IOREDIS_SAFE_OPTIONS,
    lazyConnect: false,
    reconnectOnError: readOnlyReconnect(() => node?.onReadOnly()),
  });
  node = new RedisNode(client, primary.policy, 'primary', `${primary.address} (acks)`, true, ctx);
  return node;
}

import { invalidArgument } from './fault-proxy-faults.js';
import { LOOPBACK } from './ports.js';
import {
  DEFAULT_REDIS_OPTIONS,
  findRedisServer,
  type RedisEndpoint,
  type RedisOptions,
  resolveServerOptions,
  urlFor,
  wholeNumber,
} from './redis.js';
import {
  CLUSTER_SLOTS,
  type ClusterAccess,
  migrateSlot,
  ownerIn,
  parseClusterNodes,
  send,
  waitForCluster,
} from './redis-cluster-topology.js';
import { createRedisGroup, type MemberSpec } from './redis-group.js';
import { exited, type RedisNode } from './redis-node.js';
import type { RespValue } from './redis-resp.js';

/** Options of {@link startRedisCluster}; `password`, `config` and `persistent` work as in {@link startRedis}. */
export interface RedisClusterOptions extends Omit<RedisOptions, 'replicas' | 'startTimeoutMs'> {
  /**
   * Masters; the 16384 hash slots are split between them in contiguous ranges of (nearly) equal size, master 0
   * serving the lowest.
   * @default 3
   */
  masters?: number | undefined;
  /**
   * Replicas of each master (`CLUSTER REPLICATE`), linked to it before startRedisCluster resolves.
   * @default 0
   */
  replicasPerMaster?: number | undefined;
  /**
   * `cluster-node-timeout`: how long a node may be unreachable before the others flag it as failing; then a
   * replica of a failed master is promoted, and a failed master without one leaves `cluster_state:fail`.
   * @default 2000
   */
  nodeTimeoutMs?: number | undefined;
  /**
   * How long each server may take to answer PING, and the cluster to form (again, after
   * {@link RedisCluster.restartNode} or {@link RedisCluster.migrateSlot}).
   * @default 15000
   */
  startTimeoutMs?: number | undefined;
}

/** Defaults of {@link RedisClusterOptions} (the password default is generated per start). */
export const DEFAULT_REDIS_CLUSTER_OPTIONS = Object.freeze({
  masters: 3,
  replicasPerMaster: 0,
  nodeTimeoutMs: 2_000,
  config: DEFAULT_REDIS_OPTIONS.config,
  startTimeoutMs: DEFAULT_REDIS_OPTIONS.startTimeoutMs,
  persistent: false,
});

/** One server of a {@link RedisCluster}. */
export interface RedisClusterNode extends RedisEndpoint {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** Its cluster node id (40 hex digits), kept across {@link RedisCluster.restartNode}. */
  readonly id: string;
}

/**
 * A running Redis Cluster started by {@link startRedisCluster}. Methods take a node's index `i` in
 * {@link RedisCluster.nodes}.
 */
export interface RedisCluster {
  /**
   * Every node: `nodes[0..masters-1]` the masters, in slot order, then the replicas of master 0, of master 1, ….
   * Roles can change afterwards (a failover); ports and ids do not.
   */
  readonly nodes: readonly RedisClusterNode[];
  /** `{ host, port }` of every node, for a cluster client (ioredis' `new Cluster(startupNodes, …)`). */
  readonly startupNodes: readonly { readonly host: string; readonly port: number }[];
  /** The `requirepass` of every node, `undefined` when started with `password: false`. */
  readonly password: string | undefined;
  /**
   * The index of the master serving `slot`, as the first running node sees it.
   * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` for a slot outside 0–16383; `Error` when no master
   * serves it.
   */
  slotOwner(slot: number): Promise<number>;
  /**
   * Moves `slot` with its keys to master `i`: `CLUSTER SETSLOT … IMPORTING` there, `MIGRATING` on the current
   * owner, `MIGRATE` of its keys in batches of 100, then `SETSLOT … NODE` on the new owner, the old one and every
   * other running master. Resolves once every running node agrees on the new owner: the old one then answers
   * `MOVED` for the slot's keys. During the move it answers `ASK` for keys already moved. A no-op when `i`
   * already serves the slot.
   * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` for a bad slot or index; `Error` when node `i` is not a
   * master or a command fails (the slot may then be left mid-migration).
   */
  migrateSlot(slot: number, i: number): Promise<void>;
  /**
   * SIGKILLs node `i`: its port refuses connections. After `nodeTimeoutMs` the others flag it as failing (and
   * promote a replica of it, if it was a master with one).
   * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` for a bad index.
   */
  killNode(i: number): Promise<void>;
  /**
   * Starts node `i` again on the same ports with its `nodes.conf` (same id, so it rejoins) but no data, killing
   * it first when it runs. Resolves once every running node reports `cluster_state:ok`, agrees on the slot map
   * and flags no running node as failing. A master that was failed over rejoins as a replica of its successor;
   * one that still serves slots has its failure flag cleared only ~2 × `nodeTimeoutMs` after it was set.
   * @throws {Error} when stopped, or when that does not happen within `startTimeoutMs`.
   */
  restartNode(i: number): Promise<void>;
  /**
   * Sends one command to node `i` (default 0) on a fresh authenticated connection, without following
   * redirections: a key of another node's slot is answered with a `RespError` `MOVED <slot> 127.0.0.1:<port>`.
   * @throws {RespError} on an error reply; `Error` with `code` (e.g. `ECONNREFUSED`) on a connection error.
   */
  command(args: readonly string[], options?: { node?: number; timeoutMs?: number }): Promise<RespValue>;
  /**
   * Stops every node (SIGTERM, which they obey at once: `shutdown-on-sigterm now`; SIGKILL after 2 s) and removes
   * their directories. Idempotent.
   */
  stop(): Promise<void>;
}

const FN = 'startRedisCluster';

/** The first slot of master `i` of `masters`. */
function firstSlot(i: number, masters: number): number {
  return Math.floor((i * CLUSTER_SLOTS) / masters);
}

function resolveRedisClusterOptions(options: RedisClusterOptions) {
  const d = DEFAULT_REDIS_CLUSTER_OPTIONS;
  return {
    ...resolveServerOptions(FN, options),
    masters: wholeNumber(FN, 'masters', options.masters ?? d.masters, 1, CLUSTER_SLOTS),
    replicasPerMaster: wholeNumber(
      FN,
      'replicasPerMaster',
      options.replicasPerMaster ?? d.replicasPerMaster,
      0,
    ),
    nodeTimeoutMs: wholeNumber(FN, 'nodeTimeoutMs', options.nodeTimeoutMs ?? d.nodeTimeoutMs, 1),
  };
}

/**
 * Starts a Redis Cluster on loopback: `masters` masters and `replicasPerMaster` replicas of each, every one a
 * `redis-server --cluster-enabled yes` child process on free ports (client and cluster bus) with its own directory
 * (`nodes.conf` and `redis.log` in it) and no persistence. The servers start in parallel; then each master takes
 * its slot range (`CLUSTER ADDSLOTSRANGE`), node 0 `CLUSTER MEET`s the others, the replicas `CLUSTER REPLICATE`,
 * and it resolves once every node reports `cluster_state:ok` and all agree on the slot map. Every process is
 * recorded in the kit's cleanup registry, as with {@link startRedis}.
 * @throws {Error} when redis-server is missing (see {@link findRedisServer}), with code
 * `BALLAST_INVALID_ARGUMENT` for a bad option, or when a server does not start or the cluster does not form
 * within `startTimeoutMs`; everything started is cleaned up.
 * @example
 * const cluster = await startRedisCluster({ masters: 3 });
 * const client = new Cluster(cluster.startupNodes, { redisOptions: { password: cluster.password } }); // ioredis
 * await cluster.migrateSlot(await client.cluster('KEYSLOT', 'k'), 2);
 * await cluster.stop();
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const opts = resolveRedisClusterOptions(options);
  const { masters, replicasPerMaster, password } = opts;
  const group = createRedisGroup('redis-cluster', {
    ...opts,
    bin: findRedisServer(),
    timeoutMs: opts.startTimeoutMs,
  });
  const total = masters * (1 + replicasPerMaster);
  const masterOf = (i: number): number => Math.floor((i - masters) / replicasPerMaster);
  const members: MemberSpec[] = Array.from({ length: total }, (_, i) => ({
    role: i < masters ? `master ${i}` : `replica of master ${masterOf(i)}`,
    name: `node-${i}`,
    cluster: { nodeTimeoutMs: opts.nodeTimeoutMs },
  }));
  let current: RedisNode[] = [];
  const access: ClusterAccess = {
    password,
    timeoutMs: opts.startTimeoutMs,
    total,
    live: () => current.filter((n) => !exited(n.child)),
  };
  try {
    current = await group.startAll(members);
    const ids = (await Promise.all(current.map((n) => send(access, n.port, ['CLUSTER', 'MYID'])))).map(
      String,
    );
    // Distinct config epochs up front, as redis-cli does, so the nodes need not resolve collisions first.
    await Promise.all(
      current.map((n, i) => send(access, n.port, ['CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1)])),
    );
    await Promise.all(
      current.slice(0, masters).map((n, i) => {
        const range = [firstSlot(i, masters), firstSlot(i + 1, masters) - 1].map(String);
        return send(access, n.port, ['CLUSTER', 'ADDSLOTSRANGE', ...range]);
      }),
    );
    const [first] = current;
    const meet = (n: RedisNode) => ['CLUSTER', 'MEET', LOOPBACK, String(n.port), String(n.busPort)];
    await Promise.all(current.slice(1).map((n) => send(access, first?.port ?? 0, meet(n))));
    if (replicasPerMaster > 0) {
      // A node can only replicate a master it knows.
      await waitForCluster(access, 'meet every node', false);
      await Promise.all(
        current.slice(masters).map((n, k) => {
          const masterId = ids[masterOf(k + masters)] ?? '';
          return send(access, n.port, ['CLUSTER', 'REPLICATE', masterId]);
        }),
      );
    }
    await waitForCluster(access, 'form a cluster', true);
    return makeCluster(ids);
  } catch (error) {
    await group.destroy();
    throw error;
  }

  function makeCluster(ids: readonly string[]): RedisCluster {
    const nodes = current.map((n, i) => ({
      host: LOOPBACK,
      port: n.port,
      url: urlFor(n.port, password),
      id: ids[i] ?? '',
    }));
    const node = (method: string, i: number): RedisNode => {
      const found = Number.isInteger(i) ? current[i] : undefined;
      if (found === undefined) {
        throw invalidArgument(`${method}: i`, `a node index from 0 to ${total - 1}`, i);
      }
      return found;
    };
    const checkSlot = (method: string, slot: number): void => {
      if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) {
        throw invalidArgument(`${method}: slot`, `a whole number from 0 to ${CLUSTER_SLOTS - 1}`, slot);
      }
    };
    return {
      nodes,
      startupNodes: nodes.map(({ host, port }) => ({ host, port })),
      password,
      async slotOwner(slot) {
        checkSlot('slotOwner', slot);
        const [asked] = access.live();
        if (asked === undefined) throw new Error('slotOwner: no node of the cluster runs');
        const owner = ownerIn(parseClusterNodes(await send(access, asked.port, ['CLUSTER', 'NODES'])), slot);
        const index = nodes.findIndex((n) => n.port === owner?.port);
        if (index < 0) throw new Error(`slotOwner: no master serves slot ${slot}`);
        return index;
      },
      async migrateSlot(slot, i) {
        checkSlot('migrateSlot', slot);
        await migrateSlot(access, slot, node('migrateSlot', i).port);
      },
      async killNode(i) {
        await group.kill(node('killNode', i));
      },
      async restartNode(i) {
        const old = node('restartNode', i);
        if (group.stopped) throw new Error('restartNode() after stop(): this cluster is gone');
        current[i] = await group.restart(old, ['nodes.conf']);
        await waitForCluster(access, `take node ${i} back`, true);
      },
      async command(args, commandOptions = {}) {
        return send(access, node('command', commandOptions.node ?? 0).port, args, commandOptions.timeoutMs);
      },
      stop: () => group.stop(),
    };
  }
}

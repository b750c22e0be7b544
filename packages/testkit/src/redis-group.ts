import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeSpec, type RedisNode, startNode, stopNode } from './redis-node.js';
import { type Resource, release, touch, track } from './registry.js';

/** What every redis-server of a group shares. Internal to the kit. */
export interface GroupSpec {
  bin: string;
  password: string | undefined;
  config: Readonly<Record<string, string | number>>;
  timeoutMs: number;
  persistent: boolean;
}

/** How one server differs from the others of its group: its role, directory name below the root, and links. */
export type MemberSpec = Pick<NodeSpec, 'role' | 'primaryPort' | 'port' | 'cluster'> & { name: string };

/**
 * The redis-server processes of one `startRedis` or `startRedisCluster`, under one temporary root directory and
 * one registry entry that always holds the pids of the ones running.
 */
export interface RedisGroup {
  /** The directory holding every server's directory. */
  readonly root: string;
  /** True once {@link RedisGroup.stop} or {@link RedisGroup.destroy} was called. */
  readonly stopped: boolean;
  /** Starts one server in `<root>/<name>`. @throws like {@link startNode}. */
  start(member: MemberSpec): Promise<RedisNode>;
  /**
   * Starts servers in parallel and resolves with them in the order given once all run.
   * @throws the first failure, once every start has settled (none is left starting after the caller cleans up).
   */
  startAll(members: readonly MemberSpec[]): Promise<RedisNode[]>;
  /** SIGKILLs one server. */
  kill(node: RedisNode): Promise<void>;
  /**
   * Kills `node` if it runs, removes the files of its directory except `keep` and the log, and starts it again on
   * the same port (and cluster bus port). Resolves with the new node, which replaces the old one in the group.
   * @throws when the group was stopped, or like {@link startNode}.
   */
  restart(node: RedisNode, keep?: readonly string[]): Promise<RedisNode>;
  /**
   * SIGTERMs `first` (SIGKILL after 2 s), then every other server, removes the root and the registry entry.
   * Idempotent: later calls return the first call's promise.
   */
  stop(first?: readonly RedisNode[]): Promise<void>;
  /** SIGKILLs every server and removes the root and the registry entry: cleanup after a failed start. */
  destroy(): Promise<void>;
}

function running(node: RedisNode): boolean {
  const { child } = node;
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * Creates an empty group: a `ballast-<label>-*` directory in the temporary directory, recorded in the kit's
 * cleanup registry (with every pid as soon as it is spawned) so nothing outlives this process by accident.
 */
export function createRedisGroup(label: string, spec: GroupSpec): RedisGroup {
  const root = mkdtempSync(join(tmpdir(), `ballast-${label}-`));
  const resource: Resource = track({ label, pids: [], dirs: [root], persistent: spec.persistent });
  const nodes: RedisNode[] = [];
  const members = new Map<RedisNode, MemberSpec>();
  let stopping: Promise<void> | undefined;

  const syncPids = (): void => {
    resource.pids = nodes.flatMap((n) => (running(n) && n.child.pid !== undefined ? [n.child.pid] : []));
    touch();
  };
  // `replacing`: the node a restart replaces, at its place; it stays in the group (dead) if the start fails.
  const start = async (member: MemberSpec, replacing?: RedisNode): Promise<RedisNode> => {
    const node = await startNode({
      ...member,
      bin: spec.bin,
      dir: join(root, member.name),
      password: spec.password,
      config: spec.config,
      timeoutMs: spec.timeoutMs,
      detached: spec.persistent,
      // Recorded at spawn, so an interrupted start cannot orphan a server; syncPids() then keeps the live ones.
      onSpawn: (pid) => {
        resource.pids = [...resource.pids, pid];
        touch();
      },
    });
    if (replacing === undefined) nodes.push(node);
    else nodes[nodes.indexOf(replacing)] = node;
    // Fixed ports from now on, so a restart binds the same ones.
    const cluster = member.cluster && { ...member.cluster, busPort: node.busPort };
    members.set(node, { ...member, port: node.port, cluster });
    syncPids();
    return node;
  };
  const kill = async (node: RedisNode): Promise<void> => {
    await stopNode(node, 'SIGKILL');
    syncPids();
  };

  return {
    root,
    get stopped() {
      return stopping !== undefined;
    },
    start: (member) => start(member),
    async startAll(list) {
      const settled = await Promise.allSettled(list.map((member) => start(member)));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    },
    kill,
    async restart(node, keep = []) {
      const member = members.get(node);
      if (stopping || member === undefined) throw new Error('restart after stop(): this Redis is gone');
      await kill(node);
      for (const name of readdirSync(node.dir)) {
        if (name !== 'redis.log' && !keep.includes(name)) {
          rmSync(join(node.dir, name), { recursive: true, force: true });
        }
      }
      const fresh = await start(member, node);
      members.delete(node);
      return fresh;
    },
    stop(first = []) {
      stopping ??= (async () => {
        await Promise.all(first.map((n) => stopNode(n, 'SIGTERM')));
        await Promise.all(nodes.map((n) => stopNode(n, 'SIGTERM')));
        rmSync(root, { recursive: true, force: true });
        release(resource);
      })();
      return stopping;
    },
    async destroy() {
      stopping ??= Promise.resolve();
      await Promise.all(nodes.map(kill));
      rmSync(root, { recursive: true, force: true });
      release(resource);
    },
  };
}

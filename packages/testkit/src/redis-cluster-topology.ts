import type { ChildProcess } from 'node:child_process';
import { LOOPBACK } from './ports.js';
import { waitUntil } from './redis-node.js';
import { type RespValue, respRequest } from './redis-resp.js';

/** Hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

/** Keys moved per MIGRATE while a slot migrates. */
const MIGRATE_BATCH = 100;

/** One line of `CLUSTER NODES`: a node as the asking node sees it. */
export interface NodeView {
  readonly id: string;
  readonly port: number;
  /** `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, … */
  readonly flags: readonly string[];
  /** The id of its master, for a replica. */
  readonly masterId: string | undefined;
  /** Inclusive slot ranges it serves, in the asking node's view (migration markers left out). */
  readonly slots: readonly (readonly [number, number])[];
}

/** How to reach the nodes that run now. Internal to startRedisCluster. */
export interface ClusterAccess {
  password: string | undefined;
  timeoutMs: number;
  /** Every node of the cluster, running or not. */
  total: number;
  /** The ports and processes of the nodes that run now (not killed). */
  live(): { port: number; child: ChildProcess }[];
}

/** Sends one command to a node of the cluster. */
export function send(
  access: ClusterAccess,
  port: number,
  args: readonly string[],
  timeoutMs?: number,
): Promise<RespValue> {
  return respRequest(port, [args], { password: access.password, timeoutMs });
}

/** Parses the reply to `CLUSTER NODES`. */
export function parseClusterNodes(reply: RespValue): NodeView[] {
  return String(reply)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      // <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <epoch> <link> <slot>...
      const [id = '', address = '', flags = '', master = '-', ...rest] = line.trim().split(' ');
      const slots = rest
        .slice(4)
        .filter((s) => !s.startsWith('['))
        .map((s) => {
          const [from = '', to = from] = s.split('-');
          return [Number(from), Number(to)] as const;
        });
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        slots,
      };
    });
}

/** The node of `view` that serves `slot` (as a master), if any. */
export function ownerIn(view: readonly NodeView[], slot: number): NodeView | undefined {
  return view.find((n) => n.flags.includes('master') && n.slots.some(([a, b]) => slot >= a && slot <= b));
}

/** What every node must agree on: each node's id, role, master and slots; the asking node's own flags left out. */
function fingerprint(view: readonly NodeView[]): string {
  return view
    .map((n) => {
      const role = n.flags.includes('master') ? 'master' : `replica of ${n.masterId}`;
      return `${n.id} ${role} ${n.slots.map(([a, b]) => `${a}-${b}`).join(',')}`;
    })
    .sort()
    .join('\n');
}

async function checkNode(access: ClusterAccess, port: number, healthy: boolean): Promise<string> {
  const view = parseClusterNodes(await send(access, port, ['CLUSTER', 'NODES']));
  const where = `${LOOPBACK}:${port}`;
  const known = view.filter((n) => !n.flags.includes('handshake') && !n.flags.includes('noaddr'));
  if (known.length !== access.total)
    throw new Error(`${where} knows ${known.length} of ${access.total} nodes`);
  if (!healthy) return fingerprint(known);
  const info = String(await send(access, port, ['CLUSTER', 'INFO']));
  const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
  if (state !== 'ok') throw new Error(`${where} reports cluster_state:${state}`);
  const livePorts = new Set(access.live().map((n) => n.port));
  const failing = known.find((n) => livePorts.has(n.port) && n.flags.some((f) => f.startsWith('fail')));
  if (failing)
    throw new Error(`${where} still flags ${LOOPBACK}:${failing.port} as ${failing.flags.join(',')}`);
  if (view.find((n) => n.flags.includes('myself'))?.flags.includes('slave')) {
    const replication = String(await send(access, port, ['INFO', 'replication']));
    if (!/^master_link_status:up\r?$/m.test(replication))
      throw new Error(`${where} has no link to its master`);
  }
  return fingerprint(known);
}

/**
 * Resolves once every running node knows all `total` nodes and they all agree on the roles and the slot map; with
 * `healthy`, also once each reports `cluster_state:ok`, flags no running node as failing, and each replica is
 * linked to its master.
 * @throws {Error} after `timeoutMs`, saying what was still missing.
 */
export async function waitForCluster(access: ClusterAccess, what: string, healthy: boolean): Promise<void> {
  const nodes = access.live();
  try {
    const children = nodes.map((n) => n.child);
    await waitUntil(what, children, access.timeoutMs, async () => {
      const prints = await Promise.all(nodes.map((n) => checkNode(access, n.port, healthy)));
      const differs = prints.findIndex((p) => p !== prints[0]);
      if (differs > 0) {
        throw new Error(`${LOOPBACK}:${nodes[differs]?.port} and ${LOOPBACK}:${nodes[0]?.port} disagree`);
      }
      return true;
    });
  } catch (error) {
    throw new Error(`redis cluster: ${(error as Error).message}`);
  }
}

/**
 * Moves `slot` and its keys from its master to the master on `targetPort`: SETSLOT IMPORTING on the target,
 * MIGRATING on the source, MIGRATE of its keys in batches, SETSLOT NODE on the target, the source and every other
 * running master; then waits until every running node agrees on the new owner. A no-op when the target owns it.
 * @throws {Error} when the target is not a master or a command fails (the slot may be left mid-migration).
 */
export async function migrateSlot(access: ClusterAccess, slot: number, targetPort: number): Promise<void> {
  const view = parseClusterNodes(await send(access, targetPort, ['CLUSTER', 'NODES']));
  const target = view.find((n) => n.flags.includes('myself'));
  if (!target?.flags.includes('master')) {
    throw new Error(`migrateSlot: ${LOOPBACK}:${targetPort} is not a master (${target?.flags.join(',')})`);
  }
  const source = ownerIn(view, slot);
  if (source === undefined) throw new Error(`migrateSlot: no master serves slot ${slot}`);
  if (source.id === target.id) return;
  const s = String(slot);
  await send(access, targetPort, ['CLUSTER', 'SETSLOT', s, 'IMPORTING', source.id]);
  await send(access, source.port, ['CLUSTER', 'SETSLOT', s, 'MIGRATING', target.id]);
  const auth = access.password === undefined ? [] : ['AUTH', access.password];
  for (;;) {
    const keys = await send(access, source.port, ['CLUSTER', 'GETKEYSINSLOT', s, String(MIGRATE_BATCH)]);
    if (!Array.isArray(keys) || keys.length === 0) break;
    const timeout = String(access.timeoutMs);
    const migrate = [
      'MIGRATE',
      LOOPBACK,
      String(targetPort),
      '',
      '0',
      timeout,
      ...auth,
      'KEYS',
      ...keys.map(String),
    ];
    await send(access, source.port, migrate, access.timeoutMs + 1_000);
  }
  // The target first, so it serves the slot before the source starts sending clients there.
  await send(access, targetPort, ['CLUSTER', 'SETSLOT', s, 'NODE', target.id]);
  await send(access, source.port, ['CLUSTER', 'SETSLOT', s, 'NODE', target.id]);
  const livePorts = new Set(access.live().map((n) => n.port));
  const others = view.filter(
    (n) => n.flags.includes('master') && n.id !== target.id && n.id !== source.id && livePorts.has(n.port),
  );
  await Promise.all(others.map((n) => send(access, n.port, ['CLUSTER', 'SETSLOT', s, 'NODE', target.id])));
  await waitForCluster(access, `agree that slot ${slot} moved`, false);
}

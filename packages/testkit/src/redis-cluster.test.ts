import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisCluster, startRedisCluster } from './redis-cluster.js';
import type { RespValue } from './redis-resp.js';
import { alive, stateDir } from './registry.js';

/** `[first slot, last slot, master port]` ranges as node `node` sees them, in slot order. */
async function slotMap(cluster: RedisCluster, node: number): Promise<[number, number, number][]> {
  const reply = (await cluster.command(['CLUSTER', 'SLOTS'], { node })) as RespValue[][];
  return reply
    .map(([from, to, master]): [number, number, number] => [
      Number(from),
      Number(to),
      Number((master as RespValue[])[1]),
    ])
    .sort((a, b) => a[0] - b[0]);
}

async function keySlot(cluster: RedisCluster, key: string): Promise<number> {
  return Number(await cluster.command(['CLUSTER', 'KEYSLOT', key]));
}

async function pidOf(cluster: RedisCluster, node: number): Promise<number> {
  const info = await cluster.command(['INFO', 'server'], { node });
  return Number(/process_id:(\d+)/.exec(String(info))?.[1]);
}

/** Every pid this process's registry state file records. */
function recordedPids(): number[] {
  const file = join(stateDir(), `${process.pid}.json`);
  if (!existsSync(file)) return [];
  const state = JSON.parse(readFileSync(file, 'utf8')) as { resources: { pids: number[] }[] };
  return state.resources.flatMap((r) => r.pids);
}

async function clusterState(cluster: RedisCluster, node: number): Promise<string | undefined> {
  const info = await cluster.command(['CLUSTER', 'INFO'], { node });
  return /^cluster_state:(\w+)/m.exec(String(info))?.[1];
}

// Both clusters start at once: start-up is mostly Redis waiting out its 2 s CLUSTER_WRITABLE_DELAY.
let cluster: RedisCluster;
let withReplicas: RedisCluster;
beforeAll(async () => {
  const started = await Promise.allSettled([
    startRedisCluster(),
    startRedisCluster({ replicasPerMaster: 1, nodeTimeoutMs: 1_000, password: false }),
  ]);
  const [plain, replicated] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  const failed = started.find((s) => s.status === 'rejected');
  if (plain === undefined || replicated === undefined) {
    await Promise.all([plain?.stop(), replicated?.stop()]);
    throw (failed as PromiseRejectedResult).reason;
  }
  [cluster, withReplicas] = [plain, replicated];
});
afterAll(() => Promise.all([cluster?.stop(), withReplicas?.stop()]));

describe('startRedisCluster with 3 masters', () => {
  it('reports cluster_state:ok on every node, its 3 masters covering all 16384 slots in one agreed map', async () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.startupNodes).toEqual(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    for (const [i, node] of cluster.nodes.entries()) {
      expect(await clusterState(cluster, i)).toBe('ok');
      expect(await cluster.command(['CLUSTER', 'MYID'], { node: i })).toBe(node.id);
      expect(node.url).toBe(`redis://:${cluster.password}@127.0.0.1:${node.port}`);
    }
    const map = await slotMap(cluster, 0);
    expect(map.map(([, , port]) => port)).toEqual(cluster.nodes.map((n) => n.port));
    expect(map[0]?.[0]).toBe(0);
    expect(map.at(-1)?.[1]).toBe(16_383);
    for (let i = 1; i < map.length; i++) expect(map[i]?.[0]).toBe((map[i - 1]?.[1] ?? 0) + 1);
    expect(await slotMap(cluster, 1)).toEqual(map);
    expect(await slotMap(cluster, 2)).toEqual(map);
  });

  it('serves a key on the master of its slot, and the others answer MOVED to that master', async () => {
    const served = new Set<number>();
    for (let n = 0; served.size < 3; n++) {
      const key = `key-${n}`;
      const slot = await keySlot(cluster, key);
      const owner = await cluster.slotOwner(slot);
      if (served.has(owner)) continue;
      served.add(owner);
      expect(await cluster.command(['SET', key, `value-${n}`], { node: owner })).toBe('OK');
      expect(await cluster.command(['GET', key], { node: owner })).toBe(`value-${n}`);
      const other = (owner + 1) % 3;
      await expect(cluster.command(['GET', key], { node: other })).rejects.toThrow(
        `MOVED ${slot} 127.0.0.1:${cluster.nodes[owner]?.port}`,
      );
    }
  });

  it('migrateSlot moves a slot with its keys: the new master serves them, the old one answers MOVED', async () => {
    // 250 keys of one slot (hash tag), more than one MIGRATE batch.
    const keys = Array.from({ length: 250 }, (_, i) => `{migrating}-${i}`);
    const slot = await keySlot(cluster, keys[0] ?? '');
    const from = await cluster.slotOwner(slot);
    const to = (from + 1) % 3;
    for (const key of keys) await cluster.command(['SET', key, key], { node: from });

    await cluster.migrateSlot(slot, to);
    expect(await cluster.slotOwner(slot)).toBe(to);
    for (const node of [0, 1, 2]) {
      const owner = (await slotMap(cluster, node)).find(([a, b]) => slot >= a && slot <= b);
      expect(owner?.[2]).toBe(cluster.nodes[to]?.port);
    }
    expect(await cluster.command(['CLUSTER', 'COUNTKEYSINSLOT', String(slot)], { node: to })).toBe(250);
    expect(await cluster.command(['CLUSTER', 'COUNTKEYSINSLOT', String(slot)], { node: from })).toBe(0);
    for (const key of keys) expect(await cluster.command(['GET', key], { node: to })).toBe(key);
    await expect(cluster.command(['GET', keys[0] ?? ''], { node: from })).rejects.toThrow(
      `MOVED ${slot} 127.0.0.1:${cluster.nodes[to]?.port}`,
    );
    // The neighbouring slots stayed where they were.
    expect(await cluster.slotOwner(slot === 0 ? 1 : slot - 1)).toBe(from);

    await cluster.migrateSlot(slot, to); // already there: a no-op
    expect(await cluster.slotOwner(slot)).toBe(to);
  });

  it('rejects a bad slot or node index with BALLAST_INVALID_ARGUMENT', async () => {
    await expect(cluster.migrateSlot(16_384, 0)).rejects.toMatchObject({
      code: 'BALLAST_INVALID_ARGUMENT',
      message: 'migrateSlot: slot must be a whole number from 0 to 16383, received 16384',
    });
    await expect(cluster.migrateSlot(0, 3)).rejects.toMatchObject({ code: 'BALLAST_INVALID_ARGUMENT' });
    await expect(cluster.killNode(-1)).rejects.toThrow('killNode: i must be a node index from 0 to 2');
    await expect(cluster.slotOwner(1.5)).rejects.toMatchObject({ code: 'BALLAST_INVALID_ARGUMENT' });
    await expect(cluster.command(['PING'], { node: 7 })).rejects.toThrow(/command: i must be a node index/);
  });

  it('killNode refuses connections; restartNode brings the master back with its id and slots, empty', async () => {
    const key = 'restarted';
    const node = await cluster.slotOwner(await keySlot(cluster, key));
    await cluster.command(['SET', key, '1'], { node });
    const before = await slotMap(cluster, 0);

    await cluster.killNode(node);
    await expect(cluster.command(['PING'], { node })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await cluster.restartNode(node);
    expect(await cluster.command(['CLUSTER', 'MYID'], { node })).toBe(cluster.nodes[node]?.id);
    for (const i of [0, 1, 2]) {
      expect(await clusterState(cluster, i)).toBe('ok');
      expect(await slotMap(cluster, i)).toEqual(before);
    }
    expect(await cluster.command(['GET', key], { node })).toBeNull();
  });
});

describe('startRedisCluster with a replica per master, without a password', () => {
  it('links each replica to its master, which lists it as its replica', async () => {
    const cluster = withReplicas;
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.password).toBeUndefined();
    expect(cluster.nodes[0]?.url).toBe(`redis://127.0.0.1:${cluster.nodes[0]?.port}`);
    for (const master of [0, 1, 2]) {
      const replica = 3 + master;
      const role = (await cluster.command(['ROLE'], { node: replica })) as RespValue[];
      expect(role.slice(0, 4)).toEqual(['slave', '127.0.0.1', cluster.nodes[master]?.port, 'connected']);
    }
    const replicas = (await cluster.command(['CLUSTER', 'REPLICAS', cluster.nodes[0]?.id ?? ''])) as string[];
    expect(replicas).toHaveLength(1);
    expect(replicas[0]).toContain(cluster.nodes[3]?.id);
  });

  it('promotes the replica of a killed master; the restarted master rejoins as its replica', async () => {
    const cluster = withReplicas;
    await cluster.killNode(0);
    await expect
      .poll(async () => ((await cluster.command(['ROLE'], { node: 3 })) as RespValue[])[0], {
        timeout: 15_000,
        interval: 100,
      })
      .toBe('master');
    await expect.poll(() => cluster.slotOwner(0), { timeout: 5_000 }).toBe(3);

    await cluster.restartNode(0);
    const role = (await cluster.command(['ROLE'], { node: 0 })) as RespValue[];
    expect(role.slice(0, 3)).toEqual(['slave', '127.0.0.1', cluster.nodes[3]?.port]);
    for (const i of cluster.nodes.keys()) expect(await clusterState(cluster, i)).toBe('ok');
    // A key of the slots master 0 served: written on its successor, redirected there by the old master.
    let n = 0;
    while ((await cluster.slotOwner(await keySlot(cluster, `failover-${n}`))) !== 3) n++;
    const key = `failover-${n}`;
    const slot = await keySlot(cluster, key);
    expect(await cluster.command(['SET', key, 'after'], { node: 3 })).toBe('OK');
    await expect(cluster.command(['GET', key], { node: 0 })).rejects.toThrow(
      `MOVED ${slot} 127.0.0.1:${cluster.nodes[3]?.port}`,
    );
  });

  // After the failover and the restart above: the registry must hold the restarted node's new pid.
  it('stop() leaves no process, no directory and no registry entry behind', async () => {
    const cluster = withReplicas;
    const pids = await Promise.all(cluster.nodes.map((_, i) => pidOf(cluster, i)));
    const dirs = await Promise.all(
      cluster.nodes.map(async (_, i) => {
        const reply = await cluster.command(['CONFIG', 'GET', 'dir'], { node: i });
        return Array.isArray(reply) ? String(reply[1]) : '';
      }),
    );
    for (const dir of dirs) expect(existsSync(join(dir, 'nodes.conf'))).toBe(true);
    expect(recordedPids()).toEqual(expect.arrayContaining(pids));

    await cluster.stop();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    const after = recordedPids();
    for (const pid of pids) expect(after).not.toContain(pid);
    await cluster.stop(); // idempotent
    await expect(cluster.restartNode(0)).rejects.toThrow(/after stop\(\)/);
  });
});

describe('startRedisCluster failures', () => {
  const leftovers = () => readdirSync(tmpdir()).filter((n) => n.startsWith('ballast-redis-cluster-'));

  it('reports a node that does not start, with its log, and cleans up', async () => {
    const before = new Set(leftovers());
    const error = await startRedisCluster({ config: { 'no-such-directive': 'x' } }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/redis-server \(master \d\) did not start on 127\.0\.0\.1:\d+/);
    expect((error as Error).message).toContain('Bad directive');
    expect(leftovers().filter((n) => !before.has(n))).toEqual([]);
  });

  it('rejects invalid options with BALLAST_INVALID_ARGUMENT naming the option, before starting anything', async () => {
    const before = new Set(leftovers());
    for (const [options, message] of [
      [
        { masters: 0 },
        'startRedisCluster: options.masters must be a whole number from 1 to 16384, received 0',
      ],
      [{ masters: 2.5 }, 'options.masters'],
      [{ replicasPerMaster: -1 }, 'options.replicasPerMaster must be a whole number >= 0, received -1'],
      [{ nodeTimeoutMs: 0 }, 'options.nodeTimeoutMs'],
      [{ startTimeoutMs: Number.NaN }, 'options.startTimeoutMs'],
      [{ password: 'has space' }, 'options.password'],
    ] as const) {
      await expect(startRedisCluster(options)).rejects.toMatchObject({
        code: 'BALLAST_INVALID_ARGUMENT',
        message: expect.stringContaining(message),
      });
    }
    expect(leftovers().filter((n) => !before.has(n))).toEqual([]);
  });
});

import { rmSync } from 'node:fs';
import pg from 'pg';
import { LOOPBACK } from './ports.js';
import { slotName } from './postgres-config.js';
import { formatLsn, parseLsn, replayTarget } from './postgres-lsn.js';
import { LOG_TAIL_HEADING, type PgServer } from './postgres-node.js';
import type { PostgresCluster, PostgresNode, QueryTarget } from './postgres-types.js';
import { type Resource, release, touch } from './registry.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Role = 'primary' | 'replica' | 'promoted';

class Node implements PostgresNode {
  readonly host = LOOPBACK;
  constructor(
    readonly server: PgServer,
    private readonly credentials: string,
    private readonly database: string,
    public role: Role,
  ) {}
  get url(): string {
    return `postgres://${this.credentials}@${LOOPBACK}:${this.server.port}/${this.database}`;
  }
  get port(): number {
    return this.server.port;
  }
  get dataDir(): string {
    return this.server.dataDir;
  }
  get pid(): number | undefined {
    return this.server.pid;
  }
  toJSON() {
    return { url: this.url, host: this.host, port: this.port, dataDir: this.dataDir, pid: this.pid };
  }
}

/** What {@link createCluster} needs from the starter. */
export interface ClusterParts {
  primary: PgServer;
  replicas: PgServer[];
  user: string;
  password: string;
  database: string;
  baseDir: string;
  version: string;
  startTimeoutMs: number;
  resource: Resource;
}

/** Waits until the primary reports replica `i` as streaming in `pg_stat_replication`. */
export async function waitStreaming(primary: PgServer, replica: PgServer, i: number, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  let state = 'not connected';
  for (;;) {
    const rows = await primary.admin<{ state: string }>(
      'SELECT state FROM pg_stat_replication WHERE application_name = $1',
      [slotName(i)],
    );
    state = rows[0]?.state ?? 'not connected';
    if (state === 'streaming') return;
    if (replica.pid === undefined) {
      throw new Error(`PostgreSQL ${replica.name} exited\n${LOG_TAIL_HEADING}\n${replica.logTail()}`);
    }
    if (Date.now() > until) {
      throw new Error(
        `PostgreSQL ${replica.name} was not streaming within ${timeoutMs} ms (state: ${state})\n` +
          `${LOG_TAIL_HEADING}\n${replica.logTail()}`,
      );
    }
    await sleep(50);
  }
}

/** Wraps started servers into the {@link PostgresCluster} control surface. */
export function createCluster(parts: ClusterParts): PostgresCluster {
  const credentials = `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.password)}`;
  const database = encodeURIComponent(parts.database);
  const primary = new Node(parts.primary, credentials, database, 'primary');
  const replicas = parts.replicas.map((server) => new Node(server, credentials, database, 'replica'));
  const all = [primary, ...replicas];
  let stopped = false;

  const syncPids = () => {
    parts.resource.pids = all.map((node) => node.pid).filter((pid): pid is number => pid !== undefined);
    touch();
  };
  const replica = (i: number): Node => {
    const node = replicas[i];
    if (node === undefined) throw new RangeError(`no replica ${i}: the cluster has ${replicas.length}`);
    return node;
  };
  const standby = (i: number): Node => {
    const node = replica(i);
    if (node.role !== 'replica') throw new Error(`replica ${i} was promoted: it is not in recovery`);
    return node;
  };
  const insertLsn = async () => {
    const rows = await parts.primary.admin<{ lsn: string }>(
      'SELECT pg_current_wal_insert_lsn()::text AS lsn',
    );
    return replayTarget(parseLsn(rows[0]?.lsn ?? '0/0'));
  };
  const replayLsn = async (node: Node) => {
    const rows = await node.server.admin<{ lsn: string | null }>(
      'SELECT pg_last_wal_replay_lsn()::text AS lsn',
    );
    return parseLsn(rows[0]?.lsn ?? '0/0');
  };

  return {
    primary,
    replicas,
    user: parts.user,
    password: parts.password,
    database: parts.database,
    baseDir: parts.baseDir,
    version: parts.version,

    async pauseReplay(i) {
      await standby(i).server.admin('SELECT pg_wal_replay_pause()');
    },
    async resumeReplay(i) {
      await standby(i).server.admin('SELECT pg_wal_replay_resume()');
    },
    async setApplyDelay(i, ms) {
      if (!(Number.isFinite(ms) && ms >= 0))
        throw new RangeError(`setApplyDelay: ms must be >= 0; received ${ms}`);
      const server = standby(i).server;
      const value = `${Math.round(ms)}ms`;
      await server.admin(`ALTER SYSTEM SET recovery_min_apply_delay = '${value}'`);
      await server.admin('SELECT pg_reload_conf()');
      // A reload is asynchronous: wait until new sessions see the value, so the startup process has it too.
      const until = Date.now() + 5_000;
      for (;;) {
        const rows = await server.admin<{ ms: string }>(
          "SELECT setting AS ms FROM pg_settings WHERE name = 'recovery_min_apply_delay'",
        );
        if (Number(rows[0]?.ms) === Math.round(ms) || Date.now() > until) return;
        await sleep(20);
      }
    },
    async stopPrimary(mode = 'fast') {
      await parts.primary.stop(mode);
      syncPids();
    },
    async killPrimary() {
      await parts.primary.kill();
      syncPids();
    },
    async startPrimary() {
      await parts.primary.start(parts.startTimeoutMs);
      syncPids();
    },
    async promote(i) {
      const node = standby(i);
      const rows = await node.server.admin<{ done: boolean }>('SELECT pg_promote(true, 60) AS done');
      if (rows[0]?.done !== true) throw new Error(`replica ${i} did not finish promotion within 60 s`);
      for (;;) {
        const [row] = await node.server.admin<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (row?.r === false) break;
        await sleep(20);
      }
      node.role = 'promoted';
    },
    async restartReplica(i) {
      const node = replica(i);
      await node.server.stop('fast', 30_000);
      syncPids();
      await node.server.start(parts.startTimeoutMs);
      syncPids();
      if (node.role === 'replica' && primary.pid !== undefined) {
        await waitStreaming(parts.primary, node.server, i, parts.startTimeoutMs);
      }
    },
    async replicaLagBytes(i) {
      const node = standby(i);
      const lag = (await insertLsn()) - (await replayLsn(node));
      return lag > 0n ? Number(lag) : 0;
    },
    async waitForReplay(i, timeoutMs = 30_000) {
      const node = standby(i);
      const target = await insertLsn();
      const until = Date.now() + timeoutMs;
      for (;;) {
        const replayed = await replayLsn(node);
        if (replayed >= target) return;
        if (Date.now() > until) {
          throw new Error(
            `replica ${i} replayed ${formatLsn(replayed)}, not ${formatLsn(target)}, within ${timeoutMs} ms`,
          );
        }
        await sleep(10);
      }
    },
    async query<R extends Record<string, unknown> = Record<string, unknown>>(
      target: QueryTarget,
      sql: string,
      values: unknown[] = [],
    ) {
      const url =
        target === 'primary' ? primary.url : typeof target === 'number' ? replica(target).url : target;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      client.on('error', () => {});
      try {
        await client.connect();
        return (await client.query<R>(sql, values)).rows;
      } finally {
        await client.end().catch(() => {});
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // The data is thrown away: no shutdown checkpoint needed.
      await Promise.all(all.map((node) => node.server.stop('immediate', 10_000)));
      rmSync(parts.baseDir, { recursive: true, force: true });
      parts.resource.pids = [];
      release(parts.resource);
    },
  };
}

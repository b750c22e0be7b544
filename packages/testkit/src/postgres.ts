import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findPostgresBinaries, type PostgresBinaries } from './binaries.js';
import { LOOPBACK } from './ports.js';
import { createCluster, waitStreaming } from './postgres-cluster.js';
import {
  nodeSettings,
  PG_HBA,
  type PostgresOptions,
  REPLICATION_USER,
  type ResolvedPostgresOptions,
  renderConf,
  resolvePostgresOptions,
  slotName,
} from './postgres-config.js';
import { LOG_TAIL_HEADING, PgServer, SUPERUSER } from './postgres-node.js';
import { chownTree, type RunAs, run, writeOwned } from './postgres-process.js';
import type { PostgresCluster } from './postgres-types.js';
import { postgresUser, release, touch, track } from './registry.js';

export type { PostgresOptions, PostgresSetting, SynchronousCommit } from './postgres-config.js';
export { DEFAULT_POSTGRES_OPTIONS } from './postgres-config.js';
export type { ShutdownMode } from './postgres-node.js';
export type { PostgresCluster, PostgresNode, QueryTarget } from './postgres-types.js';

/** Masks credentials: the given secrets anywhere, and whatever follows `user:` in a URL or `password=`. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const needles = [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s)]))].filter((s) => s !== '');
  return (text) => {
    let out = text
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
      .replace(/(\bpassword\s*=\s*)('(?:[^']|'')*'|\S+)/gi, '$1***')
      .replace(/(\bPASSWORD\s+)'(?:[^']|'')*'/gi, "$1'***'");
    for (const needle of needles) out = out.split(needle).join('***');
    return out;
  };
}

interface Context {
  opts: ResolvedPostgresOptions;
  bins: PostgresBinaries;
  runAs: RunAs;
  redact: (text: string) => string;
  baseDir: string;
  replPassword: string;
}

/** initdb and pg_basebackup copy files: allow them more than a server start. */
const toolTimeoutMs = (ctx: Context) => Math.max(120_000, 2 * ctx.opts.startTimeoutMs);

function newServer(ctx: Context, name: string, dirName: string): PgServer {
  const dir = join(ctx.baseDir, dirName);
  mkdirSync(dir, { mode: 0o700 });
  chownTree(dir, ctx.runAs);
  return new PgServer(name, dir, ctx.bins, ctx.runAs, ctx.redact);
}

function configWriter(ctx: Context, server: PgServer, primary: boolean): (port: number) => void {
  return (port) => {
    const settings = nodeSettings(ctx.opts, { port, socketDir: server.dir, primary });
    writeOwned(join(server.dataDir, 'postgresql.conf'), renderConf(settings), ctx.runAs);
  };
}

async function startPrimaryServer(ctx: Context, server: PgServer): Promise<void> {
  const args = [
    '-D',
    server.dataDir,
    '-U',
    SUPERUSER,
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ];
  if (ctx.bins.major >= 14) args.push('--no-instructions');
  await run(ctx.bins.initdb, args, { cwd: server.dir, runAs: ctx.runAs, timeoutMs: toolTimeoutMs(ctx) });
  writeOwned(join(server.dataDir, 'pg_hba.conf'), PG_HBA, ctx.runAs);
  await server.startOnFreePort(configWriter(ctx, server, true), ctx.opts.startTimeoutMs);
}

/** Creates the login role, its database and the replication role. */
async function createRoles(
  server: PgServer,
  opts: ResolvedPostgresOptions,
  password: string,
  replPassword: string,
) {
  const { escapeIdentifier: ident, escapeLiteral: literal } = pg;
  const user = ident(opts.user);
  await server.withAdmin(async (client) => {
    // With synchronous standbys named, a commit would wait for replicas that do not exist yet.
    await client.query('SET synchronous_commit = local');
    await client.query(
      `CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD ${literal(replPassword)}`,
    );
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [opts.user]);
    const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
    // initdb's bootstrap superuser cannot give up superuser.
    const su = opts.superuser || opts.user === SUPERUSER ? 'SUPERUSER' : 'NOSUPERUSER';
    await client.query(`${verb} ROLE ${user} WITH LOGIN ${su} PASSWORD ${literal(password)}`);
    await client.query(`GRANT pg_monitor, pg_signal_backend TO ${user}`);
    // Lag and failover control in plain SQL on a replica, without superuser.
    const fns =
      'pg_wal_replay_pause(), pg_wal_replay_resume(), pg_promote(boolean, integer), pg_reload_conf()';
    await client.query(`GRANT EXECUTE ON FUNCTION ${fns} TO ${user}`);
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database]);
    if (db.rowCount === 0) await client.query(`CREATE DATABASE ${ident(opts.database)} OWNER ${user}`);
  });
}

async function startReplicaServer(
  ctx: Context,
  primary: PgServer,
  server: PgServer,
  i: number,
): Promise<void> {
  const conninfo = `host=${LOOPBACK} port=${primary.port} user=${REPLICATION_USER} application_name=${slotName(i)}`;
  // -R writes standby.signal and primary_conninfo (password included) into postgresql.auto.conf; -C -S creates
  // the slot that keeps the primary from recycling WAL a paused replica still needs.
  const args = ['-D', server.dataDir, '-d', conninfo, '-R', '-X', 'stream', '-C', '-S', slotName(i)];
  await run(ctx.bins.pgBasebackup, [...args, '--checkpoint=fast', '--no-sync'], {
    cwd: server.dir,
    runAs: ctx.runAs,
    env: { PGPASSWORD: ctx.replPassword },
    timeoutMs: toolTimeoutMs(ctx),
  });
  await server.startOnFreePort(configWriter(ctx, server, false), ctx.opts.startTimeoutMs);
  await waitStreaming(primary, server, i, ctx.opts.startTimeoutMs);
}

/**
 * Starts a real PostgreSQL primary and `replicas` streaming replicas on 127.0.0.1, each a `postgres` process
 * run directly (as the `postgres` user when this process is root) in its own directory under a new temp
 * directory. Resolves once every node accepts queries and every replica streams from its slot `replica_<i>`.
 *
 * URLs log in as `user` (default `ballast`, not a superuser) with a generated password over SCRAM; the nodes
 * run with `fsync=off`, so they are for tests only. Servers and directories are recorded in the kit's registry,
 * so they are cleaned up when this process exits even without `stop()`.
 *
 * @param options see {@link PostgresOptions}.
 * @throws Error naming what to install when the server binaries are missing ({@link findPostgresBinaries}).
 * @throws Error with the tail of the failing node's log (credentials masked) when a node does not start;
 *   everything started so far is stopped and removed first.
 * @example
 * ```ts
 * const pgc = await startPostgres({ replicas: 1 });
 * try {
 *   await pgc.query('primary', 'CREATE TABLE t (id int)');
 *   await pgc.pauseReplay(0);
 *   await pgc.query('primary', 'INSERT INTO t VALUES (1)');
 *   // replica 0 lags until resumeReplay(0)
 *   await pgc.resumeReplay(0);
 *   await pgc.waitForReplay(0);
 * } finally {
 *   await pgc.stop();
 * }
 * ```
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresCluster> {
  const opts = resolvePostgresOptions(options);
  const bins = findPostgresBinaries();
  const runAs = postgresUser();
  const password = opts.password ?? randomBytes(18).toString('base64url');
  const replPassword = randomBytes(18).toString('base64url');
  const redact = redactor([password, replPassword]);
  const baseDir = mkdtempSync(join(opts.dataDir ?? tmpdir(), 'ballast-pg-'));
  const resource = track({
    label: `postgres ${baseDir}`,
    pids: [],
    dirs: [baseDir],
    persistent: opts.persistent,
  });
  const ctx: Context = { opts, bins, runAs, redact, baseDir, replPassword };
  const servers: PgServer[] = [];
  const syncPids = () => {
    resource.pids = servers.map((s) => s.pid).filter((pid): pid is number => pid !== undefined);
    touch();
  };
  try {
    chownTree(baseDir, runAs);
    const primary = newServer(ctx, 'primary', 'primary');
    primary.onSpawn = syncPids;
    servers.push(primary);
    await startPrimaryServer(ctx, primary);
    syncPids();
    await createRoles(primary, opts, password, replPassword);
    const replicas = Array.from({ length: opts.replicas }, (_, i) =>
      newServer(ctx, `replica ${i}`, `replica-${i}`),
    );
    for (const r of replicas) r.onSpawn = syncPids;
    servers.push(...replicas);
    const started = await Promise.allSettled(
      replicas.map(async (server, i) => {
        await startReplicaServer(ctx, primary, server, i);
        syncPids();
      }),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return createCluster({
      primary,
      replicas,
      user: opts.user,
      password,
      database: opts.database,
      baseDir,
      version: bins.version,
      startTimeoutMs: opts.startTimeoutMs,
      resource,
    });
  } catch (error) {
    let message = error instanceof Error ? error.message : String(error);
    // Errors of our own SQL (role setup) come without the server's view of them: add the primary's log.
    const primary = servers[0];
    if (!message.includes(LOG_TAIL_HEADING) && primary !== undefined && existsSync(primary.logFile)) {
      message += `\n${LOG_TAIL_HEADING}\n${primary.logTail()}`;
    }
    await Promise.all(servers.map((server) => server.kill()));
    rmSync(baseDir, { recursive: true, force: true });
    release(resource);
    throw new Error(redact(`startPostgres failed: ${message}`));
  }
}

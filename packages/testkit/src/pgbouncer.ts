import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findBinary } from './find-binary.js';
import { freePort, LOOPBACK } from './ports.js';
import { redactor } from './postgres.js';
import { chownTree, serverEnv, writeOwned } from './postgres-process.js';
import { stopNode } from './redis-node.js';
import { postgresUser, type Resource, release, touch, track } from './registry.js';

/** The server PgBouncer connects to, and the login every client of it uses. */
export interface PgbouncerTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** How PgBouncer hands server connections to clients. */
export type PgbouncerPoolMode = 'transaction' | 'session' | 'statement';

/** Options of {@link startPgbouncer}. */
export interface PgbouncerOptions {
  /**
   * The PostgreSQL server to pool, as a `postgres://user:password@host:port/database` URL (e.g.
   * `pgc.primary.url`) or its parts. Clients of PgBouncer log in with the same user, password and database.
   */
  target: PgbouncerTarget | string;
  /**
   * `transaction` gives a client a server connection for one transaction (a statement outside a transaction is
   * one); `session` for as long as the client stays connected; `statement` for one statement.
   * @default 'transaction'
   */
  poolMode?: PgbouncerPoolMode | undefined;
  /** PgBouncer's `max_client_conn`: client connections it accepts. @default 200 */
  maxClientConn?: number | undefined;
  /** PgBouncer's `default_pool_size`: server connections per user/database pair. @default 20 */
  defaultPoolSize?: number | undefined;
  /** How long PgBouncer may take to serve a real login and `SELECT 1`. @default 10000 */
  startTimeoutMs?: number | undefined;
  /**
   * Keep PgBouncer when this process exits (the CLI's `up`); `stop()` removes it.
   * @default false
   */
  persistent?: boolean | undefined;
}

/** Defaults of {@link PgbouncerOptions}. */
export const DEFAULT_PGBOUNCER_OPTIONS = Object.freeze({
  poolMode: 'transaction' as PgbouncerPoolMode,
  maxClientConn: 200,
  defaultPoolSize: 20,
  startTimeoutMs: 10_000,
  persistent: false,
});

/** A running PgBouncer started by {@link startPgbouncer}. */
export interface Pgbouncer {
  /** `postgres://<user>:<password>@127.0.0.1:<port>/<database>`: the target's login, through PgBouncer. */
  readonly url: string;
  /** Always `127.0.0.1`. */
  readonly host: string;
  readonly port: number;
  readonly poolMode: PgbouncerPoolMode;
  /** Holds `pgbouncer.ini`, `userlist.txt`, the log (`pgbouncer.log`) and the Unix socket. */
  readonly dir: string;
  /** The process id while PgBouncer runs, else `undefined`. */
  readonly pid: number | undefined;
  /** The last `lines` lines of PgBouncer's log, credentials masked. */
  logTail(lines?: number): string;
  /**
   * Stops PgBouncer (SIGTERM: immediate shutdown, its clients are disconnected; SIGKILL after 2 s) and removes
   * its directory. Idempotent.
   */
  stop(): Promise<void>;
  /** SIGKILLs PgBouncer, like a crash: its port refuses connections from then on. The directory stays until `stop()`. */
  kill(): Promise<void>;
}

const ENV_BINARY = 'BALLAST_TESTKIT_PGBOUNCER';
const INSTALL_HINT = `Install it: apt-get install -y pgbouncer, or set ${ENV_BINARY}.`;
const POOL_MODES: readonly PgbouncerPoolMode[] = ['transaction', 'session', 'statement'];
const LOG_TAIL_LINES = 20;

/**
 * The path of the `pgbouncer` binary: `$BALLAST_TESTKIT_PGBOUNCER` when set, else the first executable
 * `pgbouncer` on `PATH`, in `/usr/sbin` (Debian's package), `/usr/local/sbin`, `/usr/bin` or `/usr/local/bin`.
 * @param env the environment to read `PATH` and the override from
 * @throws {Error} `pgbouncer was not found in <places>. Install it: apt-get install -y pgbouncer, or set
 * BALLAST_TESTKIT_PGBOUNCER.` — also when the override names a file that is not executable.
 * @example
 * const bin = findPgbouncer(); // '/usr/sbin/pgbouncer'
 */
export function findPgbouncer(env: NodeJS.ProcessEnv = process.env): string {
  return findBinary(
    'pgbouncer',
    ENV_BINARY,
    INSTALL_HINT,
    ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'],
    env,
  );
}

function invalid(option: string, expected: string, value: unknown): Error {
  const shown = option === 'target' ? typeof value : JSON.stringify(value);
  return Object.assign(
    new Error(`startPgbouncer: options.${option} must be ${expected}, received ${shown}`),
    {
      code: 'BALLAST_INVALID_ARGUMENT' as const,
    },
  );
}

/** Names written unquoted into the ini file; anything else could change its meaning. */
const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

function parseTarget(target: PgbouncerOptions['target']): PgbouncerTarget {
  let t: PgbouncerTarget;
  if (typeof target === 'string') {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      throw invalid('target', 'a postgres:// URL or { host, port, user, password, database }', target);
    }
    if (!/^postgres(ql)?:$/.test(u.protocol)) throw invalid('target', 'a postgres:// URL', target);
    t = {
      host: u.hostname,
      port: u.port === '' ? 5432 : Number(u.port),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    };
  } else if (typeof target === 'object' && target !== null) t = { ...target };
  else throw invalid('target', 'a postgres:// URL or { host, port, user, password, database }', target);
  if (!Number.isInteger(t.port) || t.port <= 0 || t.port > 65_535)
    throw invalid('target.port', 'a TCP port', t.port);
  for (const key of ['host', 'user', 'database'] as const) {
    if (typeof t[key] !== 'string' || !SAFE_NAME.test(t[key]))
      throw invalid(`target.${key}`, 'a non-empty name of letters, digits, _ . -', t[key]);
  }
  if (typeof t.password !== 'string' || t.password === '' || /[\n\r]/.test(t.password)) {
    throw invalid('target.password', 'a non-empty string without line breaks', '(hidden)');
  }
  return t;
}

function resolvePgbouncerOptions(options: PgbouncerOptions) {
  const d = DEFAULT_PGBOUNCER_OPTIONS;
  const poolMode = options.poolMode ?? d.poolMode;
  if (!POOL_MODES.includes(poolMode)) throw invalid('poolMode', POOL_MODES.join(' | '), poolMode);
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value <= 0) throw invalid(name, 'a whole number > 0', value);
    return value;
  };
  const startTimeoutMs = options.startTimeoutMs ?? d.startTimeoutMs;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw invalid('startTimeoutMs', 'a number of milliseconds > 0', startTimeoutMs);
  }
  return {
    target: parseTarget(options.target),
    poolMode,
    maxClientConn: positive('maxClientConn', options.maxClientConn ?? d.maxClientConn),
    defaultPoolSize: positive('defaultPoolSize', options.defaultPoolSize ?? d.defaultPoolSize),
    startTimeoutMs,
    persistent: options.persistent ?? d.persistent,
  };
}

type Resolved = ReturnType<typeof resolvePgbouncerOptions>;

function renderIni(o: Resolved, dir: string, port: number): string {
  const t = o.target;
  // No user or password on the database line: PgBouncer logs in to the server as the client's user, with the
  // plain password from the userlist (SCRAM towards the server too).
  return [
    '; Written by @ballast/testkit.',
    '[databases]',
    `${t.database} = host=${t.host} port=${t.port} dbname=${t.database}`,
    '',
    '[pgbouncer]',
    `listen_addr = ${LOOPBACK}`,
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    'auth_type = scram-sha-256',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `pool_mode = ${o.poolMode}`,
    `max_client_conn = ${o.maxClientConn}`,
    `default_pool_size = ${o.defaultPoolSize}`,
    // pg sends extra_float_digits, and pools send `options=-c statement_timeout=…` at startup: PgBouncer refuses
    // a login with a startup parameter it does not track unless it is ignored. Ignored means dropped.
    'ignore_startup_parameters = extra_float_digits,options,statement_timeout',
    // A failed server login (a stopped or killed target) is retried after 1 s, not PgBouncer's default 15 s.
    'server_login_retry = 1',
    'server_connect_timeout = 5',
    '',
  ].join('\n');
}

/** userlist.txt: `"user" "password"`, a `"` inside doubled. */
function renderUserlist(t: PgbouncerTarget): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  return `${q(t.user)} ${q(t.password)}\n`;
}

function urlFor(t: PgbouncerTarget, port: number): string {
  const user = encodeURIComponent(t.user);
  return `postgres://${user}:${encodeURIComponent(t.password)}@${LOOPBACK}:${port}/${encodeURIComponent(t.database)}`;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** One real login and `SELECT 1` through PgBouncer: it listens, authenticates and reaches the server. */
async function selectOne(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts PgBouncer in front of one PostgreSQL server, on a free loopback port, in its own temporary directory
 * (ini, userlist, log and Unix socket there), as the `postgres` user when this process is root (PgBouncer
 * refuses to run as root). Resolves once a real login and `SELECT 1` through it succeed. The process and the
 * directory are recorded in the kit's cleanup registry.
 *
 * Clients and PgBouncer authenticate with SCRAM-SHA-256 against a plaintext userlist holding the target's
 * password; PgBouncer then logs in to the server with SCRAM too. The startup parameters `options`,
 * `statement_timeout` and `extra_float_digits` are accepted and ignored: in transaction pooling a server
 * connection serves many clients, so a client's session settings cannot be honoured.
 *
 * @throws {Error} when pgbouncer is missing (see {@link findPgbouncer}), with code `BALLAST_INVALID_ARGUMENT`
 * for a bad option, or when it does not serve a query within `startTimeoutMs`; the message then carries the
 * tail of its log, credentials masked, and everything started is cleaned up.
 * @example
 * const pgc = await startPostgres({ replicas: 1 });
 * const bouncer = await startPgbouncer({ target: pgc.primary.url }); // transaction pooling
 * const client = new pg.Client(bouncer.url);
 * await bouncer.stop();
 */
export async function startPgbouncer(options: PgbouncerOptions): Promise<Pgbouncer> {
  const o = resolvePgbouncerOptions(options);
  const bin = findPgbouncer();
  const runAs = postgresUser();
  const redact = redactor([o.target.password]);
  const dir = mkdtempSync(join(tmpdir(), 'ballast-pgbouncer-'));
  const resource: Resource = track({
    label: `pgbouncer ${dir}`,
    pids: [],
    dirs: [dir],
    persistent: o.persistent,
  });
  const iniPath = join(dir, 'pgbouncer.ini');
  const logPath = join(dir, 'pgbouncer.log');
  let child: ChildProcess | undefined;
  const syncPid = (): void => {
    resource.pids = child?.pid !== undefined && !exited(child) ? [child.pid] : [];
    touch();
  };
  const fail = async (error: unknown): Promise<never> => {
    if (child !== undefined) await stopNode({ child }, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    release(resource);
    throw error;
  };
  try {
    chownTree(dir, runAs);
    writeOwned(join(dir, 'userlist.txt'), renderUserlist(o.target), runAs);
  } catch (error) {
    return fail(error);
  }
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const logOffset = readLog(logPath).length;
    try {
      writeOwned(iniPath, renderIni(o, dir, port), runAs);
      const fd = openSync(logPath, 'a');
      try {
        child = spawn(bin, [iniPath], {
          cwd: dir,
          env: serverEnv(),
          stdio: ['ignore', fd, fd],
          detached: o.persistent,
          ...(runAs ?? {}),
        });
      } finally {
        closeSync(fd);
      }
      const spawned = child;
      let spawnError: Error | undefined;
      spawned.once('error', (error) => {
        spawnError = error;
      });
      spawned.unref();
      syncPid();
      const url = urlFor(o.target, port);
      const deadline = Date.now() + o.startTimeoutMs;
      let last: unknown;
      for (;;) {
        await sleep(0); // a spawn error (ENOENT, EACCES) is emitted on a later tick
        if (spawnError) throw spawnError;
        if (exited(spawned)) {
          const log = readLog(logPath).slice(logOffset);
          // Another process took the port between freePort() and PgBouncer's bind: try another one.
          if (/Address already in use/i.test(log) && attempt < 5) break;
          throw new Error(`it exited (${spawned.signalCode ?? `code ${String(spawned.exitCode)}`})`);
        }
        try {
          await selectOne(url);
          return handle(spawned, port, url);
        } catch (error) {
          last = error;
          // A refused login will not get better by waiting (PgBouncer relays the server's refusal as 08P01).
          if (
            /^28/.test(String((error as { code?: unknown }).code)) ||
            /authentication failed/.test(String(error))
          )
            throw error;
        }
        if (Date.now() > deadline) {
          const detail = last instanceof Error ? ` (last attempt: ${last.message})` : '';
          throw new Error(`it did not serve SELECT 1 within ${o.startTimeoutMs} ms${detail}`);
        }
        await sleep(20);
      }
      child = undefined;
      syncPid();
    } catch (error) {
      const tail = readLog(logPath).slice(logOffset).trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
      const reason = error instanceof Error ? error.message : String(error);
      return fail(
        new Error(
          redact(
            `pgbouncer did not start on ${LOOPBACK}:${port} in front of ${o.target.host}:${o.target.port}: ${reason}\n` +
              `command: ${bin} ${iniPath}\nlast lines of its log:\n${tail === '' ? '(empty)' : tail}`,
          ),
        ),
      );
    }
  }

  function handle(proc: ChildProcess, port: number, url: string): Pgbouncer {
    let stopping: Promise<void> | undefined;
    return {
      url,
      host: LOOPBACK,
      port,
      poolMode: o.poolMode,
      dir,
      get pid() {
        return exited(proc) ? undefined : proc.pid;
      },
      logTail(lines = 40) {
        return redact(readLog(logPath).trimEnd().split('\n').slice(-lines).join('\n'));
      },
      async kill() {
        await stopNode({ child: proc }, 'SIGKILL');
        syncPid();
      },
      stop() {
        stopping ??= (async () => {
          await stopNode({ child: proc }, 'SIGTERM');
          rmSync(dir, { recursive: true, force: true });
          release(resource);
        })();
        return stopping;
      },
    };
  }
}

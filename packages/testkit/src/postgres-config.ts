/** Options of {@link startPostgres} and the server configuration files they turn into. */

/** A `postgresql.conf` value: strings are quoted, booleans become `on`/`off`. */
export type PostgresSetting = string | number | boolean;

/** Values of PostgreSQL's `synchronous_commit`. */
export type SynchronousCommit = 'on' | 'off' | 'local' | 'remote_write' | 'remote_apply';

/** Options of {@link startPostgres}. */
export interface PostgresOptions {
  /**
   * Streaming replicas to start, each on its own physical replication slot `replica_<i>`.
   * @default 1
   */
  replicas?: number | undefined;
  /** Extra `postgresql.conf` settings for every node; they override the kit's own. */
  config?: Readonly<Record<string, PostgresSetting>> | undefined;
  /**
   * `synchronous_commit` on every node. With `'remote_write'` or `'remote_apply'` the primary also gets
   * `synchronous_standby_names = 'ANY <replicas> (replica_0, …)'`, so a commit waits for every replica (and
   * blocks while one is paused or down) — unless `config` sets `synchronous_standby_names` itself.
   * @default PostgreSQL's own default, 'on' (asynchronous replication: no synchronous standby is named)
   */
  synchronousCommit?: SynchronousCommit | undefined;
  /**
   * Directory to create the cluster's directory in (the cluster gets a new `ballast-pg-*` directory inside it,
   * removed by `stop()`). The server's user (`postgres` when running as root) must be able to enter it.
   * @default os.tmpdir()
   */
  dataDir?: string | undefined;
  /**
   * Database created for `user`, who owns it.
   * @default 'ballast'
   */
  database?: string | undefined;
  /**
   * Login role of the URLs. Owns `database`; member of `pg_monitor` and `pg_signal_backend`; may execute
   * `pg_wal_replay_pause()`, `pg_wal_replay_resume()`, `pg_promote()` and `pg_reload_conf()`. Not a
   * superuser unless `superuser` is set.
   * @default 'ballast'
   */
  user?: string | undefined;
  /**
   * Make `user` a superuser (like most local setups); off, it has an application's privileges.
   * @default false
   */
  superuser?: boolean | undefined;
  /**
   * Password of `user` (SCRAM over TCP).
   * @default 24 random URL-safe characters
   */
  password?: string | undefined;
  /**
   * How long each server may take to accept queries, and each replica to start streaming.
   * @default 30_000
   */
  startTimeoutMs?: number | undefined;
  /**
   * Keep the servers and directories when this process exits (for the CLI's `up`; `down` removes them).
   * Otherwise they are killed and removed at exit even without `stop()`.
   * @default false
   */
  persistent?: boolean | undefined;
}

/** Defaults of {@link PostgresOptions}. */
export const DEFAULT_POSTGRES_OPTIONS = Object.freeze({
  replicas: 1,
  config: Object.freeze({}) as Readonly<Record<string, PostgresSetting>>,
  database: 'ballast',
  user: 'ballast',
  superuser: false,
  startTimeoutMs: 30_000,
  persistent: false,
});

/** Options with defaults applied and validated. */
export interface ResolvedPostgresOptions {
  replicas: number;
  config: Readonly<Record<string, PostgresSetting>>;
  synchronousCommit: SynchronousCommit | undefined;
  dataDir: string | undefined;
  database: string;
  user: string;
  superuser: boolean;
  password: string | undefined;
  startTimeoutMs: number;
  persistent: boolean;
}

const SYNC_VALUES: readonly SynchronousCommit[] = ['on', 'off', 'local', 'remote_write', 'remote_apply'];

function invalid(option: string, value: unknown, expected: string): Error {
  return new Error(
    `startPostgres: option '${option}' must be ${expected}; received ${JSON.stringify(value)}`,
  );
}

/** Applies defaults and validates; throws naming the option and the value received. */
export function resolvePostgresOptions(options: PostgresOptions = {}): ResolvedPostgresOptions {
  const resolved: ResolvedPostgresOptions = {
    replicas: options.replicas ?? DEFAULT_POSTGRES_OPTIONS.replicas,
    config: options.config ?? DEFAULT_POSTGRES_OPTIONS.config,
    synchronousCommit: options.synchronousCommit,
    dataDir: options.dataDir,
    database: options.database ?? DEFAULT_POSTGRES_OPTIONS.database,
    user: options.user ?? DEFAULT_POSTGRES_OPTIONS.user,
    superuser: options.superuser ?? DEFAULT_POSTGRES_OPTIONS.superuser,
    password: options.password,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_POSTGRES_OPTIONS.startTimeoutMs,
    persistent: options.persistent ?? DEFAULT_POSTGRES_OPTIONS.persistent,
  };
  const { replicas, startTimeoutMs, synchronousCommit, database, user, password } = resolved;
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 8) {
    throw invalid('replicas', replicas, 'an integer from 0 to 8');
  }
  if (!(startTimeoutMs > 0)) throw invalid('startTimeoutMs', startTimeoutMs, 'a positive number of ms');
  if (synchronousCommit !== undefined && !SYNC_VALUES.includes(synchronousCommit)) {
    throw invalid('synchronousCommit', synchronousCommit, SYNC_VALUES.join(' | '));
  }
  if (database === '') throw invalid('database', database, 'a non-empty name');
  if (user === '' || user === REPLICATION_USER)
    throw invalid('user', user, `a non-empty name other than '${REPLICATION_USER}'`);
  // Never echo a password back: error messages end up in CI logs.
  if (password === '') throw new Error("startPostgres: option 'password' must not be empty");
  for (const key of Object.keys(resolved.config)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key)) throw invalid(`config.${key}`, key, 'a setting name');
  }
  return resolved;
}

function renderValue(value: PostgresSetting): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The `postgresql.conf` text for `settings` (later keys win over earlier ones). */
export function renderConf(settings: Readonly<Record<string, PostgresSetting>>): string {
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${renderValue(value)}`);
  return `# Written by @ballast/testkit.\n${lines.join('\n')}\n`;
}

/** Settings of one node: the kit's, then `synchronous_commit`, then the caller's `config`. */
export function nodeSettings(
  options: ResolvedPostgresOptions,
  node: { port: number; socketDir: string; primary: boolean },
): Record<string, PostgresSetting> {
  const settings: Record<string, PostgresSetting> = {
    listen_addresses: '127.0.0.1',
    port: node.port,
    unix_socket_directories: node.socketDir,
    max_connections: 200,
    shared_buffers: '32MB',
    wal_level: 'replica',
    max_wal_senders: 10,
    max_replication_slots: 10,
    wal_keep_size: '16MB',
    hot_standby: true,
    hot_standby_feedback: true,
    // Replicas reconnect to a restarted primary within this, instead of PostgreSQL's 5 s.
    wal_retrieve_retry_interval: '200ms',
    fsync: false,
    full_page_writes: false,
    logging_collector: false,
    log_destination: 'stderr',
    log_line_prefix: '%m [%p] %q%u@%d %a: ',
    log_connections: false,
  };
  const { synchronousCommit, replicas } = options;
  if (synchronousCommit !== undefined) settings.synchronous_commit = synchronousCommit;
  const waitsForReplicas = synchronousCommit === 'remote_write' || synchronousCommit === 'remote_apply';
  // Only the primary names its standbys: a promoted replica naming them would block its own commits.
  if (node.primary && waitsForReplicas && replicas > 0) {
    const names = Array.from({ length: replicas }, (_, i) => slotName(i));
    settings.synchronous_standby_names = `ANY ${replicas} (${names.join(', ')})`;
  }
  return { ...settings, ...options.config };
}

/** Client authentication: trust on the node's socket, SCRAM over loopback TCP. */
export const PG_HBA = [
  '# Written by @ballast/testkit.',
  'local   all          all                       trust',
  'local   replication  all                       trust',
  'host    replication  replicator  127.0.0.1/32  scram-sha-256',
  'host    all          all         127.0.0.1/32  scram-sha-256',
  '',
].join('\n');

/** Role the replicas stream as. */
export const REPLICATION_USER = 'replicator';

/** Replication slot and `application_name` of replica `i`. */
export function slotName(i: number): string {
  return `replica_${i}`;
}

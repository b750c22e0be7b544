import type { ShutdownMode } from './postgres-node.js';

/** One server of a {@link PostgresCluster}. */
export interface PostgresNode {
  /** `postgres://<user>:<password>@127.0.0.1:<port>/<database>`: SCRAM login as the cluster's user. */
  readonly url: string;
  /** Always `127.0.0.1`. */
  readonly host: string;
  readonly port: number;
  /** The server's data directory (PGDATA). */
  readonly dataDir: string;
  /** The postmaster's pid while the server runs, else `undefined`. */
  readonly pid: number | undefined;
}

/** Where a {@link PostgresCluster.query} goes: `'primary'`, a replica's index, or any connection URL. */
export type QueryTarget = 'primary' | number | string;

/**
 * A running primary with streaming replicas, started by {@link startPostgres}. Replica methods take the
 * replica's index `i` in {@link PostgresCluster.replicas}.
 * @example
 * ```ts
 * const pgc = await startPostgres({ replicas: 1 });
 * await pgc.setApplyDelay(0, 500); // replica 0 shows each commit 500 ms late
 * await pgc.killPrimary(); // connections to pgc.primary.url now fail with ECONNREFUSED
 * await pgc.promote(0); // pgc.replicas[0].url accepts writes
 * await pgc.stop();
 * ```
 */
export interface PostgresCluster {
  /** The node started as primary. Never changes, not even after {@link PostgresCluster.promote}. */
  readonly primary: PostgresNode;
  /** Streaming replicas, `replicas[i]` on replication slot and `application_name` `replica_<i>`. */
  readonly replicas: readonly PostgresNode[];
  /** Login role of every URL. */
  readonly user: string;
  /** Its password (generated unless given). */
  readonly password: string;
  /** Database of every URL. */
  readonly database: string;
  /** Directory holding every node's directory; removed by {@link PostgresCluster.stop}. */
  readonly baseDir: string;
  /** Server version, e.g. `'15.14'`. */
  readonly version: string;
  /**
   * Pauses WAL replay on replica `i` (`pg_wal_replay_pause()`): it keeps receiving WAL (the slot keeps the
   * primary from recycling it) but applies nothing more until {@link PostgresCluster.resumeReplay}.
   * @throws when `i` is out of range or the node is not in recovery (promoted).
   */
  pauseReplay(i: number): Promise<void>;
  /** Resumes WAL replay on replica `i` (`pg_wal_replay_resume()`). @throws like `pauseReplay`. */
  resumeReplay(i: number): Promise<void>;
  /**
   * Sets `recovery_min_apply_delay` on replica `i` (`ALTER SYSTEM` + reload): each commit becomes visible there
   * `ms` after it committed on the primary. `0` removes the delay.
   * @throws when `i` is out of range or `ms` is negative.
   */
  setApplyDelay(i: number, ms: number): Promise<void>;
  /**
   * Shuts the primary down (`smart` waits for clients to disconnect; `fast` rolls back open transactions and
   * disconnects them; `immediate` exits without a checkpoint) and resolves once the postmaster exited.
   * `smart` waits as long as any client stays connected.
   * @default mode 'fast'
   * @throws never for a primary that is already down (it resolves at once).
   */
  stopPrimary(mode?: ShutdownMode): Promise<void>;
  /**
   * SIGKILLs the primary's postmaster and all its processes, like a host crash: clients see their connections
   * drop and new ones refused (`ECONNREFUSED`).
   * @throws never; resolves at once when the primary is already down.
   */
  killPrimary(): Promise<void>;
  /**
   * Starts the old primary again in place (same port and data; crash recovery after `killPrimary()`) and
   * resolves once it accepts queries. Replicas reconnect by themselves within ~200 ms; use
   * {@link PostgresCluster.waitForReplay} to wait for one.
   * @throws with the tail of the server log when it does not come up.
   */
  startPrimary(): Promise<void>;
  /**
   * Promotes replica `i` (`pg_promote()`) and resolves once `pg_is_in_recovery()` is false there: `replicas[i].url`
   * then accepts writes. `primary` is not changed (the old primary keeps running unless stopped, and the other
   * replicas keep following it): which node is the primary is for the code under test to find out.
   * @throws when `i` is out of range, the node is not a replica or promotion does not finish within 60 s.
   */
  promote(i: number): Promise<void>;
  /**
   * Restarts replica `i` (fast shutdown, then start) and resolves once it accepts queries and — when it is
   * still a replica and the primary runs — streams again. A replay pause does not survive a restart.
   * @throws with the tail of the server log when it does not come back within `startTimeoutMs`.
   */
  restartReplica(i: number): Promise<void>;
  /**
   * Bytes of WAL the primary has inserted that replica `i` has not replayed yet (0 when caught up).
   * @throws when the primary or the replica is down.
   */
  replicaLagBytes(i: number): Promise<number>;
  /**
   * Resolves once replica `i` replayed everything the primary had inserted when this was called (its
   * `pg_current_wal_insert_lsn()`), so every commit made before is visible there.
   * @default timeoutMs 30_000
   * @throws when that takes longer than `timeoutMs` (e.g. replay is paused).
   */
  waitForReplay(i: number, timeoutMs?: number): Promise<void>;
  /**
   * Runs one statement as the cluster's user on a fresh connection and returns the rows; errors are pg's own
   * (SQLSTATE in `code`, `ECONNREFUSED`, …).
   * @throws pg's error unchanged when connecting or the statement fails; RangeError for a bad replica index.
   */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    target: QueryTarget,
    sql: string,
    values?: unknown[],
  ): Promise<R[]>;
  /**
   * Stops every server (immediate shutdown; a server that has not exited 10 s later is killed) and removes
   * every directory. Safe to call twice.
   * @throws only when a directory cannot be removed.
   */
  stop(): Promise<void>;
}

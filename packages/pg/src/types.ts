import type { EndSignal } from '@ballast/core';
import type pg from 'pg';
import type { CapturedWrite } from './captured-write.js';
import type { ReplayCheckedQuery } from './replay-check.js';

/**
 * What a pooled connection runs: SQL text, pg's query config, a read with its replica check in front, or a write
 * with its position capture behind.
 */
export type Statement<R extends pg.QueryResultRow = pg.QueryResultRow> =
  | string
  | pg.QueryConfig
  | ReplayCheckedQuery<R>
  | CapturedWrite<R>;

/**
 * Seams between the parts of @ballast/pg. Internal: the public surface is in index.ts.
 *
 * cluster.ts (createCluster) ─ owns one Host per URL ─ each Host has a HostPool (connections) and a core Policy
 * (breaker + limiter); health.ts polls each host; routing.ts picks a replica; token.ts/lsn.ts carry read-your-writes.
 */

/**
 * What the pool listens on to cancel a statement: an AbortSignal, or core's allocation-free `EndSignal` (the
 * attempt context's `endSignal`), which the host passes so that a deadline costs no AbortController.
 */
export type SignalLike = EndSignal;

/** A log-safe name for a host: `host:port/database`, never credentials. */
export type HostName = string;

/** One pooled connection, checked out of a {@link HostPool}. */
export interface PooledConnection {
  /** The raw pg client (the pg.Pool facade hands it out, wrapped). */
  readonly client: pg.Client;
  readonly host: HostName;
  /**
   * Runs one statement with a deadline that reaches the server: when `deadlineAt` passes or `signal` aborts, a
   * cancel request is sent to the server (the backend stops the statement) and the connection is marked to be
   * destroyed on release. The query rejects with the driver's error (57014 after a cancel) — the caller maps it.
   * A `statement_timeout` derived from the remaining time backs the cancel up if the client is gone.
   * @param deadlineAt absolute time in the pool's clock ms (`Infinity`: none)
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
  ): Promise<pg.QueryResult<R>>;
  /**
   * {@link PooledConnection.query} with a callback instead of a promise, for a lease that runs one statement:
   * `done(undefined, result)` or `done(error, undefined)`, exactly once (synchronously when it fails before
   * the statement is sent).
   */
  submit<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
    done: SubmitCallback<pg.QueryResult<R>>,
  ): void;
  /**
   * Returns the connection to the pool. `destroy` (or an Error) closes it instead: after a cancel or timeout, a
   * connection error, or when the caller cannot vouch for its state (open transaction).
   * Calling it twice is a no-op.
   */
  release(destroy?: boolean | Error): void;
}

/** How {@link PooledConnection.submit} reports: an error, or the result. */
export type SubmitCallback<T> = (error: unknown, result: T | undefined) => void;

/** Counters and sizes of one host's pool. */
export interface HostPoolStats {
  host: HostName;
  /** Open connections (idle + busy + connecting). */
  total: number;
  idle: number;
  busy: number;
  connecting: number;
  /** Callers waiting in the bounded acquire queue. */
  waiting: number;
  /** Target size the pool grows toward (follows the host's concurrency limit, within min and max). */
  target: number;
  created: number;
  destroyed: number;
  /** Acquires rejected because the queue was full or the deadline passed while waiting. */
  acquireRejected: number;
  /** Errors on idle connections (handled: the connection is dropped, the process never crashes). */
  idleErrors: number;
  /** Cancel requests sent to the server. */
  cancels: number;
}

/** Events of a HostPool (names are also diagnostics_channel events `ballast:pg-pool:<event>`). */
export interface HostPoolEvents {
  connect: { host: HostName };
  /** A connection failed while idle or checked out; it was destroyed. `error` is pg's error, credentials masked. */
  'connection-error': { host: HostName; error: Error };
  /** A connection (or transaction) has been held longer than `holdWarningMs`: the model-call-in-a-transaction trap. */
  'held-too-long': { host: HostName; heldMs: number };
  /** A cancel request was sent for a statement whose deadline passed or whose caller aborted. */
  cancel: { host: HostName; reason: 'deadline' | 'abort' };
}

/** One host's connection pool. */
export interface HostPool {
  readonly host: HostName;
  /**
   * Checks out a connection: an idle one (validated first when idle longer than `validateAfterIdleMs`), a new
   * one (at most `maxConnecting` opening at once), or a place in the bounded queue until one frees.
   * @throws BallastError `BALLAST_SHED` (reason 'queue-full' | 'deadline') when the queue is full or the
   *   deadline passes while waiting; BALLAST_ABORTED when `signal` aborts; the driver's connect error otherwise.
   */
  acquire(deadlineAt: number, signal: SignalLike | undefined): Promise<PooledConnection>;
  /**
   * An idle connection at once, when one is ready (no validation due) and nobody waits; else `undefined`, and
   * the caller uses {@link HostPool.acquire}.
   */
  tryAcquire(): PooledConnection | undefined;
  /** The size the pool should grow toward (the host's concurrency limit); clamped to [min, max]. */
  setTarget(size: number): void;
  /** Closes idle connections now and busy ones on release (failover: this host's role changed). */
  drain(): void;
  stats(): HostPoolStats;
  on<K extends keyof HostPoolEvents>(event: K, listener: (e: HostPoolEvents[K]) => void): () => void;
  /** Closes every connection; pending acquires reject. */
  close(): Promise<void>;
}

/** What a health check (or a piggybacked read) learned about one host. */
export interface HostHealth {
  /** Clock ms when measured. */
  at: number;
  /** `pg_is_in_recovery()`: true on a standby. */
  inRecovery: boolean;
  /**
   * On a primary: its current insert position, normalised to the end of the last record (see lsn.ts); on a
   * standby: `pg_last_wal_replay_lsn()`, everything replayed and visible there.
   */
  lsn: bigint;
  /** `pg_control_system().system_identifier` as a decimal string: which cluster this is. */
  systemId: string;
  /** The timeline the host is on (primary: from its WAL file name; standby: `pg_stat_wal_receiver.received_tli`). */
  timeline: number;
  /** Standby only: replay paused (`pg_is_wal_replay_paused()`). */
  replayPaused: boolean;
  /**
   * The standby's own estimate of its replay lag in ms: 0 when it replayed everything it received, else the age of
   * its last replayed commit (Infinity when unknown). 0 on a primary.
   */
  replayLagMs: number;
}

/** The decoded content of a read-your-writes session token. */
export interface SessionPosition {
  systemId: string;
  timeline: number;
  /** Every write of the session is at or below this WAL position. */
  lsn: bigint;
}

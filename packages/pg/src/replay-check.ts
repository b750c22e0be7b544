import type pg from 'pg';
import { formatLsn, parseLsn } from './lsn.js';
import { type PgConnection, PipelinedQuery } from './pipelined-query.js';

/**
 * The replica check, with the position as a literal (so it can share one round trip with a simple-protocol
 * read). One row:
 * - `caught_up`: the host is still a standby and its replay position is at or past `lsn`;
 * - `lsn`: its replay position (NULL if it has replayed nothing), to advance the session for monotonic reads and
 *   to update what the cluster knows of the replica;
 * - `recv`: its received position: WAL received but not yet replayed will be replayed in moments, WAL not even
 *   received may take a while (async commit, a slow link);
 * - `paused`: replay is paused (`pg_wal_replay_pause()`, an operator or a backup tool): waiting cannot pay off.
 *   Asked only on a standby (the function raises on a primary).
 *
 * The timeline is not checked here: only replicas whose health check reported the session's timeline are asked
 * (a standby changes timeline only by following a promotion, which the health checks see). Checking it per read
 * (`pg_stat_wal_receiver`) cost ~50 µs of server CPU each, measured on this machine.
 */
export function replayCheckSql(lsn: bigint): string {
  return `SELECT pg_is_in_recovery() AND COALESCE(pg_last_wal_replay_lsn() >= '${formatLsn(lsn)}'::pg_lsn, false) AS caught_up,
  pg_last_wal_replay_lsn()::text AS lsn, pg_last_wal_receive_lsn()::text AS recv,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused`;
}

/** What the check found. Positions are -1 when the server has none (a primary, or nothing replayed yet). */
export interface ReplayCheck {
  caughtUp: boolean;
  lsn: bigint;
  received: bigint;
  /** Replay is paused: the replica will not catch up until someone resumes it. */
  paused: boolean;
}

/** The row of {@link replayCheckSql} as text fields (pg's text format) → {@link ReplayCheck}. */
export function parseReplayCheck(
  caughtUp: unknown,
  lsn: string | null | undefined,
  received: string | null | undefined,
  paused: unknown,
): ReplayCheck {
  return {
    caughtUp: caughtUp === true || caughtUp === 't',
    lsn: lsn == null ? -1n : parseLsn(lsn),
    received: received == null ? -1n : parseLsn(received),
    paused: paused === true || paused === 't',
  };
}

/** An error the server sent (it has a SQLSTATE and a severity), not a lost connection or a client-side error. */
function isServerError(error: Error): boolean {
  const e = error as { code?: unknown; severity?: unknown };
  return typeof e.code === 'string' && e.code.length === 5 && typeof e.severity === 'string';
}

/**
 * A server error that a replica behind its primary can explain: an object it has not replayed yet (class 42:
 * undefined table, column, function …) or a conflict with replay (40001). Host and topology errors (57P01, 53xxx,
 * XX000 …) are never explained away: they go to the cluster's failure handling.
 */
function explainedByLag(error: Error): boolean {
  if (!isServerError(error)) return false;
  const code = (error as unknown as { code: string }).code;
  return code.startsWith('42') || code === '40001';
}

/**
 * A read with the replica check written before it on the same connection, in ONE round trip: pg's submittable
 * protocol (the one pg-cursor uses) lets a query object write its own messages. Extended protocol: the check's
 * Parse/Bind/Describe/Execute, then the read's messages and their single Sync; simple protocol (no parameters):
 * one Query message `check; read`. Either way the check runs first in the same implicit transaction, and replay
 * positions only grow, so a check that says `caught_up` proves the read's snapshot (taken after it) sees
 * everything up to the position. The check's row is kept in {@link check}; the read's result is what `await`
 * gives, exactly as pg would (parsed by pg's own `Query`, rows, fields, types, errors) — use it only when the
 * check passed. When the check failed, the read's own server error is not thrown (see {@link staleError}).
 *
 * Only for statements {@link canPipeline} accepts.
 */
export class ReplayCheckedQuery<R extends pg.QueryResultRow = pg.QueryResultRow> extends PipelinedQuery<R> {
  /** The check's result, once its row arrived (undefined if the statement failed before it ran). */
  check: ReplayCheck | undefined = undefined;
  /**
   * The read's own server error when the check said the replica had not caught up: then `await` gives
   * `undefined` instead of rejecting (the error is as stale as a result would be).
   */
  staleError: Error | undefined = undefined;
  readonly #checkSql: string;
  /** The check's CommandComplete was seen: every later message is the read's. */
  #checkDone = false;

  constructor(text: string | pg.QueryConfig, values: readonly unknown[] | undefined, lsn: bigint) {
    super(text, values);
    this.#checkSql = replayCheckSql(lsn);
  }

  protected answered(error: Error | null, result: pg.QueryResult): void {
    if (error === null) this.resolve(result as pg.QueryResult<R>);
    else if (this.check !== undefined && !this.check.caughtUp && explainedByLag(error)) {
      // The read failed on a replica that had not caught up (a table it has not replayed yet, say): the error is
      // as stale as a result would be. Kept for diagnostics; the caller reads elsewhere.
      this.staleError = error;
      this.resolve(undefined as unknown as pg.QueryResult<R>);
    } else this.reject(error);
  }

  submit(connection: PgConnection): Error | null {
    const inner = this.inner;
    if (!inner.requiresPreparation()) {
      connection.query(`${this.#checkSql};\n${inner.text}`);
      return null;
    }
    connection.stream.cork?.();
    try {
      connection.parse({ text: this.#checkSql, name: '', types: [] });
      connection.bind({ portal: '', statement: '', values: [] });
      connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '', rows: 0 });
      // Parse, Bind, Describe, Execute and Sync of the read (it cannot refuse: canPipeline vetted it).
      return inner.submit(connection);
    } finally {
      connection.stream.uncork?.();
    }
  }

  override handleRowDescription(msg: unknown): void {
    if (this.#checkDone) this.inner.handleRowDescription(msg);
  }

  override handleDataRow(msg: unknown): void {
    if (this.#checkDone) {
      this.inner.handleDataRow(msg);
      return;
    }
    const fields = (msg as { fields: (string | null)[] }).fields;
    this.check = parseReplayCheck(fields[0], fields[1], fields[2], fields[3]);
  }

  override handleCommandComplete(msg: unknown, connection: PgConnection): void {
    if (this.#checkDone) this.inner.handleCommandComplete(msg, connection);
    else this.#checkDone = true;
  }
}

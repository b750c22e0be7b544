import type pg from 'pg';
import { normaliseInsertLsn, parseLsn } from './lsn.js';
import { type PgConnection, PipelinedQuery } from './pipelined-query.js';

/**
 * The primary's position right after a write committed. Only the position: the system identifier and timeline
 * come from the primary's health check (a host's timeline changes only by promotion, and only a promoted host
 * is written to); reading them here cost ~80 µs of server CPU per write (pg_control_system() reads the control
 * file), measured on this machine.
 */
export const WRITE_LSN_SQL = 'SELECT pg_current_wal_insert_lsn()::text AS lsn';

/** A {@link WRITE_LSN_SQL} answer → the position (normalised like a standby's replay position). */
export function lsnFromRow(lsn: string | null | undefined): bigint {
  if (lsn == null) throw new Error('pg_current_wal_insert_lsn() returned no row');
  return normaliseInsertLsn(parseLsn(lsn));
}

/** The pg Client method used to take the second half of the exchange. */
interface ClientLike {
  query(submittable: Continuation): unknown;
}

/**
 * A write with the position capture pipelined behind it: the write's messages and Sync, then the capture as a
 * simple Query, in ONE round trip. The capture runs after the write's Sync, so after its commit: its insert
 * position covers the commit record (inside the write's transaction it would not). pg's Client expects one
 * ReadyForQuery per query, so the capture's answer is taken by a {@link Continuation} queued on the client at the
 * write's ReadyForQuery (or at its error, before that ReadyForQuery arrives) — it sends nothing, it only
 * receives. `await` gives the write's result (or error) once both answers are in, so the connection is idle
 * when it goes back to the pool; {@link lsn} is the captured position (undefined if the capture failed:
 * the write still counts, the caller decides what to do without a position).
 */
export class CapturedWrite<R extends pg.QueryResultRow = pg.QueryResultRow> extends PipelinedQuery<R> {
  /** Shared with the copies made for retries: the position the last attempt captured. */
  readonly #box: { lsn: bigint | undefined };
  readonly #text: string | pg.QueryConfig;
  readonly #values: readonly unknown[] | undefined;
  #client: ClientLike | undefined = undefined;
  #writeError: Error | null = null;
  #writeResult: pg.QueryResult | undefined = undefined;
  #continued = false;

  constructor(
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    box: { lsn: bigint | undefined } = { lsn: undefined },
  ) {
    super(text, values);
    this.#box = box;
    this.#text = text;
    this.#values = values;
  }

  /** The primary's position right after the write (undefined until then, or if the capture failed). */
  get lsn(): bigint | undefined {
    return this.#box.lsn;
  }

  /** A fresh copy for a retry (a submittable runs once); its capture shows in this one's {@link lsn}. */
  renew(): CapturedWrite<R> {
    return new CapturedWrite<R>(this.#text, this.#values, this.#box);
  }

  /** The client the write is submitted to (set by the pooled connection before it submits). */
  attach(client: ClientLike): void {
    this.#client = client;
  }

  submit(connection: PgConnection): Error | null {
    if (this.#client === undefined) return new Error('CapturedWrite: not attached to a client');
    connection.stream.cork?.();
    try {
      const error = this.inner.submit(connection);
      if (error !== null) return error;
      connection.query(WRITE_LSN_SQL);
      return null;
    } finally {
      connection.stream.uncork?.();
    }
  }

  /** The write is answered (ReadyForQuery, or an error before it): queue the receiver of the capture's answer. */
  protected answered(error: Error | null, result: pg.QueryResult): void {
    // pg's Query can answer twice (an error while binding, then the ReadyForQuery): the first answer counts.
    if (this.#continued) return;
    this.#continued = true;
    this.#writeError = error;
    this.#writeResult = result;
    (this.#client as ClientLike).query(new Continuation(this));
  }

  /** @internal From the continuation: the capture's row, or its failure; then settles the write. */
  finish(row: (string | null)[] | undefined): void {
    this.#box.lsn = undefined;
    if (row !== undefined) {
      try {
        this.#box.lsn = lsnFromRow(row[0]);
      } catch {
        // No usable row: no position.
      }
    }
    if (this.#writeError !== null) this.reject(this.#writeError);
    else this.resolve(this.#writeResult as pg.QueryResult<R>);
  }
}

/** Receives the capture's answer (its messages were sent with the write). Sends nothing. */
class Continuation {
  readonly text = WRITE_LSN_SQL;
  readonly name = undefined;
  #row: (string | null)[] | undefined = undefined;
  #done = false;

  constructor(readonly write: { finish(row: (string | null)[] | undefined): void }) {}

  submit(): null {
    return null;
  }
  handleRowDescription(): void {}
  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.#row = msg.fields;
  }
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
  handleError(): void {
    this.#finish(undefined);
  }
  handleReadyForQuery(): void {
    this.#finish(this.#row);
  }
  #finish(row: (string | null)[] | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.write.finish(row);
  }
}

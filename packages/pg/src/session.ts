import type pg from 'pg';
import type { CallOptions, Cluster, ReadOptions } from './cluster.js';
import type { Host } from './host.js';
import { parseLsn } from './lsn.js';
import { checkToken, decodeToken, encodeToken, mergePositions } from './token.js';
import type { TransactionClient, TransactionOptions } from './transaction.js';
import type { SessionPosition } from './types.js';

const REPLAY_LSN_SQL =
  'SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_last_wal_receive_lsn()::text AS recv';

/** Waiting for WAL the replica has not even received yet (async commit, a slow link) pays off rarely: cap it. */
const NOT_RECEIVED_WAIT_MS = 10;

/**
 * A read-your-writes session. After each write it knows the WAL position that covers the write; a session read
 * goes to a replica known to have replayed that position (from health checks, or a probe on the replica right
 * before the read, waiting a bounded share of the deadline), else to the primary. Reads are monotonic: the
 * session's position advances to what each replica read could see. The position travels as an opaque token.
 */
export class Session {
  #position: SessionPosition | undefined;
  /** The position came from this process's own capture on the current primary (not from a token): trusted. */
  #verified = false;
  /** The last write's position could not be captured: read from the primary until one is. */
  #readPrimary = false;
  #lastReplica: Host | undefined;

  constructor(
    readonly cluster: Cluster,
    token?: string,
  ) {
    if (token !== undefined && token !== '') this.#position = decodeToken(token);
  }

  /**
   * The session's token: send it to the client (header or cookie) and pass it to `cluster.session(token)` on the
   * next request, on any instance. Empty until the session has a position.
   */
  token(): string {
    return this.#position === undefined ? '' : encodeToken(this.#position);
  }

  /** The decoded position (for tests and diagnostics). */
  get position(): SessionPosition | undefined {
    return this.#position;
  }

  /** Runs a write on the primary, then records the session's position after it. */
  async write<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options: CallOptions & { idempotent?: boolean | undefined } = {},
  ): Promise<pg.QueryResult<R>> {
    const result = await this.cluster.write<R>(text, values, options);
    await this.#advanceAfterWrite(options);
    return result;
  }

  /** Same as {@link Session.write}. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options: CallOptions & { idempotent?: boolean | undefined } = {},
  ): Promise<pg.QueryResult<R>> {
    return this.write<R>(text, values, options);
  }

  /** A transaction on the primary; the session's position advances past its commit. */
  async transaction<T>(
    fn: (tx: TransactionClient) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const result = await this.cluster.transaction(fn, options);
    await this.#advanceAfterWrite(options);
    return result;
  }

  async #advanceAfterWrite(options: CallOptions): Promise<void> {
    // After COMMIT returned, not inside the transaction: the insert position then covers the commit record.
    let pos: SessionPosition;
    try {
      pos = await this.cluster.capturePosition(options);
    } catch {
      // The write committed; failing it now would invite a second write. Without its position, the session's
      // reads go to the primary until a later write records one.
      this.#readPrimary = true;
      return;
    }
    this.#readPrimary = false;
    this.#position = this.#position === undefined ? pos : mergePositions(this.#position, pos, pos.systemId);
    this.#verified = this.#position === pos;
  }

  /** A read that sees this session's writes (default consistency 'session'). */
  async read<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options: ReadOptions = {},
  ): Promise<pg.QueryResult<R>> {
    const consistency = options.consistency ?? 'session';
    if (consistency === 'strong') return this.cluster.read<R>(text, values, options);
    if (consistency === 'eventual') return this.cluster.readEventual<R>(text, values, options);
    const cluster = this.cluster;
    if (this.#readPrimary) return cluster.read<R>(text, values, { ...options, consistency: 'strong' });
    const primary = cluster.primaryHealth();
    let pos = this.#position;
    const trusted =
      this.#verified && pos !== undefined && primary !== undefined && pos.timeline === primary.timeline;
    if (pos !== undefined && primary !== undefined && !trusted) {
      const verdict = checkToken(pos, {
        systemId: primary.systemId,
        timeline: primary.timeline,
        primaryLsn: primary.lsn,
      });
      if (verdict.status === 'foreign-cluster' || verdict.status === 'old-timeline') {
        // Refused: another cluster's token, or from before a failover. Read the primary and restart from there.
        cluster.fallback('session', 'token-refused');
        this.#position = { systemId: primary.systemId, timeline: primary.timeline, lsn: primary.lsn };
        return cluster.read<R>(text, values, { ...options, consistency: 'strong' });
      }
      pos = verdict.position;
      if (verdict.status === 'ahead') {
        // Ahead of what the last health check saw: perhaps only that sample is old (another instance wrote since).
        // Ask the primary now, and clamp only to a position that exists.
        const fresh = await cluster.capturePosition(options);
        pos =
          this.#position !== undefined &&
          this.#position.lsn <= fresh.lsn &&
          this.#position.timeline === fresh.timeline
            ? this.#position
            : fresh;
        this.#position = pos;
        this.#verified = true;
      }
    }
    const need = pos?.lsn ?? 0n;
    const replicas = cluster.replicas();
    let ready = replicas.filter((h) => h.health !== undefined && h.health.lsn >= need);
    // Monotonic and cheap: stay on the replica last read from while it qualifies.
    if (this.#lastReplica !== undefined && ready.includes(this.#lastReplica)) ready = [this.#lastReplica];
    if (ready.length > 0) return this.#readOn<R>(ready, text, values, options);
    if (replicas.length === 0) {
      cluster.fallback('session', 'no-replica');
      return cluster.read<R>(text, values, { ...options, consistency: 'strong' });
    }
    const caughtUp = await this.#waitForReplay(replicas, need, options);
    if (caughtUp !== undefined) return this.#readOn<R>([caughtUp], text, values, options);
    cluster.fallback('session', 'replica-behind');
    return cluster.read<R>(text, values, { ...options, consistency: 'strong' });
  }

  #readOn<R extends pg.QueryResultRow>(
    hosts: readonly Host[],
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    options: ReadOptions,
  ): Promise<pg.QueryResult<R>> {
    return this.cluster.readOnReplicas<R>(text, values, options, hosts, 'session', (host) => {
      this.#lastReplica = host;
      const lsn = host.health?.lsn;
      const primary = this.cluster.primaryHealth();
      // Monotonic reads: the next read must see at least what this replica had replayed.
      if (
        lsn !== undefined &&
        primary !== undefined &&
        (this.#position === undefined || lsn > this.#position.lsn)
      ) {
        this.#position = { systemId: primary.systemId, timeline: primary.timeline, lsn };
      }
    });
  }

  /**
   * Probes the most promising replica until it replayed `need`, for at most a share of the remaining deadline.
   * Every probe also refreshes what the cluster knows of that replica.
   */
  async #waitForReplay(
    replicas: readonly Host[],
    need: bigint,
    options: ReadOptions,
  ): Promise<Host | undefined> {
    const { clock, routing, timeoutMs } = this.cluster.options;
    const remaining = options.deadlineMs ?? timeoutMs;
    const budget = Math.min(routing.sessionWaitMaxMs, remaining * routing.sessionWaitShare);
    const start = clock.now();
    // The replica furthest along is the likeliest to catch up first.
    let host = replicas[0] as Host;
    for (const h of replicas) if ((h.health?.lsn ?? -1n) > (host.health?.lsn ?? -1n)) host = h;
    for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
      let lsn: bigint;
      let received: bigint;
      try {
        const r = await host.run<{ lsn: string | null; recv: string | null }>(REPLAY_LSN_SQL, undefined, {
          priority: options.priority,
          deadlineMs: Math.max(1, budget - (clock.now() - start)),
          signal: options.signal,
          idempotent: true,
        });
        const row = r.rows[0];
        lsn = row?.lsn == null ? -1n : parseLsn(row.lsn);
        received = row?.recv == null ? -1n : parseLsn(row.recv);
      } catch {
        this.cluster.sessionWaited(host, clock.now() - start, false);
        return undefined;
      }
      if (host.health !== undefined && lsn > host.health.lsn) host.health = { ...host.health, lsn };
      const waited = clock.now() - start;
      if (lsn >= need) {
        this.cluster.sessionWaited(host, waited, true);
        return host;
      }
      // Not even received yet: the WAL is still on its way (async commit flushes every wal_writer_delay); the
      // primary answers sooner than the replica would.
      const limit = received < need ? Math.min(budget, NOT_RECEIVED_WAIT_MS) : budget;
      if (waited + delay >= limit) {
        this.cluster.sessionWaited(host, waited, false);
        return undefined;
      }
      await new Promise<void>((r) => clock.setTimeout(r, delay));
    }
  }
}

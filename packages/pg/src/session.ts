import type pg from 'pg';
import type { CallOptions, Cluster, ReadOptions } from './cluster.js';
import type { Host } from './host.js';
import { canPipeline } from './pipelined-query.js';
import { parseReplayCheck, type ReplayCheck, ReplayCheckedQuery, replayCheckSql } from './replay-check.js';
import { checkToken, decodeToken, encodeToken, mergePositions } from './token.js';
import type { TransactionClient, TransactionOptions } from './transaction.js';
import type { SessionPosition } from './types.js';

/** Waiting for WAL the replica has not even received yet pays off rarely (async commit flushes every 200 ms by
 * default, measured 0.6 % of such waits succeeding at 10 ms): cap it. */
const NOT_RECEIVED_WAIT_MS = 2;

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

  /**
   * Runs a write on the primary and records the session's position after it: the position capture is pipelined
   * behind the write on the same connection (one round trip), or, for a statement that cannot be pipelined (a
   * named prepared statement), sent right after it.
   */
  async write<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options: CallOptions & { idempotent?: boolean | undefined } = {},
  ): Promise<pg.QueryResult<R>> {
    if (!canPipeline(text, values)) {
      const result = await this.cluster.write<R>(text, values, options);
      await this.#advanceAfterWrite(options);
      return result;
    }
    const { result, position } = await this.cluster.writeCapturing<R>(text, values, options);
    this.#advance(position);
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
    let pos: SessionPosition | undefined;
    try {
      pos = await this.cluster.capturePosition(options);
    } catch {
      pos = undefined;
    }
    this.#advance(pos);
  }

  /** Records the position captured after a write; `undefined`: the capture failed. */
  #advance(pos: SessionPosition | undefined): void {
    if (pos === undefined) {
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
    const all = cluster.replicas();
    // Positions compare only within a timeline: ask only replicas whose health check reported the session's.
    const replicas = pos === undefined ? all : all.filter((h) => h.health?.timeline === pos.timeline);
    let ready = replicas.filter((h) => h.health !== undefined && h.health.lsn >= need);
    // Monotonic and cheap: stay on the replica last read from while it qualifies.
    if (this.#lastReplica !== undefined && ready.includes(this.#lastReplica)) ready = [this.#lastReplica];
    if (ready.length > 0) return this.#readOn<R>(ready, text, values, options);
    if (replicas.length === 0) {
      cluster.fallback('session', all.length === 0 ? 'no-replica' : 'replica-behind');
      return cluster.read<R>(text, values, { ...options, consistency: 'strong' });
    }
    // The replica furthest along is the likeliest to have caught up.
    let host = replicas[0] as Host;
    for (const h of replicas) if ((h.health?.lsn ?? -1n) > (host.health?.lsn ?? -1n)) host = h;
    const start = cluster.options.clock.now();
    try {
      const result = await this.#readWhenReplayed<R>(host, need, text, values, options);
      if (result !== undefined) return result;
    } catch (error) {
      const left = this.#left(options, start);
      if (cluster.replicaReadFailed(host, error) === 'write') return cluster.write<R>(text, values, left);
      cluster.fallback('session', 'replica-failed');
      return cluster.read<R>(text, values, { ...left, consistency: 'strong' });
    }
    // The primary gets what is left of the call's deadline after the wait, not a fresh one.
    cluster.fallback('session', 'replica-behind');
    return cluster.read<R>(text, values, { ...this.#left(options, start), consistency: 'strong' });
  }

  /** `options` with what is left of the call's deadline after waiting since `start`. */
  #left(options: ReadOptions, start: number): ReadOptions {
    const { clock, timeoutMs } = this.cluster.options;
    const deadlineMs = Math.max(1, (options.deadlineMs ?? timeoutMs) - (clock.now() - start));
    return { ...options, deadlineMs };
  }

  /** What a check taught about a replica: its replay position only grows (same timeline). */
  #learn(host: Host, check: ReplayCheck): void {
    if (host.health !== undefined && check.lsn > host.health.lsn)
      host.health = { ...host.health, lsn: check.lsn };
  }

  /** Monotonic reads: after reading on `host`, the next read must see at least what it had replayed (`lsn`). */
  #onReplica(host: Host, lsn: bigint | undefined): void {
    this.#lastReplica = host;
    const primary = this.cluster.primaryHealth();
    if (
      lsn !== undefined &&
      primary !== undefined &&
      (this.#position === undefined || lsn > this.#position.lsn)
    ) {
      this.#position = { systemId: primary.systemId, timeline: primary.timeline, lsn };
    }
  }

  #readOn<R extends pg.QueryResultRow>(
    hosts: readonly Host[],
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    options: ReadOptions,
  ): Promise<pg.QueryResult<R>> {
    return this.cluster.readOnReplicas<R>(text, values, options, hosts, 'session', (host) =>
      this.#onReplica(host, host.health?.lsn),
    );
  }

  /**
   * Reads on `host` once it has replayed `need`, waiting for at most a share of the remaining deadline; undefined
   * when it did not catch up in time. A plain statement is read with its check in front, in one round trip, and
   * the answer is kept only if the check passed (the first try costs nothing extra when the replica is caught
   * up, which on a healthy link it nearly always is). Other statements (named prepared statements) are probed,
   * then read. Every check also refreshes what the cluster knows of the replica.
   * @throws the read's error (the caller decides where to read instead); a failed probe only ends the wait.
   */
  async #readWhenReplayed<R extends pg.QueryResultRow>(
    host: Host,
    need: bigint,
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    options: ReadOptions,
  ): Promise<pg.QueryResult<R> | undefined> {
    const cluster = this.cluster;
    const { clock, routing, timeoutMs } = cluster.options;
    const pipelined = canPipeline(text, values);
    const budget = Math.min(
      routing.sessionWaitMaxMs,
      (options.deadlineMs ?? timeoutMs) * routing.sessionWaitShare,
    );
    const start = clock.now();
    for (let attempt = 0, delay = 1; ; attempt++, delay = Math.min(delay * 2, 20)) {
      let check: ReplayCheck | undefined;
      let result: pg.QueryResult<R> | undefined;
      // Only the first try carries the read: later ones poll with the check alone, so a lagging replica does not
      // run the caller's statement every round.
      if (pipelined && attempt === 0) {
        const checked = new ReplayCheckedQuery<R>(text, values, need);
        result = await host.run<R>(checked, undefined, { ...options, idempotent: true });
        cluster.replicaReadOk(host);
        check = checked.check;
      } else {
        try {
          const r = await host.run<{
            caught_up: boolean;
            lsn: string | null;
            recv: string | null;
            paused: boolean;
          }>(replayCheckSql(need), undefined, {
            priority: options.priority,
            deadlineMs: Math.max(1, budget - (clock.now() - start)),
            signal: options.signal,
            idempotent: true,
          });
          const row = r.rows[0];
          check = parseReplayCheck(row?.caught_up, row?.lsn, row?.recv, row?.paused);
        } catch {
          if (attempt > 0) cluster.sessionWaited(host, clock.now() - start, false);
          return undefined;
        }
      }
      if (check !== undefined) this.#learn(host, check);
      const waited = clock.now() - start;
      if (check?.caughtUp === true) {
        if (attempt > 0) cluster.sessionWaited(host, waited, true);
        if (result === undefined) return this.#readOn<R>([host], text, values, this.#left(options, start));
        this.#onReplica(host, check.lsn);
        return result;
      }
      // Not even received yet: the WAL is still on its way (async commit flushes every wal_writer_delay); the
      // primary answers sooner than the replica would. Replay paused: it will not catch up at all.
      const received = check?.received ?? -1n;
      const hopeless = received < need || check?.paused === true;
      const limit = hopeless ? Math.min(budget, NOT_RECEIVED_WAIT_MS) : budget;
      if (check === undefined || waited + delay >= limit) {
        if (attempt > 0) cluster.sessionWaited(host, waited, false);
        return undefined;
      }
      await new Promise<void>((r) => clock.setTimeout(r, delay));
    }
  }
}

import { BallastError, Events, type Priority, type TimerHandle } from '@ballast/core';
import type pg from 'pg';
import { CapturedWrite, lsnFromRow, WRITE_LSN_SQL } from './captured-write.js';
import type { ClusterEvents } from './events.js';
import { type BallastPool, createPoolFacade, type PoolFacadeOptions } from './facade.js';
import { Host, type RunOptions } from './host.js';
import { HealthProbe, ProbeConnecting } from './monitor.js';
import { type ClusterOptions, type ResolvedClusterOptions, resolveClusterOptions } from './options.js';
import { hostFailure, notExecuted, retryableRead, signalsTopologyChange } from './pg-errors.js';
import { ReplicaLag } from './replica-lag.js';
import { OutlierEjector, pickReplica } from './routing.js';
import { Session } from './session.js';
import { runTransaction, type TransactionClient, type TransactionOptions } from './transaction.js';
import type { HostHealth, SessionPosition, Statement } from './types.js';

/** Per-call options of every statement. */
export interface CallOptions {
  /** @default 'interactive' */
  priority?: Priority | undefined;
  /** @default the cluster's `timeoutMs` */
  deadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of {@link Cluster.read}. */
export interface ReadOptions extends CallOptions {
  /**
   * - `eventual`: any replica within `maxReplicaLagMs`, else the primary;
   * - `session`: a replica that has replayed the session's writes (pass `token`, or use `cluster.session()`);
   * - `strong`: the primary.
   * @default 'eventual'
   */
  consistency?: 'eventual' | 'session' | 'strong' | undefined;
  /** For `session` reads outside a Session object: the token of the caller's last write. */
  token?: string | undefined;
}

/** What {@link Cluster.stats} returns. */
export interface ClusterStats {
  primary: string | undefined;
  hosts: Array<{
    name: string;
    role: 'primary' | 'replica' | 'unknown';
    healthy: boolean;
    lsn: string | undefined;
    lagMs: number | undefined;
    outstanding: number;
    pool: ReturnType<Host['pool']['stats']>;
    policy: ReturnType<Host['policy']['stats']>;
  }>;
  counts: { fallbacksToPrimary: number; sessionWaits: number; topologyChanges: number };
}

export function primaryUnavailable(reason: string, cause?: unknown, retryAfterMs = 200): BallastError {
  return new BallastError('BALLAST_PRIMARY_UNAVAILABLE', `no writable primary: ${reason}`, {
    retryable: true,
    retryAfterMs,
    cause,
    source: 'pg',
  });
}

/**
 * A PostgreSQL primary and its read replicas behind one object: a pool and a policy per host, writes to the
 * primary, reads routed by consistency, read-your-writes sessions, failover, and health checks.
 */
export class Cluster {
  readonly #o: ResolvedClusterOptions;
  readonly #hosts: Host[];
  readonly #probes: HealthProbe[];
  readonly #timers: (TimerHandle | undefined)[];
  /** Published on diagnostics_channel as `ballast:pg:<event>`. */
  readonly #events = new Events<ClusterEvents>('pg');
  readonly #lag = new ReplicaLag();
  /** 5 consecutive failures eject a replica for 30 s × times ejected (≤ 300 s); never more than half of them. */
  readonly #ejector: OutlierEjector;
  #primary: Host | undefined;
  #closed = false;
  /** Hosts whose health check is running now. */
  readonly #checking = new Set<number>();
  readonly counts = { fallbacksToPrimary: 0, sessionWaits: 0, topologyChanges: 0 };

  constructor(options: ClusterOptions) {
    this.#o = resolveClusterOptions(options);
    this.#ejector = new OutlierEjector(this.#o.routing.ejection);
    const o = this.#o;
    this.#hosts = [new Host(o.primary, 'primary', o), ...o.replicas.map((u) => new Host(u, 'replica', o))];
    this.#primary = this.#hosts[0];
    this.#probes = this.#hosts.map(
      (h) => new HealthProbe(h.connectionString, o.clock, o.routing.healthTimeoutMs, o.pool.connectTimeoutMs),
    );
    this.#timers = this.#hosts.map(() => undefined);
    for (const host of this.#hosts) {
      host.pool.on('held-too-long', (e) => this.#events.emit('held-too-long', e));
      host.pool.on('connection-error', (e) => this.#events.emit('connection-error', e));
    }
    this.#hosts.forEach((_, i) => {
      void this.#check(i);
    });
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClusterEvents>(event: K, listener: (e: ClusterEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  // ── writes ──────────────────────────────────────────────────────────────────────────────────────────────────

  /** Runs a statement on the primary (same result shape as pg's Pool#query). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options?: CallOptions & { idempotent?: boolean | undefined },
  ): Promise<pg.QueryResult<R>> {
    return this.#onPrimary(text, values, options ?? {});
  }

  /** Same as {@link Cluster.query}: a statement on the primary. */
  write<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options?: CallOptions & { idempotent?: boolean | undefined },
  ): Promise<pg.QueryResult<R>> {
    return this.#onPrimary(text, values, options ?? {});
  }

  /** @internal The write path shared by query/write/session writes: the policy's promise is the call's only one. */
  #onPrimary<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    options: RunOptions,
  ): Promise<pg.QueryResult<R>> {
    const primary = this.#primary;
    if (primary === undefined)
      return Promise.reject(primaryUnavailable('none is known (failover in progress?)'));
    const start = this.#o.clock.now();
    return primary.run<R>(text, values, options, (error) =>
      this.#retryOnPrimary<R>(primary, text, values, options, start, error),
    );
  }

  /**
   * After a failed statement on the primary: one more try, within the call's one deadline (not a fresh one), on
   * whichever host is the primary now — only when the statement provably never ran (or the caller said it is
   * idempotent).
   */
  async #retryOnPrimary<R extends pg.QueryResultRow>(
    primary: Host,
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    options: RunOptions,
    start: number,
    error: unknown,
  ): Promise<pg.QueryResult<R>> {
    const mapped = this.#afterPrimaryError(primary, error);
    const again = notExecuted(error) || (options.idempotent === true && retryableRead(error));
    const left = (options.deadlineMs ?? this.#o.timeoutMs) - (this.#o.clock.now() - start);
    const next = this.#primary;
    // Refused by the same primary for load (shed) or known failure (open circuit): an instant retry there would
    // only be refused again and count twice.
    const refusedHere = next === primary && isRefusal(error);
    if (!again || next === undefined || left <= 1 || refusedHere) throw mapped;
    // A pipelined statement runs once: a retry sends a fresh copy.
    const retried = text instanceof CapturedWrite ? text.renew() : text;
    try {
      return await next.run<R>(retried, values, { ...options, deadlineMs: left });
    } catch (retryError) {
      throw this.#afterPrimaryError(next, retryError);
    }
  }

  #afterPrimaryError(primary: Host, error: unknown): unknown {
    if (signalsTopologyChange(error)) this.#suspect(primary, error);
    // A statement that ran out of time on the primary may be the first sign of a silent outage: check it now
    // rather than at the next poll, so writes start failing fast within one health timeout.
    else if ((error as { code?: unknown } | null)?.code === 'BALLAST_DEADLINE_EXCEEDED')
      this.#checkSoon(primary);
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'BALLAST_CIRCUIT_OPEN') {
      return primaryUnavailable(
        `${primary.name} is failing (circuit open)`,
        error,
        (error as BallastError).retryAfterMs,
      );
    }
    return error;
  }

  /** @internal The session's position right after a write committed: `pg_current_wal_insert_lsn()` on the primary. */
  async capturePosition(options: CallOptions): Promise<SessionPosition> {
    const primary = this.#primary;
    const result = await this.#onPrimary<{ lsn: string }>(WRITE_LSN_SQL, undefined, {
      ...options,
      idempotent: true,
    });
    const position = this.#positionOn(primary, lsnFromRow(result.rows[0]?.lsn));
    if (position === undefined) throw primaryUnavailable('the primary changed while capturing a position');
    return position;
  }

  /**
   * @internal A session write with its position capture pipelined behind it (one round trip); `position` is
   * undefined when the capture failed or the primary changed meanwhile (the write still committed).
   */
  async writeCapturing<R extends pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    options: RunOptions,
  ): Promise<{ result: pg.QueryResult<R>; position: SessionPosition | undefined }> {
    const primary = this.#primary;
    const captured = new CapturedWrite<R>(text, values);
    const result = await this.#onPrimary<R>(captured, undefined, options);
    const lsn = captured.lsn;
    return { result, position: lsn === undefined ? undefined : this.#positionOn(primary, lsn) };
  }

  /**
   * A position captured on `primary`, with the system identifier and timeline its health check reported —
   * `undefined` if the primary changed since (a failover: the pairing would be unproven) or was never checked.
   */
  #positionOn(primary: Host | undefined, lsn: bigint): SessionPosition | undefined {
    const health = primary?.health;
    if (primary === undefined || primary !== this.#primary || health === undefined || health.inRecovery)
      return undefined;
    const position = { systemId: health.systemId, timeline: health.timeline, lsn };
    this.notePosition(position);
    return position;
  }

  /** @internal What the primary just told us is newer than its last health check: let every session use it. */
  notePosition(position: SessionPosition): void {
    const health = this.#primary?.health;
    if (
      this.#primary !== undefined &&
      health !== undefined &&
      health.timeline === position.timeline &&
      position.lsn > health.lsn
    ) {
      this.#primary.health = { ...health, lsn: position.lsn };
    }
  }

  // ── reads ───────────────────────────────────────────────────────────────────────────────────────────────────

  /** Runs a read, routed by `consistency` (default `eventual`). */
  read<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
    options: ReadOptions = {},
  ): Promise<pg.QueryResult<R>> {
    const consistency = options.consistency ?? 'eventual';
    if (consistency === 'strong') return this.#onPrimary(text, values, { ...options, idempotent: true });
    if (consistency === 'session') return this.session(options.token).read<R>(text, values, options);
    return this.readEventual<R>(text, values, options);
  }

  /** @internal */
  async readEventual<R extends pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    options: CallOptions,
  ): Promise<pg.QueryResult<R>> {
    const now = this.#o.clock.now();
    const maxLag = this.#o.routing.maxReplicaLagMs;
    const fresh = this.#replicas().filter((h) => this.#lagMs(h, now) <= maxLag);
    return this.readOnReplicas<R>(text, values, options, fresh, 'eventual');
  }

  /**
   * @internal Reads on one of `candidates` (power of two choices), trying a second host — another candidate or
   * the primary — when the first fails in a way another host would not (reads are idempotent).
   */
  async readOnReplicas<R extends pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    options: CallOptions,
    candidates: readonly Host[],
    consistency: 'eventual' | 'session',
    onRead?: (host: Host) => void,
  ): Promise<pg.QueryResult<R>> {
    const now = this.#o.clock.now();
    const tried = new Set<Host>();
    let left = [...candidates];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const host = pickReplica(left, (h) => h.cost(now), this.#o.random);
      if (host === undefined) break;
      tried.add(host);
      try {
        const result = await host.run<R>(text, values, { ...options, idempotent: true });
        this.#ejector.onSuccess(host.name);
        onRead?.(host);
        return result;
      } catch (error) {
        if (this.replicaReadFailed(host, error) === 'write') {
          return this.#onPrimary<R>(text, values, { ...options, idempotent: false });
        }
        left = left.filter((h) => !tried.has(h) && h.isReplica);
        if (left.length === 0) {
          this.#fallback(consistency, 'replica-failed');
          return this.#onPrimary<R>(text, values, { ...options, idempotent: true });
        }
      }
    }
    this.#fallback(consistency, candidates.length === 0 ? 'no-replica' : 'replica-failed');
    return this.#onPrimary<R>(text, values, { ...options, idempotent: true });
  }

  /** @internal A read on a replica succeeded (outlier ejection counts it). */
  replicaReadOk(host: Host): void {
    this.#ejector.onSuccess(host.name);
  }

  /**
   * @internal After a read on a replica failed: ejection and failover bookkeeping. `'write'`: a standby refused a
   * write (25006), the statement was not a plain read and belongs on the primary (the replica is fine and stays
   * in rotation); `'retry'`: another host may answer it.
   * @throws the error itself when no other host would answer differently (the statement's own fault).
   */
  replicaReadFailed(host: Host, error: unknown): 'write' | 'retry' {
    if ((error as { code?: unknown } | null)?.code === '25006' && host.role === 'replica') return 'write';
    if (hostFailure(error) === 'failure') {
      const replicas = this.#hosts.length - 1;
      if (this.#ejector.onFailure(host.name, this.#o.clock.now(), replicas)) {
        this.#events.emit('host-down', { host: host.name, reason: `ejected: ${describe(error)}` });
      }
    }
    if (signalsTopologyChange(error)) this.#suspect(host, error);
    // The host's trouble (connection lost, server errors of classes 53, 58, XX) or a transient conflict: another
    // host may answer. The statement's own errors (syntax, constraints, permissions) would fail anywhere.
    if (!retryableRead(error) && hostFailure(error) !== 'failure') throw error;
    return 'retry';
  }

  /** @internal Counts and announces a read that went to the primary. */
  fallback(
    consistency: 'eventual' | 'session',
    reason: ClusterEvents['fallback-to-primary']['reason'],
  ): void {
    this.#fallback(consistency, reason);
  }

  #fallback(
    consistency: 'eventual' | 'session',
    reason: ClusterEvents['fallback-to-primary']['reason'],
  ): void {
    this.counts.fallbacksToPrimary++;
    this.#events.emit('fallback-to-primary', { consistency, reason });
  }

  /** @internal Healthy standbys, by what health checks and reads taught us. */
  replicas(): Host[] {
    return this.#replicas();
  }

  #replicas(): Host[] {
    const now = this.#o.clock.now();
    return this.#hosts.filter(
      (h) => h.isReplica && h.policy.breaker?.state !== 'open' && !this.#ejector.isEjected(h.name, now),
    );
  }

  /**
   * How far behind the primary a replica is, in ms: from the primary's LSN history when it covers the replica's
   * position, else the replica's own report (replayed everything it received → 0) aged by the time since it.
   */
  #lagMs(host: Host, now: number): number {
    const health = host.health;
    if (health === undefined) return Number.POSITIVE_INFINITY;
    const fromHistory = this.#lag.lagMs(health.lsn, now);
    if (fromHistory !== Number.POSITIVE_INFINITY) return fromHistory;
    return health.replayLagMs + Math.max(0, now - health.at);
  }

  /** @internal The primary as health checks know it: its system identifier, timeline and position. */
  primaryHealth(): HostHealth | undefined {
    return this.#primary?.health;
  }

  /** @internal The cluster's clock and routing options, for sessions. */
  get options(): ResolvedClusterOptions {
    return this.#o;
  }

  /** @internal Announces a session wait. */
  sessionWaited(host: Host, waitedMs: number, caughtUp: boolean): void {
    this.counts.sessionWaits++;
    this.#events.emit('session-wait', { host: host.name, waitedMs, caughtUp });
  }

  // ── sessions and transactions ───────────────────────────────────────────────────────────────────────────────

  /**
   * A read-your-writes session: its reads see its own writes (and never go back in time), from a replica that has
   * replayed them when one has. Resume one from another request or process with the token of its last write.
   * @throws BallastError `BALLAST_INVALID_ARGUMENT` for a malformed token.
   */
  session(token?: string): Session {
    return new Session(this, token);
  }

  /**
   * Runs `fn` in a transaction pinned to one primary connection. Retried as a whole on serialization failures and
   * deadlocks (40001, 40P01) when `retryOnSerializationFailure` is set; never after an ambiguous COMMIT.
   */
  transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const primary = this.#primary;
    if (primary === undefined)
      return Promise.reject(primaryUnavailable('none is known (failover in progress?)'));
    return runTransaction(primary, fn, options).catch((error: unknown) => {
      throw this.#afterPrimaryError(primary, error);
    });
  }

  /**
   * A `pg.Pool`-compatible facade (an `instanceof pg.Pool`) over this cluster, for Kysely's `PostgresDialect`,
   * Drizzle's node-postgres driver and code written for pg's pool. `pool.query` goes to the primary (plain reads
   * to replicas with `reads: 'eventual' | 'session'`); `pool.connect()` pins one primary connection under the
   * primary's admission control; `pool.end()` closes the cluster only with `endClosesCluster: true`.
   * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming an invalid option.
   */
  asPool(options?: PoolFacadeOptions): BallastPool {
    return createPoolFacade(this, options);
  }

  /** @internal The writable primary host (`undefined` while none is known), for the pool facade's pinned clients. */
  primaryHost(): Host | undefined {
    return this.#primary;
  }

  // ── health and failover ─────────────────────────────────────────────────────────────────────────────────────

  /** A statement error that may mean the host went away or changed role: drain it and check it now. */
  #suspect(host: Host, error: unknown): void {
    if (host.role !== 'unknown') {
      this.#events.emit('host-down', { host: host.name, reason: describe(error) });
    }
    host.role = 'unknown';
    host.pool.drain();
    if (host === this.#primary) {
      this.#primary = undefined;
      this.#events.emit('primary-unavailable', { host: host.name, reason: describe(error) });
    }
    this.#schedule(this.#hosts.indexOf(host), 0);
  }

  /** Brings the next health check of `host` forward to now, unless one is already running. */
  #checkSoon(host: Host): void {
    const i = this.#hosts.indexOf(host);
    if (i < 0 || this.#checking.has(i)) return;
    this.#schedule(i, 0);
  }

  #schedule(i: number, delayMs: number): void {
    if (this.#closed || i < 0) return;
    const clock = this.#o.clock;
    clock.clearTimeout(this.#timers[i]);
    this.#timers[i] = clock.setTimeout(() => {
      void this.#check(i);
    }, delayMs);
  }

  async #check(i: number): Promise<void> {
    const host = this.#hosts[i] as Host;
    const probe = this.#probes[i] as HealthProbe;
    const { healthIntervalMs, healthFastIntervalMs } = this.#o.routing;
    if (this.#checking.has(i)) return;
    this.#checking.add(i);
    try {
      const health = await probe.check(host.health);
      if (this.#closed) return;
      const wasDown = host.healthFailures > 0 || host.role === 'unknown';
      // A read may have taught us a newer replay position than this check saw: keep the newer one.
      if (
        host.health === undefined ||
        health.lsn >= host.health.lsn ||
        health.inRecovery !== host.health.inRecovery
      ) {
        host.health = health;
      } else host.health = { ...health, lsn: host.health.lsn };
      host.healthFailures = 0;
      const role = health.inRecovery ? 'replica' : 'primary';
      if (role === 'primary' && host.role === 'replica') host.pool.drain(); // promoted: read-only sessions are stale
      host.role = role;
      if (wasDown) {
        // Connections (and connects) from before the outage are suspect.
        if (host.healthFailures === 0) host.pool.drain();
        this.#events.emit('host-up', { host: host.name, role });
      }
      // A healthy host's breaker may move to half-open now instead of waiting out its open time.
      (host.policy.breaker as { recordHealthCheck?: (ok: boolean) => void } | undefined)?.recordHealthCheck?.(
        true,
      );
      if (role === 'primary') this.#lag.record(health.lsn, health.at);
    } catch (error) {
      if (this.#closed) return;
      if (error instanceof ProbeConnecting) {
        // Inconclusive: the probe's connection is still opening (a slow link, or a host not back yet).
        this.#schedule(i, healthFastIntervalMs);
        return;
      }
      host.healthFailures++;
      if (host.healthFailures === 1)
        this.#events.emit('host-down', { host: host.name, reason: describe(error) });
      if (host === this.#primary) {
        this.#primary = undefined;
        this.#events.emit('primary-unavailable', { host: host.name, reason: describe(error) });
      }
      (host.policy.breaker as { recordHealthCheck?: (ok: boolean) => void } | undefined)?.recordHealthCheck?.(
        false,
      );
    } finally {
      this.#checking.delete(i);
    }
    this.#elect();
    const fast = host.healthFailures > 0 || host.role === 'unknown' || this.#primary === undefined;
    this.#schedule(i, fast ? healthFastIntervalMs : healthIntervalMs);
  }

  /** The writable primary: a healthy host not in recovery, on the newest timeline (a returning old primary loses). */
  #elect(): void {
    let best: Host | undefined;
    for (const h of this.#hosts) {
      if (h.healthFailures > 0 || h.role !== 'primary' || h.health === undefined) continue;
      if (best === undefined || h.health.timeline > (best.health as HostHealth).timeline) best = h;
    }
    if (best === this.#primary) return;
    if (best === undefined) return; // keep failing fast until a health check finds one
    const from = this.#primary?.name;
    this.#primary = best;
    this.counts.topologyChanges++;
    this.#events.emit('topology-change', { from, to: best.name, reason: 'health-check' });
  }

  // ── stats and close ─────────────────────────────────────────────────────────────────────────────────────────

  stats(): ClusterStats {
    const now = this.#o.clock.now();
    return {
      primary: this.#primary?.name,
      hosts: this.#hosts.map((h) => ({
        name: h.name,
        role: h.role,
        healthy: h.healthFailures === 0 && h.health !== undefined,
        lsn: h.health === undefined ? undefined : h.health.lsn.toString(16),
        lagMs: h.role === 'replica' ? this.#lagMs(h, now) : undefined,
        outstanding: h.outstanding,
        pool: h.pool.stats(),
        policy: h.policy.stats(),
      })),
      counts: { ...this.counts },
    };
  }

  /** Stops health checks and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) this.#o.clock.clearTimeout(t);
    for (const p of this.#probes) p.close();
    await Promise.all(this.#hosts.map((h) => h.close()));
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/**
 * Creates a cluster client. Returns at once; health checks start in the background (the listed primary is
 * assumed writable until a check says otherwise).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming an invalid option (never echoing a URL).
 * @example
 * const db = createCluster({ primary: process.env.PG_PRIMARY!, replicas: [process.env.PG_REPLICA!] });
 * const s = db.session(req.headers['x-ballast-session']);
 * await s.write('INSERT INTO messages (body) VALUES ($1)', [body]);
 * const { rows } = await s.read('SELECT * FROM messages ORDER BY id DESC LIMIT 20');
 * res.setHeader('x-ballast-session', s.token());
 */
export function createCluster(options: ClusterOptions): Cluster {
  return new Cluster(options);
}

/** The host's policy refused the statement before it ran: shed by its limiter, or its circuit is open. */
function isRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'BALLAST_SHED' || code === 'BALLAST_CIRCUIT_OPEN';
}

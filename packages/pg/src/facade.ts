import type { EventEmitter } from 'node:events';
import { BallastError } from '@ballast/core';
import pg from 'pg';
import type { Cluster } from './cluster.js';
import { isSubmittable, parseQueryArgs, type QueryCall, settle } from './facade-args.js';
import { type Checkout, checkoutPrimary } from './facade-checkout.js';
import { BallastPoolClient, type CheckoutEnd } from './facade-client.js';
import {
  type PoolFacadeOptions,
  type ResolvedPoolFacadeOptions,
  resolvePoolFacadeOptions,
} from './facade-options.js';
import { changesNoData, isPlainRead, opensTransaction } from './facade-sql.js';
import type { Session } from './session.js';
import type { HostPoolStats } from './types.js';

export { BallastPoolClient } from './facade-client.js';
export type { PoolFacadeOptions } from './facade-options.js';
export { DEFAULT_POOL_FACADE } from './facade-options.js';

type PoolClientCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: Error | boolean) => void,
) => void;

const NOOP = (): void => {};

/** The counters' getters, defined below the class (pg's typings declare the counters as properties). */
let counter: (pool: BallastPool, key: 'total' | 'idle' | 'waiting') => number;

function poolEnded(): Error {
  return new Error('Cannot use a pool after calling end on the pool');
}

/**
 * A `pg.Pool` (it is an `instanceof pg.Pool`) backed by a Ballast {@link Cluster}, so code written for pg's pool —
 * Kysely's `PostgresDialect`, Drizzle's `drizzle-orm/node-postgres`, hand-written `pool.query` / `pool.connect`
 * code — runs unchanged with admission control, deadlines, breakers, failover and replica routing underneath.
 * Create it with `cluster.asPool(options)`.
 *
 * - `query(text | config, values?, callback?)`: promise or callback, config objects (`rowMode`, `name`, `types`)
 *   pass through unchanged; routed as `options.reads` says (default: the primary), under the facade's priority
 *   and deadline. A lone `BEGIN` is refused (`BALLAST_INVALID_ARGUMENT`): use `connect()` for transactions.
 * - `connect()`: a client pinned to one primary connection, taken under the primary's admission control (its
 *   concurrency limiter, then its pool's bounded queue) within the facade's deadline; see {@link BallastPoolClient}.
 *   `BALLAST_PRIMARY_UNAVAILABLE` when no writable primary is known or its circuit is open; `BALLAST_SHED` when
 *   admission refuses it.
 * - `end()`: waits for checked-out clients and running queries, then closes the cluster only with
 *   `endClosesCluster: true`. A second call rejects, as on pg.
 * - counters: `totalCount`, `idleCount` are summed over every host's pool; `waitingCount` adds the callers
 *   queued for a connection there and those queued for admission by its limiter (any caller of the cluster);
 *   `expiredCount` is always 0 (expired connections are closed on release, never kept).
 * - events: `'acquire'` / `'release'` (err, client) / `'remove'` for `connect()` clients; `'connect'` the first
 *   time `connect()` hands out a physical connection (`pool.query` uses connections the facade never sees, so
 *   do per-connection setup in the connection string, e.g. `?options=-c search_path=app`); `'error'` for every
 *   pooled-connection error the cluster handled (idle, validation, connect and cancel failures), with
 *   `(error, undefined)`. With no `'error'` listener nothing is emitted: an idle error never crashes the process.
 * - `Client` is `undefined`: libraries that open a side connection with `new pool.Client(pool.options)` (Kysely's
 *   query cancellation) fall back to a pool connection, since `options` names no server.
 */
export class BallastPool extends pg.Pool {
  /** The cluster this facade runs on. */
  readonly cluster: Cluster;
  readonly #o: ResolvedPoolFacadeOptions;
  readonly #session: Session | undefined;
  readonly #seen = new WeakSet<object>();
  readonly #out = new Set<BallastPoolClient>();
  readonly #unsubscribe: () => void;
  #queries = 0;
  #sessionAdvance: Promise<void> | undefined = undefined;
  #onIdle: (() => void) | undefined = undefined;
  #warnedConnect = false;

  /** @internal Use `cluster.asPool(options)`. */
  constructor(cluster: Cluster, options?: PoolFacadeOptions) {
    // pg-pool's constructor only copies options (no connection, no timer); its own connect() is never called.
    super({ max: cluster.options.pool.max, min: 0, allowExitOnIdle: true });
    this.cluster = cluster;
    this.#o = resolvePoolFacadeOptions(options);
    this.#session = this.#o.session ?? (this.#o.reads === 'session' ? cluster.session() : undefined);
    Object.defineProperty(this, 'Client', { value: undefined, writable: true, configurable: true });
    this.#unsubscribe = cluster.on('connection-error', (e) => {
      // EventEmitter throws an 'error' nobody listens to: that would turn a handled idle error into a crash.
      if (this.listenerCount('error') > 0) this.emit('error', e.error, undefined);
    });
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event !== 'connect' || this.#warnedConnect) return;
      this.#warnedConnect = true;
      process.emitWarning(
        "BallastPool 'connect' fires only for connections handed out by pool.connect(); pool.query runs on " +
          'connections it never sees. Put per-connection settings in the connection string (options=-c ...).',
        'BallastPoolWarning',
      );
    });
  }

  // ── counters ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Open connections over every host (idle + busy + connecting). */
  declare readonly totalCount: number;
  /** Idle connections over every host. */
  declare readonly idleCount: number;
  /** Callers queued for a connection on every host: in its pool's queue or its limiter's admission queue. */
  declare readonly waitingCount: number;
  /** Always 0: a connection past its lifetime is closed on release, never kept idle. */
  declare readonly expiredCount: number;

  static {
    counter = (pool, key) => pool.#sum(key);
  }

  #sum(key: 'total' | 'idle' | 'waiting'): number {
    let n = 0;
    for (const h of this.cluster.stats().hosts) {
      n += (h.pool as HostPoolStats)[key];
      // Callers queued for admission by a host's concurrency limiter are waiting for a connection too.
      if (key === 'waiting') n += h.policy.limiter?.queued ?? 0;
    }
    return n;
  }

  // ── query ───────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs one statement, routed by `reads` (see {@link PoolFacadeOptions.reads}); pg's overloads and result.
   * @throws TypeError for a `Submittable` (pg-cursor, pg-query-stream): run those on a `connect()` client.
   */
  override query<T extends pg.Submittable>(queryStream: T): T;
  override query<R extends unknown[] = unknown[], I = unknown[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>;
  override query<R extends unknown[] = unknown[], I = unknown[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  override query(textOrConfig: unknown, values?: unknown, callback?: unknown): unknown {
    if (isSubmittable(textOrConfig))
      throw new TypeError('BallastPool.query: run a Submittable (cursor, stream) on a pool.connect() client');
    let call: QueryCall;
    try {
      call = parseQueryArgs(textOrConfig, values, callback);
    } catch (error) {
      const cb =
        typeof values === 'function' ? values : typeof callback === 'function' ? callback : undefined;
      return settle(Promise.reject(error), cb as ((err: Error | undefined) => void) | undefined);
    }
    return settle(this.#query(call), call.callback);
  }

  async #query(call: QueryCall): Promise<pg.QueryResult> {
    if (this.ending) throw poolEnded();
    if (opensTransaction(call.text)) {
      throw new BallastError(
        'BALLAST_INVALID_ARGUMENT',
        'pool.query(BEGIN) would leave a transaction open on a pooled connection: run transactions on a pool.connect() client',
      );
    }
    this.#queries++;
    try {
      const o = this.#o;
      const read = isPlainRead(call.text);
      const opts = { priority: o.priority, deadlineMs: o.deadlineMs };
      const session = this.#session;
      if (session !== undefined && this.#sessionAdvance !== undefined) await this.#sessionAdvance;
      if (read && o.reads === 'session' && session !== undefined)
        return await session.read(call.query, undefined, { ...opts, consistency: 'session' });
      if (read && o.reads === 'eventual')
        return await this.cluster.read(call.query, undefined, { ...opts, consistency: 'eventual' });
      if (session !== undefined && !changesNoData(call.text))
        return await session.write(call.query, undefined, opts);
      return await this.cluster.query(call.query, undefined, { ...opts, idempotent: read });
    } finally {
      this.#queries--;
      this.#maybeIdle();
    }
  }

  // ── connect ─────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Checks out a client pinned to one primary connection, under the primary's admission control.
   * @throws BallastError `BALLAST_PRIMARY_UNAVAILABLE`, `BALLAST_SHED` (limiter or pool queue refused it, or the
   *   deadline passed while waiting); the driver's connect error otherwise.
   */
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: PoolClientCallback): void;
  override connect(callback?: PoolClientCallback): Promise<pg.PoolClient> | undefined {
    const p = this.#checkout() as Promise<unknown> as Promise<pg.PoolClient>;
    if (callback === undefined) return p;
    p.then(
      (client) => process.nextTick(callback, undefined, client, client.release),
      (error: unknown) => process.nextTick(callback, error as Error, undefined, NOOP),
    );
    return undefined;
  }

  async #checkout(): Promise<BallastPoolClient> {
    if (this.ending) throw poolEnded();
    const checkout = await checkoutPrimary(this.cluster, this.#o.priority, this.#o.deadlineMs);
    const { lease } = checkout;
    const client = new BallastPoolClient(lease, (c, end, err) => this.#checkin(c, end, err, checkout));
    this.#out.add(client);
    if (this.ending) {
      client.release();
      throw poolEnded();
    }
    const typed = client as unknown as pg.PoolClient;
    if (!this.#seen.has(lease.client)) {
      this.#seen.add(lease.client);
      this.emit('connect', typed);
    }
    this.emit('acquire', typed);
    return client;
  }

  #checkin(client: BallastPoolClient, end: CheckoutEnd, err: Error | undefined, checkout: Checkout): void {
    this.#out.delete(client);
    checkout.releasePermit();
    if (end.wrote) this.#advanceSession();
    const typed = client as unknown as pg.PoolClient;
    this.emit('release', err, typed);
    if (end.destroyed) this.emit('remove', typed);
    this.#maybeIdle();
  }

  /**
   * A released `connect()` client wrote: move the session past it before the facade's next session-routed
   * statement (the session only learns positions from its own writes, so this costs a `SELECT 1` and a position
   * read on the primary). A failure leaves the position where it was.
   */
  #advanceSession(): void {
    const session = this.#session;
    if (session === undefined) return;
    const opts = { priority: this.#o.priority, deadlineMs: this.#o.deadlineMs };
    const next = (this.#sessionAdvance ?? Promise.resolve())
      .then(() => session.write('SELECT 1', undefined, opts))
      .then(NOOP, NOOP);
    this.#sessionAdvance = next;
    this.#queries++;
    void next.then(() => {
      if (this.#sessionAdvance === next) this.#sessionAdvance = undefined;
      this.#queries--;
      this.#maybeIdle();
    });
  }

  // ── end ─────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Stops the facade: new calls fail, checked-out clients and running statements are waited for, then the
   * cluster is closed only when the facade was created with `endClosesCluster: true`.
   * @throws (rejects with) an Error when called twice, as pg does.
   */
  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | undefined {
    return settle(this.#end(), callback);
  }

  async #end(): Promise<void> {
    if (this.ending) throw new Error('Called end on pool more than once');
    (this as { ending: boolean }).ending = true;
    this.#unsubscribe();
    if (this.#out.size > 0 || this.#queries > 0)
      await new Promise<void>((resolve) => {
        this.#onIdle = resolve;
      });
    if (this.#o.endClosesCluster) await this.cluster.close();
    (this as { ended: boolean }).ended = true;
  }

  #maybeIdle(): void {
    if (this.#onIdle === undefined || this.#out.size > 0 || this.#queries > 0) return;
    const resolve = this.#onIdle;
    this.#onIdle = undefined;
    resolve();
  }
}

// pg-pool defines the counters as getters on its prototype, @types/pg as readonly properties: override the getters
// here, where TypeScript does not object to an accessor replacing a property.
for (const [name, key] of [
  ['totalCount', 'total'],
  ['idleCount', 'idle'],
  ['waitingCount', 'waiting'],
] as const) {
  Object.defineProperty(BallastPool.prototype, name, {
    configurable: true,
    get(this: BallastPool) {
      return counter(this, key);
    },
  });
}
Object.defineProperty(BallastPool.prototype, 'expiredCount', { configurable: true, get: () => 0 });

/**
 * Creates the pg.Pool-compatible facade of a cluster (what `cluster.asPool(options)` returns).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming an invalid option.
 * @example
 * const db = createCluster({ primary: process.env.PG_PRIMARY!, replicas: [process.env.PG_REPLICA!] });
 * const kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool: db.asPool({ reads: 'eventual' }) }) });
 * const orm = drizzle({ client: db.asPool() });
 */
export function createPoolFacade(cluster: Cluster, options?: PoolFacadeOptions): BallastPool {
  return new BallastPool(cluster, options);
}

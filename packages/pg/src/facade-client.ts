import pg from 'pg';
import { isSubmittable, parseQueryArgs, settle } from './facade-args.js';
import { changesNoData, touchesStatementTimeout } from './facade-sql.js';
import { breaksConnection } from './pg-errors.js';
import type { PooledConnection } from './types.js';

/** Events a pinned client passes through to the raw pg client (and detaches on release). */
const CLIENT_EVENTS: ReadonlySet<string> = new Set(['error', 'notice', 'notification', 'end']);

type Listener = (...args: never[]) => void;

/** The raw client as a plain EventEmitter (pg's typings only accept its own event names). */
interface Emitter {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** What a pinned client reports back to its facade when released. */
export interface CheckoutEnd {
  /** The connection was closed rather than pooled. */
  destroyed: boolean;
  /** A statement that may have changed data ran on it (the facade's session advances past it). */
  wrote: boolean;
}

/**
 * The client `pool.connect()` hands out: one primary connection, checked out of the primary host's pool under
 * its admission control, until `release()`. It implements the part of pg's `PoolClient` that query builders and
 * hand-written code use — `query` (promise, callback, config objects, `Submittable`s such as pg-cursor),
 * `release`, `on`/`off`/`once` for `'error' | 'notice' | 'notification' | 'end'`, `processID`, `escapeLiteral`,
 * `escapeIdentifier` — and is typed as `pg.PoolClient` for them. It is not a `pg.Client` instance.
 *
 * Statements run without a deadline (as on pg), and never inherit a `statement_timeout` a deadline-bound cluster
 * call left on the connection.
 */
export class BallastPoolClient {
  #lease: PooledConnection | undefined;
  readonly #raw: pg.Client;
  readonly #events: Emitter;
  readonly #onEnd: (client: BallastPoolClient, end: CheckoutEnd, err: Error | undefined) => void;
  readonly #attached: Array<[string, Listener]> = [];
  #wrote = false;
  /** Closed on release: it touched `statement_timeout`, or a statement failed in a way that breaks it. */
  #unsafe = false;

  /** @internal Built by the facade's `connect()`. */
  constructor(
    lease: PooledConnection,
    onEnd: (client: BallastPoolClient, end: CheckoutEnd, err: Error | undefined) => void,
  ) {
    this.#lease = lease;
    this.#raw = lease.client;
    this.#events = lease.client as unknown as Emitter;
    this.#onEnd = onEnd;
    // pg's PoolClient.release is an own function property: `const { release } = client` works there too.
    this.release = this.release.bind(this);
  }

  /** The backend's process id (`pg_backend_pid()`), as pg exposes it. */
  get processID(): number | null {
    return (this.#raw as unknown as { processID: number | null }).processID;
  }

  /** The raw connection's host, port, database and user (never the password). */
  get host(): string {
    return this.#raw.host;
  }
  get port(): number {
    return this.#raw.port;
  }
  get database(): string | undefined {
    return this.#raw.database;
  }
  get user(): string | undefined {
    return this.#raw.user;
  }

  /** True until `release()`. */
  get checkedOut(): boolean {
    return this.#lease !== undefined;
  }

  /**
   * Runs a statement on the pinned connection: `(text | config, values?, callback?)` like pg. A `Submittable`
   * (pg-cursor, pg-query-stream) is handed to the raw client and returned, as pg does; do not start one while a
   * promise query on this client is still running.
   * @throws (rejects with) an Error after `release()`, and pg's errors unchanged.
   */
  query(textOrConfig: unknown, values?: unknown, callback?: unknown): unknown {
    const lease = this.#lease;
    if (isSubmittable(textOrConfig)) {
      if (lease === undefined) throw releasedError();
      this.#wrote = true; // a cursor over a write is possible; do not guess
      return (this.#raw as unknown as { query(s: pg.Submittable): pg.Submittable }).query(textOrConfig);
    }
    let call: ReturnType<typeof parseQueryArgs>;
    try {
      call = parseQueryArgs(textOrConfig, values, callback);
    } catch (error) {
      if (typeof values === 'function' || typeof callback === 'function') {
        const cb = (typeof values === 'function' ? values : callback) as (err: Error) => void;
        process.nextTick(cb, error as Error);
        return undefined;
      }
      return Promise.reject(error);
    }
    if (lease === undefined) return settle(Promise.reject(releasedError()), call.callback);
    if (!this.#wrote && !changesNoData(call.text)) this.#wrote = true;
    if (touchesStatementTimeout(call.text)) this.#unsafe = true;
    const run = lease
      .query(call.query, undefined, Number.POSITIVE_INFINITY, undefined)
      .catch((error: unknown) => {
        if (breaksConnection(error)) this.#unsafe = true;
        throw error;
      });
    return settle(run, call.callback);
  }

  /**
   * Returns the connection to the pool; `release(true)` or `release(error)` closes it instead (pass the error
   * after a failure that may have left it in an unknown state). It is also closed when a transaction is still
   * open or failed on it, when a statement broke it, or when it changed `statement_timeout` at session level.
   * The admission permit is given back either way. Lenient where pg throws: a second call is a no-op.
   */
  release(err?: Error | boolean): void {
    const lease = this.#lease;
    if (lease === undefined) return;
    this.#lease = undefined;
    for (const [event, listener] of this.#attached)
      this.#events.removeListener(event, listener as (...args: unknown[]) => void);
    this.#attached.length = 0;
    // Like pg, any truthy argument closes the connection. Unlike pg, so does a transaction left open or failed:
    // the next caller must never inherit it.
    const tx = (
      this.#raw as unknown as { getTransactionStatus?: () => string | null }
    ).getTransactionStatus?.();
    const destroyed = Boolean(err) || this.#unsafe || tx === 'T' || tx === 'E';
    lease.release(destroyed ? (err instanceof Error ? err : true) : false);
    this.#onEnd(this, { destroyed, wrote: this.#wrote }, err instanceof Error ? err : undefined);
  }

  /** Adds a listener on the raw client for `'error' | 'notice' | 'notification' | 'end'`; removed on release. */
  on(event: string, listener: Listener): this {
    if (!CLIENT_EVENTS.has(event)) throw unsupportedEvent(event);
    if (this.#lease === undefined) return this;
    this.#events.on(event, listener as (...args: unknown[]) => void);
    this.#attached.push([event, listener]);
    return this;
  }

  /** Same as {@link BallastPoolClient.on}. */
  addListener(event: string, listener: Listener): this {
    return this.on(event, listener);
  }

  /** A listener called once (removed on release if it has not fired). */
  once(event: string, listener: Listener): this {
    if (!CLIENT_EVENTS.has(event)) throw unsupportedEvent(event);
    if (this.#lease === undefined) return this;
    const once: Listener = (...args) => {
      this.off(event, once);
      listener(...args);
    };
    return this.on(event, once);
  }

  /** Removes a listener added through this client. */
  off(event: string, listener: Listener): this {
    const i = this.#attached.findIndex(([e, l]) => e === event && l === listener);
    if (i >= 0) {
      this.#attached.splice(i, 1);
      this.#events.removeListener(event, listener as (...args: unknown[]) => void);
    }
    return this;
  }

  /** Same as {@link BallastPoolClient.off}. */
  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener);
  }

  /** pg's `escapeLiteral`. */
  escapeLiteral(str: string): string {
    return pg.escapeLiteral(str);
  }

  /** pg's `escapeIdentifier`. */
  escapeIdentifier(str: string): string {
    return pg.escapeIdentifier(str);
  }
}

function releasedError(): Error {
  return new Error('Client was released: query on a released client');
}

function unsupportedEvent(event: string): Error {
  return new TypeError(
    `BallastPoolClient.on('${event}'): only 'error', 'notice', 'notification' and 'end' are passed through`,
  );
}

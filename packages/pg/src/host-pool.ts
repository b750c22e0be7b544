import { Events } from '@ballast/core';
import pg from 'pg';
import { Conn, type ConnContext, Lease } from './host-pool-connection.js';
import { abortReason, closedError, invalidArgument, shedError } from './host-pool-errors.js';
import {
  type HostPoolOptions,
  type ResolvedHostPoolOptions,
  resolveHostPoolOptions,
} from './host-pool-options.js';
import { HoldWatch, IdleReaper, validateConnection } from './host-pool-upkeep.js';
import { Waiter, WaiterQueue } from './host-pool-waiters.js';
import { maskError, secretsOf } from './mask.js';
import { markNotSent } from './pg-errors.js';
import type {
  HostName,
  HostPool,
  HostPoolEvents,
  HostPoolStats,
  PooledConnection,
  SignalLike,
} from './types.js';

export type { HostPoolOptions } from './host-pool-options.js';
export { DEFAULT_HOST_POOL } from './host-pool-options.js';

/**
 * Creates the connection pool of one PostgreSQL host.
 *
 * - **acquire**: an idle connection, most recently used first (so extras idle out), validated with `SELECT 1`
 *   when idle longer than `validateAfterIdleMs`; else a new one while `total < target` and fewer than
 *   `maxConnecting` are opening (the caller takes it or the next released one, whichever comes first); else a
 *   place in the FIFO queue of at most `maxWaiting`. One clock timer serves every waiter's deadline.
 * - **connect failures**: each new connection is opened for one waiter (the first without one). If it fails,
 *   that waiter is rejected with the driver's error (credentials masked); the others keep waiting, and the
 *   pool opens another connection for the next of them. A host that refuses connections thus fails its waiters
 *   one by one as fast as it refuses, without ever opening more than `maxConnecting` at once.
 * - **release**: a connection that was cancelled, errored, is past its lifetime, drained, or above the target
 *   is closed; otherwise it goes to the first waiter or back to the idle stack.
 * - **idle errors**: every client has an `'error'` listener for its whole life; a connection that dies while
 *   idle is dropped (`idleErrors`, `connection-error`) and never crashes the process.
 * - **deadlines**: see {@link PooledConnection.query}. Client-side cancellation is driven by the `signal` (the
 *   policy layer aborts it at the deadline from core's shared deadline wheel), so a statement costs no timer;
 *   `deadlineAt` only derives the session's `statement_timeout`, the server-side backstop.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` for an invalid option.
 * @example
 * const pool = createHostPool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * const conn = await pool.acquire(clock.now() + 1_000, signal);
 * try { await conn.query('SELECT 1', undefined, deadlineAt, signal); } finally { conn.release(); }
 */
export function createHostPool(options: HostPoolOptions): HostPool {
  return new HostPoolImpl(resolveHostPoolOptions(options));
}

class HostPoolImpl implements HostPool, ConnContext {
  readonly host: HostName;
  /** Published on diagnostics_channel as `ballast:pg-pool:<event>`. */
  readonly #events = new Events<HostPoolEvents>('pg-pool');
  readonly #secrets: readonly string[];
  readonly #all = new Set<Conn>();
  /** Idle connections, least recently used first: pop() takes the most recent. */
  readonly #idle: Conn[] = [];
  readonly #waiters: WaiterQueue;
  #target: number;
  #connecting = 0;
  #validating = 0;
  #busy = 0;
  #closed = false;
  #onEmpty: (() => void) | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;
  readonly #ending = new Set<Promise<void>>();
  readonly #hold: HoldWatch;
  readonly #reaper: IdleReaper;
  #created = 0;
  #destroyed = 0;
  #acquireRejected = 0;
  #idleErrors = 0;
  #cancels = 0;
  readonly #onWaiterAbort = (w: Waiter): void => this.#abortWaiter(w);

  constructor(readonly opts: ResolvedHostPoolOptions) {
    this.host = opts.name;
    this.#target = opts.max;
    this.#secrets = secretsOf(opts.clientConfig.connectionString, opts.clientConfig.password);
    this.#waiters = new WaiterQueue(opts.clock, (w) => this.#expireWaiter(w));
    this.#hold = new HoldWatch(opts.clock, opts.holdWarningMs, this.#all, (heldMs) => {
      if (this.#events.wants('held-too-long'))
        this.#events.emit('held-too-long', { host: this.host, heldMs });
    });
    this.#reaper = new IdleReaper(
      opts.clock,
      opts.idleTimeoutMs,
      this.#idle,
      () => this.#all.size > opts.min,
      (conn) => this.#destroy(conn),
    );
    this.#ensureMin();
  }

  acquire(deadlineAt: number, signal: SignalLike | undefined): Promise<PooledConnection> {
    if (this.#closed) return Promise.reject(closedError(this.host));
    if (signal?.aborted) return Promise.reject(abortReason(signal, this.host));
    const now = this.opts.clock.now();
    if (deadlineAt <= now) return Promise.reject(this.#shed('deadline'));
    // Hot path: an idle connection and nobody queued ahead. No timer, no closure.
    const lease = this.tryAcquire();
    if (lease !== undefined) return Promise.resolve(lease);
    if (this.#waiters.size >= this.opts.maxWaiting) return Promise.reject(this.#shed('queue-full'));
    const w = new Waiter(deadlineAt, signal, this.#onWaiterAbort);
    this.#waiters.push(w);
    signal?.addEventListener('abort', w, { once: true });
    this.#dispatch();
    return w.promise;
  }

  tryAcquire(): PooledConnection | undefined {
    if (this.#closed || this.#waiters.size !== 0 || this.#idle.length === 0) return undefined;
    const now = this.opts.clock.now();
    const conn = this.#takeIdle(now);
    return conn === undefined ? undefined : this.#checkout(conn, now);
  }

  setTarget(size: number): void {
    if (typeof size !== 'number' || Number.isNaN(size))
      throw invalidArgument('setTarget(size)', size, 'a number');
    this.#target = Math.min(this.opts.max, Math.max(this.opts.min, Math.floor(size)));
    // Idle ones above the target close now (least recently used first); busy ones on release.
    while (this.#all.size > this.#target && this.#idle.length > 0) this.#destroy(this.#idle[0] as Conn);
    this.#dispatch();
  }

  drain(): void {
    for (const conn of [...this.#all]) {
      if (conn.state === 'idle') this.#destroy(conn);
      else {
        conn.doomed = true;
        // A connect stuck on a host that went away would hold a `maxConnecting` slot until its timeout, and the
        // next connects (to the host once it is back) would queue behind it: abandon it now.
        if (conn.state === 'connecting') {
          (
            conn.client as unknown as { connection?: { stream?: { destroy(): void } } }
          ).connection?.stream?.destroy();
        }
      }
    }
    this.#dispatch();
  }

  stats(): HostPoolStats {
    return {
      host: this.host,
      total: this.#all.size,
      idle: this.#idle.length,
      busy: this.#busy + this.#validating,
      connecting: this.#connecting,
      waiting: this.#waiters.size,
      target: this.#target,
      created: this.#created,
      destroyed: this.#destroyed,
      acquireRejected: this.#acquireRejected,
      idleErrors: this.#idleErrors,
      cancels: this.#cancels,
    };
  }

  on<K extends keyof HostPoolEvents>(event: K, listener: (e: HostPoolEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#hold.stop();
    this.#reaper.stop();
    for (const w of this.#waiters.takeAll()) {
      w.signal?.removeEventListener('abort', w);
      w.reject(closedError(this.host));
    }
    // Busy connections close now too (their statements fail); those still opening, when their connect settles.
    for (const conn of [...this.#all]) {
      if (conn.state === 'connecting') conn.doomed = true;
      else this.#destroy(conn);
    }
    if (this.#all.size > 0) await new Promise<void>((resolve) => (this.#onEmpty = resolve));
    await Promise.all(this.#ending);
  }

  // ConnContext: called by connections and leases.

  release(conn: Conn, destroy: boolean | Error | undefined): void {
    if (conn.state !== 'busy') return; // closed by close() while checked out
    this.#busy--;
    conn.state = 'idle';
    const now = this.opts.clock.now();
    if (destroy instanceof Error) this.#reportError(conn, destroy);
    if (
      destroy === true ||
      destroy instanceof Error ||
      conn.doomed ||
      this.#closed ||
      conn.expiresAt <= now ||
      this.#all.size > this.#target
    ) {
      this.#destroy(conn);
      this.#dispatch();
      return;
    }
    conn.lastUsedAt = now;
    const w = this.#waiters.head;
    if (w !== undefined) {
      this.#serve(w, conn, now);
      return;
    }
    this.#idle.push(conn);
    this.#reaper.ensureArmed(now);
  }

  onClientError(conn: Conn, error: Error): void {
    // Connecting: the connect callback has it. Closed: a late echo of an error already handled.
    if (conn.state === 'connecting' || conn.state === 'closed') return;
    conn.doomed = true;
    if (conn.state === 'idle') {
      this.#idleErrors++;
      this.#reportError(conn, error);
      this.#destroy(conn);
      this.#dispatch();
      return;
    }
    // Busy or validating: its statement fails with this error; destroyed on release (or by the validator).
    this.#reportError(conn, error);
  }

  onCancel(_conn: Conn, reason: 'deadline' | 'abort'): void {
    this.#cancels++;
    if (this.#events.wants('cancel')) this.#events.emit('cancel', { host: this.host, reason });
  }

  onCancelFailed(_conn: Conn, error: unknown): void {
    if (this.#events.wants('connection-error'))
      this.#events.emit('connection-error', { host: this.host, error: maskError(error, this.#secrets) });
  }

  // Internals.

  #takeIdle(now: number): Conn | undefined {
    while (this.#idle.length > 0) {
      const conn = this.#idle[this.#idle.length - 1] as Conn;
      if (conn.expiresAt <= now || conn.doomed) {
        this.#destroy(conn);
        continue;
      }
      // Stale: the slow path validates it on behalf of a waiter.
      if (this.#needsValidation(conn, now)) return undefined;
      this.#idle.pop();
      return conn;
    }
    return undefined;
  }

  #needsValidation(conn: Conn, now: number): boolean {
    return this.opts.validateAfterIdleMs > 0 && now - conn.lastUsedAt > this.opts.validateAfterIdleMs;
  }

  #checkout(conn: Conn, now: number): Lease {
    conn.state = 'busy';
    conn.checkedOutAt = now;
    conn.heldWarned = false;
    this.#busy++;
    this.#hold.ensureRunning();
    return new Lease(conn);
  }

  #serve(w: Waiter, conn: Conn, now: number): void {
    this.#waiters.remove(w);
    w.signal?.removeEventListener('abort', w);
    w.resolve(this.#checkout(conn, now));
  }

  /** Matches idle connections to waiters, then opens connections for waiters nothing is working for. */
  #dispatch(): void {
    if (this.#closed) return;
    const now = this.opts.clock.now();
    while (this.#waiters.size > 0 && this.#idle.length > 0) {
      const conn = this.#idle.pop() as Conn;
      if (conn.expiresAt <= now || conn.doomed) {
        this.#destroy(conn);
        continue;
      }
      if (this.#needsValidation(conn, now)) {
        if (this.#waiters.uncovered === 0) {
          this.#idle.push(conn);
          break;
        }
        this.#validate(conn);
        continue;
      }
      this.#serve(this.#waiters.head as Waiter, conn, now);
    }
    while (
      this.#waiters.uncovered > 0 &&
      this.#all.size < this.#target &&
      this.#connecting < this.opts.maxConnecting
    ) {
      this.#open(true);
    }
  }

  #ensureMin(): void {
    while (!this.#closed && this.#all.size < this.opts.min && this.#connecting < this.opts.maxConnecting)
      this.#open(false);
  }

  #open(forWaiter: boolean): void {
    const { clock, lifetimeMs, random } = this.opts;
    const jittered = lifetimeMs * (0.9 + 0.2 * random());
    let client: pg.Client;
    try {
      client = new pg.Client(this.opts.clientConfig);
    } catch (error) {
      // An invalid config: fail the waiter it was for, like a connect error.
      const w = forWaiter ? this.#waiters.firstUncovered() : undefined;
      if (w !== undefined) this.#failWaiter(w, maskError(error, this.#secrets));
      return;
    }
    const conn = new Conn(client, this, clock.now(), jittered);
    this.#all.add(conn);
    this.#connecting++;
    if (forWaiter) this.#waiters.coverNext(conn);
    client.connect().then(
      () => this.#onConnected(conn),
      (error: unknown) => this.#onConnectFailed(conn, error),
    );
  }

  #onConnected(conn: Conn): void {
    this.#connecting--;
    this.#waiters.uncover(conn);
    conn.opened = true;
    this.#created++;
    conn.state = 'idle';
    if (this.#closed || conn.doomed) {
      this.#destroy(conn);
      this.#dispatch();
      return;
    }
    if (this.#events.wants('connect')) this.#events.emit('connect', { host: this.host });
    const now = this.opts.clock.now();
    conn.lastUsedAt = now;
    const w = this.#waiters.head;
    if (w !== undefined) this.#serve(w, conn, now);
    else {
      this.#idle.push(conn);
      this.#reaper.ensureArmed(now);
    }
    this.#dispatch();
    this.#ensureMin();
  }

  #onConnectFailed(conn: Conn, error: unknown): void {
    this.#connecting--;
    conn.state = 'closed';
    this.#all.delete(conn);
    conn.client.end().catch(() => {});
    const masked = markNotSent(maskError(error, this.#secrets));
    const w = conn.requester;
    this.#waiters.uncover(conn);
    if (w !== undefined) this.#failWaiter(w, masked);
    if (this.#events.wants('connection-error'))
      this.#events.emit('connection-error', { host: this.host, error: masked });
    this.#checkEmpty();
    this.#dispatch();
  }

  #validate(conn: Conn): void {
    conn.state = 'validating';
    this.#validating++;
    this.#waiters.coverNext(conn);
    validateConnection(conn, this.opts.clock, this.opts.validateTimeoutMs).then((error) => {
      if (conn.state !== 'validating') return this.#dispatch(); // destroyed meanwhile (close)
      this.#validating--;
      this.#waiters.uncover(conn);
      conn.state = 'idle';
      if (error !== undefined) {
        this.#idleErrors++;
        this.#reportError(conn, error);
        conn.doomed = true;
      }
      if (conn.doomed || this.#closed) this.#destroy(conn);
      else {
        conn.lastUsedAt = this.opts.clock.now();
        this.#idle.push(conn);
      }
      this.#dispatch();
    });
  }

  #destroy(conn: Conn): void {
    switch (conn.state) {
      case 'closed':
        return;
      case 'idle': {
        const i = this.#idle.lastIndexOf(conn);
        if (i >= 0) this.#idle.splice(i, 1);
        break;
      }
      case 'busy':
        this.#busy--;
        break;
      case 'validating':
        this.#validating--;
        this.#waiters.uncover(conn);
        break;
      case 'connecting':
        this.#connecting--;
        this.#waiters.uncover(conn);
        break;
    }
    conn.state = 'closed';
    this.#all.delete(conn);
    if (conn.opened) this.#destroyed++;
    // pg's end() on a dead socket or a running statement destroys the socket; errors after this are ignored.
    const ending: Promise<void> = conn.client.end().catch(() => {});
    this.#ending.add(ending);
    ending.then(() => this.#ending.delete(ending));
    this.#checkEmpty();
    this.#ensureMin();
  }

  #checkEmpty(): void {
    if (this.#closed && this.#all.size === 0 && this.#onEmpty !== undefined) {
      const resolve = this.#onEmpty;
      this.#onEmpty = undefined;
      resolve();
    }
  }

  #reportError(conn: Conn, error: unknown): void {
    if (conn.errored) return;
    conn.errored = true;
    if (this.#events.wants('connection-error'))
      this.#events.emit('connection-error', { host: this.host, error: maskError(error, this.#secrets) });
  }

  #failWaiter(w: Waiter, error: Error): void {
    if (!w.queued) return;
    this.#waiters.remove(w);
    w.signal?.removeEventListener('abort', w);
    w.reject(error);
  }

  #abortWaiter(w: Waiter): void {
    if (!w.queued || w.signal === undefined) return;
    this.#waiters.remove(w);
    w.reject(abortReason(w.signal, this.host));
  }

  #expireWaiter(w: Waiter): void {
    // Already unlinked by the queue.
    w.signal?.removeEventListener('abort', w);
    w.reject(this.#shed('deadline'));
  }

  #shed(reason: 'deadline' | 'queue-full'): Error {
    this.#acquireRejected++;
    return shedError(this.host, reason);
  }
}

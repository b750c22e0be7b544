import { isBallastError, type TimerHandle } from '@ballast/core';
import type pg from 'pg';
import { sendCancelRequest } from './cancel.js';
import { CapturedWrite } from './captured-write.js';
import { abortReason, deadlineExceeded } from './host-pool-errors.js';
import type { ResolvedHostPoolOptions } from './host-pool-options.js';
import type { Cover, Waiter } from './host-pool-waiters.js';
import type { HostName, PooledConnection, SignalLike, Statement, SubmitCallback } from './types.js';

/** What a connection needs from its pool. Internal. */
export interface ConnContext {
  readonly opts: ResolvedHostPoolOptions;
  release(conn: Conn, destroy: boolean | Error | undefined): void;
  onClientError(conn: Conn, error: Error): void;
  onCancel(conn: Conn, reason: 'deadline' | 'abort'): void;
  onCancelFailed(conn: Conn, error: unknown): void;
}

export type ConnState = 'connecting' | 'idle' | 'busy' | 'validating' | 'closed';

/** The fields of pg's Client that @types/pg leaves out. */
interface ClientInternals {
  processID: number | null;
  secretKey: number | null;
  getTransactionStatus?: () => string | null;
  connection?: { stream?: { destroy(error?: Error): void } };
}

/** pg's callback form of `Client#query`. */
interface ClientCallbackQuery {
  query(
    text: string | pg.QueryConfig,
    values: readonly unknown[] | undefined,
    callback: (error: Error | null, result: pg.QueryResult) => void,
  ): void;
}

/** A statement pg runs as it is (not a submittable of ours, whose result arrives its own way). */
function isPlainStatement(text: unknown): text is string | pg.QueryConfig {
  if (typeof text === 'string') return true;
  return (
    typeof text === 'object' && text !== null && typeof (text as { submit?: unknown }).submit !== 'function'
  );
}

const INF = Number.POSITIVE_INFINITY;

/**
 * The `statement_timeout` (ms, `0` = none) to SET before a statement, or `-1` to keep the current one.
 * The setting must never be shorter than the statement's remaining time (it would kill a statement that could
 * still meet its deadline), so it is raised whenever it is; it is lowered to the remaining time only when it is
 * more than 4x longer, and raised to twice the need, so jittery deadlines settle on one value instead of a SET
 * per call. `defaultMs` (the connection's default) caps it.
 * @param currentMs the connection's current setting (`0`: none; `NaN`: unknown, always SET)
 * @param remainingMs the statement's remaining time (`Infinity`: no deadline)
 * @param defaultMs the pool's `statementTimeoutMs` (`0`: none)
 */
export function statementTimeoutFor(currentMs: number, remainingMs: number, defaultMs: number): number {
  const cur = currentMs === 0 ? INF : currentMs;
  const cap = defaultMs === 0 ? INF : defaultMs;
  const need = Math.min(remainingMs, cap);
  let next: number;
  if (Number.isNaN(cur)) next = need;
  else if (cur < need) next = Math.min(remainingMs * 2, cap);
  else if (cur > 4 * need) next = need;
  else return -1;
  return next === INF ? 0 : Math.max(1, Math.ceil(next));
}

/** One physical connection and its bookkeeping. Internal: callers hold a {@link Lease}. */
export class Conn implements Cover {
  state: ConnState = 'connecting';
  readonly createdAt: number;
  readonly expiresAt: number;
  lastUsedAt: number;
  checkedOutAt = 0;
  heldWarned = false;
  /** Close instead of reusing on release (cancelled, errored, drained, over target...). */
  doomed = false;
  /** A `connection-error` was reported for it already. */
  errored = false;
  /** Connected successfully (counts in `created`/`destroyed`). */
  opened = false;
  requester: Waiter | undefined = undefined;
  /** The session's current statement_timeout in ms (0: none) as far as we know. */
  statementTimeoutMs: number;
  #statementTimeoutUncertain = false;
  #pending = 0;
  #tail: Promise<unknown> | undefined = undefined;
  #signal: SignalLike | undefined = undefined;
  #deadlineAt = INF;
  #running = false;
  #cancelSent = false;
  #killTimer: TimerHandle | undefined = undefined;
  /** Attached to the client for its whole life: an idle socket error must never go unhandled. */
  readonly onError = (error: Error): void => this.ctx.onClientError(this, error);
  readonly #kill = (): void => this.#killStuck();

  constructor(
    readonly client: pg.Client,
    readonly ctx: ConnContext,
    now: number,
    lifetimeMs: number,
  ) {
    this.createdAt = now;
    this.lastUsedAt = now;
    this.expiresAt = lifetimeMs > 0 ? now + lifetimeMs : INF;
    this.statementTimeoutMs = ctx.opts.statementTimeoutMs;
    client.on('error', this.onError);
  }

  get host(): HostName {
    return this.ctx.opts.name;
  }

  /**
   * {@link Conn.query} without a promise of its own, for a lease that runs one statement: when nothing else is
   * queued here and the session's `statement_timeout` needs no SET, the statement goes straight to pg's callback
   * API (no promise; the promise path had five); otherwise it takes the promise path.
   */
  submit<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
    done: SubmitCallback<pg.QueryResult<R>>,
  ): void {
    let next = -1;
    try {
      if (signal?.aborted) throw abortReason(signal, this.host);
      if (this.#needsAdjust(deadlineAt)) next = this.#statementTimeoutChange(deadlineAt);
    } catch (error) {
      done(error, undefined);
      return;
    }
    if (this.#pending !== 0 || next >= 0 || !isPlainStatement(text)) {
      this.query<R>(text, values, deadlineAt, signal).then(
        (result) => done(undefined, result),
        (error: unknown) => done(error, undefined),
      );
      return;
    }
    this.#pending++;
    this.#startRunning(signal, deadlineAt);
    // Its own callback, answering once: pg calls a callback twice when a parameter fails to serialize (the error,
    // then the empty result at the next ReadyForQuery), which a promise absorbs.
    let answered = false;
    const answer = (error: unknown, result: pg.QueryResult<R> | undefined): void => {
      if (answered) return;
      answered = true;
      this.#pending--;
      this.#finishRunning();
      // pg calls this from its socket handler (or rethrows on nextTick): nothing may escape into it.
      try {
        done(error, result);
      } catch (thrown) {
        process.emitWarning(
          `ballast: a statement's completion threw: ${String(thrown)}`,
          'BallastListenerError',
        );
      }
    };
    try {
      (this.client as unknown as ClientCallbackQuery).query(text, values, (error, result) => {
        if (error === null) answer(undefined, result as pg.QueryResult<R>);
        else answer(error, undefined);
      });
    } catch (error) {
      // pg validates some arguments synchronously: the connection was never used.
      answer(error, undefined);
    }
  }

  /** Runs statements one at a time on this connection, in call order (pg would queue them anyway). */
  query<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
  ): Promise<pg.QueryResult<R>> {
    this.#pending++;
    let p: Promise<pg.QueryResult<R>>;
    if (this.#tail === undefined) p = this.#run<R>(text, values, deadlineAt, signal);
    else {
      const start = (): Promise<pg.QueryResult<R>> => this.#run<R>(text, values, deadlineAt, signal);
      p = this.#tail.then(start, start);
    }
    this.#tail = p;
    return p;
  }

  async #run<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
  ): Promise<pg.QueryResult<R>> {
    try {
      if (signal?.aborted) throw abortReason(signal, this.host);
      if (text instanceof CapturedWrite) text.attach(this.client);
      const client = this.client as unknown as {
        query(t: Statement<R>, v?: readonly unknown[]): PromiseLike<pg.QueryResult<R>>;
      };
      const next = this.#needsAdjust(deadlineAt) ? this.#statementTimeoutChange(deadlineAt) : -1;
      if (signal === undefined) {
        if (next >= 0) await this.#setStatementTimeout(next);
        return await client.query(text, values);
      }
      // Listen before the SET too: a host that stops answering during it must be cancelled (and its socket
      // destroyed after the grace) like during the statement, or the connection and its permit hang.
      this.#startRunning(signal, deadlineAt);
      try {
        if (next >= 0) {
          await this.#setStatementTimeout(next);
          if (signal.aborted) throw abortReason(signal, this.host);
        }
        return await client.query(text, values);
      } finally {
        this.#finishRunning();
      }
    } finally {
      if (--this.#pending === 0) this.#tail = undefined;
    }
  }

  /** A statement with a deadline, or a session whose `statement_timeout` is not the default, may need a SET. */
  #needsAdjust(deadlineAt: number): boolean {
    return (
      this.ctx.opts.serverTimeouts &&
      (deadlineAt !== INF ||
        this.statementTimeoutMs !== this.ctx.opts.statementTimeoutMs ||
        this.#statementTimeoutUncertain)
    );
  }

  /**
   * The `statement_timeout` to SET before a statement with this deadline, or -1 to keep the session's.
   * @throws BallastError `BALLAST_DEADLINE_EXCEEDED` when the deadline has passed.
   */
  #statementTimeoutChange(deadlineAt: number): number {
    const tx = this.#transactionStatus();
    // In a failed transaction every statement but ROLLBACK fails: leave the setting alone.
    if (tx === 'E') return -1;
    const remaining = deadlineAt === INF ? INF : deadlineAt - this.ctx.opts.clock.now();
    if (remaining <= 0) throw deadlineExceeded(this.host);
    // A SET inside a transaction is undone by ROLLBACK: after one, the setting is unknown until set again.
    const dflt = this.ctx.opts.statementTimeoutMs;
    return this.#statementTimeoutUncertain && tx === 'I'
      ? statementTimeoutFor(Number.NaN, remaining, dflt)
      : statementTimeoutFor(this.statementTimeoutMs, remaining, dflt);
  }

  async #setStatementTimeout(next: number): Promise<void> {
    const tx = this.#transactionStatus();
    await this.client.query(`SET statement_timeout = ${next}`);
    this.statementTimeoutMs = next;
    this.#statementTimeoutUncertain = tx !== 'I';
  }

  #transactionStatus(): string {
    return (this.client as unknown as ClientInternals).getTransactionStatus?.() ?? 'I';
  }

  /** A statement is running: the signal's abort cancels it on the server. */
  #startRunning(signal: SignalLike | undefined, deadlineAt: number): void {
    this.#running = true;
    if (signal === undefined) return;
    this.#signal = signal;
    this.#deadlineAt = deadlineAt;
    this.#cancelSent = false;
    signal.addEventListener('abort', this);
  }

  #finishRunning(): void {
    this.#running = false;
    const signal = this.#signal;
    if (signal === undefined) return;
    signal.removeEventListener('abort', this);
    this.#signal = undefined;
    if (this.#killTimer !== undefined) {
      this.ctx.opts.clock.clearTimeout(this.#killTimer);
      this.#killTimer = undefined;
    }
  }

  /** The signal's abort listener (an object listener: no closure per statement). */
  handleEvent(): void {
    const signal = this.#signal;
    if (signal === undefined || !this.#running) return;
    const byDeadline =
      isBallastError(signal.reason, 'BALLAST_DEADLINE_EXCEEDED') ||
      (isBallastError(signal.reason, 'BALLAST_SHED') && signal.reason.reason === 'deadline') ||
      this.#deadlineAt <= this.ctx.opts.clock.now();
    this.cancel(byDeadline ? 'deadline' : 'abort');
  }

  /**
   * Sends a CancelRequest for the running statement, marks the connection to be destroyed on release, and
   * destroys its socket if the statement still runs `cancelGraceMs` later (an unreachable server).
   */
  cancel(reason: 'deadline' | 'abort'): void {
    if (this.#cancelSent || !this.#running) return;
    this.#cancelSent = true;
    this.doomed = true;
    const internals = this.client as unknown as ClientInternals;
    this.ctx.onCancel(this, reason);
    if (internals.processID !== null && internals.secretKey !== null) {
      sendCancelRequest(
        {
          host: this.client.host,
          port: this.client.port,
          processID: internals.processID,
          secretKey: internals.secretKey,
        },
        Math.max(1, this.ctx.opts.connectTimeoutMs),
      ).catch((error: unknown) => this.ctx.onCancelFailed(this, error));
    }
    if (this.ctx.opts.cancelGraceMs > 0)
      this.#killTimer = this.ctx.opts.clock.setTimeout(this.#kill, this.ctx.opts.cancelGraceMs);
  }

  #killStuck(): void {
    this.#killTimer = undefined;
    if (!this.#running) return;
    const stream = (this.client as unknown as ClientInternals).connection?.stream;
    stream?.destroy(
      new Error(
        `pg-pool ${this.host}: statement still running ${this.ctx.opts.cancelGraceMs} ms after its cancel request; connection closed`,
      ),
    );
  }
}

/** One checkout of a connection: the handle a caller holds. Releasing it twice is a no-op. */
export class Lease implements PooledConnection {
  #conn: Conn | undefined;
  readonly client: pg.Client;
  readonly host: HostName;

  constructor(conn: Conn) {
    this.#conn = conn;
    this.client = conn.client;
    this.host = conn.ctx.opts.name;
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
  ): Promise<pg.QueryResult<R>> {
    const conn = this.#conn;
    if (conn === undefined)
      return Promise.reject(new Error(`pg-pool ${this.host}: query on a released connection`));
    return conn.query<R>(text, values, deadlineAt, signal);
  }

  submit<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    deadlineAt: number,
    signal: SignalLike | undefined,
    done: SubmitCallback<pg.QueryResult<R>>,
  ): void {
    const conn = this.#conn;
    if (conn === undefined)
      done(new Error(`pg-pool ${this.host}: query on a released connection`), undefined);
    else conn.submit<R>(text, values, deadlineAt, signal, done);
  }

  release(destroy?: boolean | Error): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    conn.ctx.release(conn, destroy);
  }
}

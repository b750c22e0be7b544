import {
  type AttemptContext,
  BallastError,
  createPolicy,
  type EndSignal,
  gradient2Limit,
  type Limiter,
  type Policy,
  type Priority,
} from '@ballast/core';
import type pg from 'pg';
import { createHostPool } from './host-pool.js';
import { maskUrl } from './mask.js';
import type { ResolvedClusterOptions } from './options.js';
import { breaksConnection, hostFailure } from './pg-errors.js';
import { PeakEwma, replicaCost } from './routing.js';
import type { HostHealth, HostName, HostPool, PooledConnection, Statement } from './types.js';

/**
 * The RTT growth, in ms beyond Gradient2's ratio, a host's limit tolerates: with it, a healthy loopback server
 * takes all 32 statements of a closed loop at once (limit at the pool's max) instead of 9–12, which cost 15 % more
 * client CPU a query and 10 % of throughput; a brownout (tens of ms more) still shrinks the limit at once.
 */
const HOST_TOLERANCE_MS = 2;
/**
 * A host's limit moves on the mean RTT of 100 ms windows, not on every statement: every statement in flight
 * during an event-loop stall of the client comes back late at once, and per statement that cut the limit to a
 * third (measured: 32 → 8 within 100 ms on a healthy loopback server) for a delay the server did not cause.
 */
const HOST_LIMIT_WINDOW_MS = 100;

/** How a statement runs on one host. */
export interface RunOptions {
  priority?: Priority | undefined;
  deadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
  idempotent?: boolean | undefined;
}

/** What the cluster believes a host is. */
export type HostRole = 'primary' | 'replica' | 'unknown';

/** A log-safe name: `host:port/database`. */
export function hostName(connectionString: string): HostName {
  try {
    const u = new URL(connectionString);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return maskUrl(connectionString);
  }
}

/**
 * One PostgreSQL server of the cluster: its pool, its policy (breaker + adaptive limiter; the cluster retries
 * across hosts itself), what health checks and reads taught us about it, and its routing statistics.
 */
export class Host {
  readonly name: HostName;
  readonly pool: HostPool;
  readonly policy: Policy;
  /** What this host is believed to be; 'unknown' after an error that may mean a topology change. */
  role: HostRole;
  /** The last successful health check, or a newer replay position learned from a read. */
  health: HostHealth | undefined = undefined;
  /** Consecutive failed health checks (0: the last one succeeded). */
  healthFailures = 0;
  readonly latency: PeakEwma;
  outstanding = 0;
  readonly #clock: ResolvedClusterOptions['clock'];

  constructor(
    readonly connectionString: string,
    listedAs: 'primary' | 'replica',
    options: ResolvedClusterOptions,
  ) {
    this.name = hostName(connectionString);
    // The listed primary is trusted for writes until a check says otherwise; a replica serves reads only once a
    // health check has confirmed it (role, position, lag).
    this.role = listedAs === 'primary' ? 'primary' : 'unknown';
    const { pool, clock, random } = options;
    this.#clock = clock;
    this.pool = createHostPool({
      connectionString,
      name: this.name,
      min: pool.min,
      max: pool.max,
      maxWaiting: pool.maxWaiting,
      connectTimeoutMs: pool.connectTimeoutMs,
      lifetimeMs: pool.lifetimeMs,
      validateAfterIdleMs: pool.validateAfterIdleMs,
      holdWarningMs: pool.holdWarningMs,
      serverTimeouts: pool.serverTimeouts,
      clock,
      random,
    });
    this.policy = createPolicy({
      name: this.name,
      clock,
      timeoutMs: options.timeoutMs,
      breaker: { random, ...options.policy.breaker, isFailure: hostFailure },
      // Admission matches the pool: never more in flight than connections the pool may open.
      limiter: {
        name: this.name,
        limit: gradient2Limit({
          initialLimit: Math.min(20, pool.max),
          maxLimit: pool.max,
          minLimit: 1,
          // Queueing at the server that adds under 2 ms is not worth queueing here instead (see toleranceMs).
          toleranceMs: HOST_TOLERANCE_MS,
          windowMs: HOST_LIMIT_WINDOW_MS,
          clock,
        }),
        ...options.policy.limiter,
      },
      retry: false,
    });
    this.latency = new PeakEwma();
    // The pool grows toward the host's adaptive concurrency limit, never past pool.max.
    const limiter = this.policy.limiter as Partial<Limiter> | undefined;
    if (limiter?.on !== undefined && typeof limiter.limit === 'number') {
      // Grow with the limit, never shrink on a dip: the limit swings (Gradient2 probes halve it), and closing
      // connections on every dip meant reopening them moments later (SCRAM authentication costs milliseconds of
      // CPU each: measured 512 connections opened for 48,000 SELECT 1). Idle connections above `pool.min` close
      // after the pool's idle timeout instead.
      let target = Math.ceil(limiter.limit);
      this.pool.setTarget(target);
      limiter.on('limit-change', (e) => {
        if (e.to > target) {
          target = e.to;
          this.pool.setTarget(target);
        }
      });
    }
  }

  /** Known to accept reads as a standby, with a recent health check. */
  get isReplica(): boolean {
    return this.role === 'replica' && this.healthFailures === 0 && this.health !== undefined;
  }

  /**
   * Runs one statement on this host under its policy; the connection goes back to the pool or is destroyed.
   * `recover` answers a failed call in place of its rejection (the cluster's retry on the primary) without a
   * promise of its own when the statement succeeds.
   */
  run<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    options: RunOptions,
    recover?: (error: unknown) => Promise<pg.QueryResult<R>>,
  ): Promise<pg.QueryResult<R>> {
    const start = this.#clock.now();
    const callerSignal = options.signal;
    return this.policy.executeCallback<pg.QueryResult<R>>(
      (ctx, done) => this.#attempt<R>(text, values, ctx, callerSignal, start, done),
      options,
      recover,
    );
  }

  /**
   * The statement on a connection. With an idle connection at hand it runs on pg's callback API, answering
   * `done` from pg's callback: the call's only promise is the policy's. Otherwise it waits for a connection.
   * `outstanding` counts statements holding or awaiting a connection of this host; the latency sample runs from
   * the call (limiter queue included).
   */
  #attempt<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    ctx: AttemptContext,
    callerSignal: AbortSignal | undefined,
    start: number,
    done: (error: unknown, result?: pg.QueryResult<R>) => void,
  ): void {
    // endSignal, not signal: it ends at the same moment (deadline or caller abort) without an AbortController.
    const ends =
      ctx.deadlineAt === Number.POSITIVE_INFINITY && callerSignal === undefined ? undefined : ctx.endSignal;
    this.outstanding++;
    // Only a statement that can still run takes the fast path; the pool's acquire answers the others (shed, aborted).
    const conn =
      ends?.aborted === true || ctx.deadlineAt <= this.#clock.now() ? undefined : this.pool.tryAcquire();
    if (conn === undefined) {
      this.#attemptQueued<R>(text, values, ctx, ends, start).then((result) => done(undefined, result), done);
      return;
    }
    conn.submit<R>(text, values, ctx.deadlineAt, ends, (error, result) => {
      if (error === undefined) {
        conn.release();
        this.#succeeded(start);
        done(undefined, result);
      } else done(this.#failed(conn, error, ends, ctx));
    });
  }

  async #attemptQueued<R extends pg.QueryResultRow>(
    text: Statement<R>,
    values: readonly unknown[] | undefined,
    ctx: AttemptContext,
    ends: EndSignal | undefined,
    start: number,
  ): Promise<pg.QueryResult<R>> {
    let conn: PooledConnection;
    try {
      conn = await this.pool.acquire(ctx.deadlineAt, ends);
    } catch (error) {
      this.outstanding--;
      throw error;
    }
    try {
      const result = await conn.query<R>(text, values, ctx.deadlineAt, ends);
      conn.release();
      this.#succeeded(start);
      return result;
    } catch (error) {
      throw this.#failed(conn, error, ends, ctx);
    }
  }

  /** Releases (or destroys) the connection after a failed statement; returns the error the caller sees. */
  #failed(conn: PooledConnection, error: unknown, ends: EndSignal | undefined, ctx: AttemptContext): unknown {
    conn.release(breaksConnection(error) || ends?.aborted === true);
    this.outstanding--;
    return deadlineFromServer(error, ctx.remainingMs(), this.name);
  }

  #succeeded(start: number): void {
    this.outstanding--;
    const end = this.#clock.now();
    this.latency.record(end - start, end);
  }

  /**
   * Routing cost: peak-EWMA latency × (outstanding + 1), counting the statements waiting in the host's limiter
   * too (`outstanding` counts those holding or awaiting a connection).
   */
  cost(nowMs: number): number {
    const queued = (this.policy.limiter as { queued?: unknown } | undefined)?.queued;
    return replicaCost(
      this.latency.value(nowMs),
      this.outstanding + (typeof queued === 'number' ? queued : 0),
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * The pool sets `statement_timeout` from the remaining deadline, so the server may end a statement (57014) a
 * moment before the client-side deadline fires: that is the caller's deadline, and says so.
 */
export function deadlineFromServer(error: unknown, remainingMs: number, source: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== '57014' || remainingMs > 20) return error;
  return new BallastError('BALLAST_DEADLINE_EXCEEDED', `${source}: deadline exceeded (statement_timeout)`, {
    retryable: false,
    cause: error,
    source,
  });
}

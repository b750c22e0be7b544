import { BallastError } from '@ballast/core';
import type pg from 'pg';
import type { CallOptions } from './cluster.js';
import { deadlineFromServer, type Host } from './host.js';
import { breaksConnection } from './pg-errors.js';
import type { PooledConnection, SignalLike } from './types.js';

/** Options of {@link Cluster.transaction}. */
export interface TransactionOptions extends CallOptions {
  /** @default PostgreSQL's default ('read committed') */
  isolation?: 'read committed' | 'repeatable read' | 'serializable' | undefined;
  /** BEGIN … READ ONLY. @default false */
  readOnly?: boolean | undefined;
  /**
   * Run the whole transaction again on a serialization failure or deadlock (40001, 40P01): `true` for up to 3
   * attempts, or the number of attempts. Never after an ambiguous COMMIT (connection lost while committing).
   * @default false
   */
  retryOnSerializationFailure?: boolean | number | undefined;
}

/** What the transaction function receives: statements on the transaction's pinned connection. */
export interface TransactionClient {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
}

const ISOLATION = new Set(['read committed', 'repeatable read', 'serializable']);

/** Errors thrown by COMMIT itself when the connection broke: the transaction may or may not have committed. */
const ambiguous = new WeakSet<object>();

/** True when a transaction failed while committing and its outcome is unknown: never retry it automatically. */
export function isAmbiguousCommit(error: unknown): boolean {
  return typeof error === 'object' && error !== null && ambiguous.has(error);
}

function beginStatement(options: TransactionOptions): string {
  let sql = 'BEGIN';
  if (options.isolation !== undefined) {
    if (!ISOLATION.has(options.isolation)) {
      throw new BallastError(
        'BALLAST_INVALID_ARGUMENT',
        `Invalid option isolation: expected 'read committed', 'repeatable read' or 'serializable', received ${String(options.isolation)}`,
      );
    }
    sql += ` ISOLATION LEVEL ${options.isolation.toUpperCase()}`;
  }
  if (options.readOnly === true) sql += ' READ ONLY';
  return sql;
}

/**
 * Runs `fn` in one transaction on `host`, pinned to one connection for its whole life, under the host's policy
 * (deadline and admission apply to the whole transaction).
 */
export async function runTransaction<T>(
  host: Host,
  fn: (tx: TransactionClient) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  const begin = beginStatement(options);
  const retry = options.retryOnSerializationFailure;
  const attempts = retry === true ? 3 : typeof retry === 'number' ? Math.max(1, Math.floor(retry)) : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await host.policy.execute(
        async (ctx) => {
          const conn = await host.pool.acquire(ctx.deadlineAt, ctx.endSignal);
          try {
            return await once(conn, begin, fn, ctx.deadlineAt, ctx.endSignal);
          } catch (error) {
            throw deadlineFromServer(error, ctx.remainingMs(), host.name);
          }
        },
        {
          priority: options.priority,
          deadlineMs: options.deadlineMs,
          signal: options.signal,
          idempotent: false,
        },
      );
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      const serialization = code === '40001' || code === '40P01';
      if (!serialization || attempt >= attempts || isAmbiguousCommit(error)) throw error;
    }
  }
}

async function once<T>(
  conn: PooledConnection,
  begin: string,
  fn: (tx: TransactionClient) => Promise<T>,
  deadlineAt: number,
  signal: SignalLike,
): Promise<T> {
  let open = false;
  try {
    await conn.query(begin, undefined, deadlineAt, signal);
    open = true;
    const tx: TransactionClient = {
      query: (text, values) => conn.query(text, values, deadlineAt, signal),
    };
    const result = await fn(tx);
    try {
      await conn.query('COMMIT', undefined, deadlineAt, signal);
    } catch (error) {
      // Lost while committing: it may have committed. A server-side error (e.g. 40001 at commit) is not ambiguous.
      if (breaksConnection(error) && typeof error === 'object' && error !== null) ambiguous.add(error);
      open = false;
      throw error;
    }
    open = false;
    conn.release();
    return result;
  } catch (error) {
    let broken = breaksConnection(error) || signal.aborted;
    if (open && !broken) {
      try {
        await conn.query('ROLLBACK', undefined, deadlineAt, signal);
      } catch {
        broken = true;
      }
    }
    conn.release(broken || open);
    throw error;
  }
}

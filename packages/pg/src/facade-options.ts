import { BallastError, PRIORITIES, type Priority } from '@ballast/core';
import type { Session } from './session.js';

/** Options of `cluster.asPool()`. */
export interface PoolFacadeOptions {
  /**
   * Where `pool.query` sends plain reads (a lone `SELECT` / `WITH … SELECT` without locks, writes or side-effect
   * functions; see `isPlainRead`). Everything else, and every statement on a `pool.connect()` client, goes to the
   * primary.
   * - `primary`: every statement to the primary (what a pg.Pool on the primary does);
   * - `eventual`: plain reads to a replica within `routing.maxReplicaLagMs`, else the primary;
   * - `session`: plain reads to a replica that has replayed this facade's writes (read-your-writes across the
   *   facade's `pool.query` calls and released `pool.connect()` clients), through `session` or, without one, a
   *   session the facade creates for itself.
   * @default 'session' when `session` is given, else 'primary'
   */
  reads?: 'primary' | 'eventual' | 'session' | undefined;
  /** Priority of every statement and `connect()` for admission control. @default 'interactive' */
  priority?: Priority | undefined;
  /**
   * Deadline of each `pool.query` statement (cancelled on the server when it passes), and the longest
   * `pool.connect()` waits for admission and a connection. Statements on a connected client have none, as on pg.
   * @default the cluster's `timeoutMs`
   */
  deadlineMs?: number | undefined;
  /** A read-your-writes session to route `pool.query` through (its writes advance it). @default none */
  session?: Session | undefined;
  /**
   * `pool.end()` also closes the cluster. Otherwise it only stops this facade (the cluster is shared: close it
   * with `cluster.close()`), which is what a Kysely `destroy()` or a test teardown on one facade should do.
   * @default false
   */
  endClosesCluster?: boolean | undefined;
}

/** Defaults of {@link PoolFacadeOptions}. */
export const DEFAULT_POOL_FACADE = Object.freeze({
  reads: 'primary',
  priority: 'interactive',
  endClosesCluster: false,
} as const);

/** @internal */
export interface ResolvedPoolFacadeOptions {
  reads: 'primary' | 'eventual' | 'session';
  priority: Priority;
  deadlineMs: number | undefined;
  session: Session | undefined;
  endClosesCluster: boolean;
}

function invalid(option: string, value: unknown, expected: string): BallastError {
  const shown = typeof value === 'string' || typeof value === 'number' ? String(value) : typeof value;
  return new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `Invalid option asPool.${option}: expected ${expected}, received ${shown}`,
  );
}

/**
 * Merges with {@link DEFAULT_POOL_FACADE} and validates.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option and the value received.
 */
export function resolvePoolFacadeOptions(options: PoolFacadeOptions = {}): ResolvedPoolFacadeOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object');
  const session = options.session;
  if (session !== undefined && (typeof session !== 'object' || typeof session.read !== 'function'))
    throw invalid('session', session, 'a Session from cluster.session()');
  const reads = options.reads ?? (session === undefined ? DEFAULT_POOL_FACADE.reads : 'session');
  if (reads !== 'primary' && reads !== 'eventual' && reads !== 'session')
    throw invalid('reads', reads, "'primary', 'eventual' or 'session'");
  const priority = options.priority ?? DEFAULT_POOL_FACADE.priority;
  if (!PRIORITIES.includes(priority)) throw invalid('priority', priority, PRIORITIES.join(' | '));
  const deadlineMs = options.deadlineMs;
  if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !(deadlineMs > 0)))
    throw invalid('deadlineMs', deadlineMs, 'a number > 0');
  const endClosesCluster = options.endClosesCluster ?? DEFAULT_POOL_FACADE.endClosesCluster;
  if (typeof endClosesCluster !== 'boolean') throw invalid('endClosesCluster', endClosesCluster, 'a boolean');
  return { reads, priority, deadlineMs, session, endClosesCluster };
}

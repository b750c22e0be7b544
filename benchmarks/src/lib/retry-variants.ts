/**
 * The clients `retry-storm` compares: the same idempotent read (`FLAKY_SQL`) on a pg.Pool of {@link POOL}
 * connections, retried naively, by cockatiel, by a Ballast policy (its retry budget) and by the Ballast cluster.
 */
import { createCircuitBreaker, createPolicy, defaultIsRetryable } from '@ballast/core';
import { createCluster } from '@ballast/pg';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import pg from 'pg';
import { endPool, rawPool } from './pg-bench.js';
import { FLAKY_SQL, TRANSIENT_SQLSTATE } from './retry-faults.js';

/** Connections of each client's pool. */
export const POOL = 10;
/** Attempts in all (the first + 3 retries) of the naive, cockatiel and `ballast` clients: "3 retries". */
export const MAX_ATTEMPTS = 4;

/** One client under test. */
export interface RetryClient {
  /** One logical request; `onAttempt` is called each time a statement is sent (unknown for the cluster). */
  call(onAttempt: () => void): Promise<unknown>;
  /** Retry decisions the client reports itself (Ballast: retries and give-up reasons), for the report. */
  retryStats?(): Record<string, number>;
  /** Breaker state changes: `performance.now()` of each and what happened, for the report. */
  breakerLog?(): { atMs: number; change: string }[];
  close(): Promise<void>;
}

export interface RetryVariant {
  id: string;
  label: string;
  /** The configuration, as code, for the report. */
  config: string;
  /** Whether `call` reports every attempt (false: only the server-side counter knows). */
  countsAttempts: boolean;
  make(url: string, index: number): RetryClient;
}

/**
 * `FLAKY_SQL` on a connection of `pool`, which goes back to the pool unless the error broke it. `pool.query`
 * would close the connection on any error, a 40001 included (pg-pool's `client.release(err)`): at 20 % errors
 * that is ~50 new connections a second per client (fork + SCRAM), which saturated the 2-core server and measured
 * connection churn instead of retries. An ERROR-severity answer leaves the connection ready for the next query.
 */
function query(pool: pg.Pool, values: unknown[]): Promise<pg.QueryResult> {
  return pool.connect().then((client) =>
    client.query(FLAKY_SQL, values).then(
      (result) => {
        client.release();
        return result;
      },
      (error: unknown) => {
        const healthy = error instanceof pg.DatabaseError && error.severity === 'ERROR';
        client.release(healthy ? undefined : (error as Error));
        throw error;
      },
    ),
  );
}

/** Serialization failures are transient: core's default classifier leaves database errors alone, so add them. */
function isRetryable(error: unknown, remainingMs: number): boolean {
  return defaultIsRetryable(error, remainingMs) || (error as { code?: unknown }).code === TRANSIENT_SQLSTATE;
}

/** A Ballast policy around a pg.Pool, with its retry decisions counted. */
function policyClient(url: string, index: number, options: Parameters<typeof createPolicy>[0]): RetryClient {
  const pool = rawPool({ connectionString: url, max: POOL });
  const policy = createPolicy(options);
  const decisions: Record<string, number> = {};
  policy.retry?.on('retry', () => {
    decisions.retried = (decisions.retried ?? 0) + 1;
  });
  policy.retry?.on('give-up', (e) => {
    const key = `gaveUp:${e.reason}`;
    decisions[key] = (decisions[key] ?? 0) + 1;
  });
  const values = [index];
  const execute = { idempotent: true };
  return {
    call: (onAttempt) =>
      policy.execute(() => {
        onAttempt();
        return query(pool, values);
      }, execute),
    retryStats: () => ({ ...decisions, budgetAvailableAtEnd: policy.stats().retryBudget?.available ?? -1 }),
    close: () => endPool(pool),
  };
}

export const VARIANTS: readonly RetryVariant[] = [
  {
    id: 'naive',
    label: 'naive: pg.Pool, 3 immediate retries',
    config: `for (let a = 1; ; a++) try { return await query(pool) } catch (e) { if (a === ${MAX_ATTEMPTS}) throw e } — query(): pool.connect(), client.query, release (kept on an ERROR)`,
    countsAttempts: true,
    make(url, index) {
      const pool = rawPool({ connectionString: url, max: POOL });
      const values = [index];
      return {
        async call(onAttempt) {
          for (let attempt = 1; ; attempt++) {
            onAttempt();
            try {
              return await query(pool, values);
            } catch (error) {
              if (attempt >= MAX_ATTEMPTS) throw error;
            }
          }
        },
        close: () => endPool(pool),
      };
    },
  },
  {
    id: 'cockatiel',
    label: 'cockatiel: retry(handleAll, 3, exponential)',
    config: `retry(handleAll, { maxAttempts: ${MAX_ATTEMPTS - 1}, backoff: new ExponentialBackoff() }) (3 retries; 128 ms initial, decorrelated jitter)`,
    countsAttempts: true,
    make(url, index) {
      const pool = rawPool({ connectionString: url, max: POOL });
      const policy = retry(handleAll, { maxAttempts: MAX_ATTEMPTS - 1, backoff: new ExponentialBackoff() });
      const values = [index];
      return {
        call: (onAttempt) =>
          policy.execute(() => {
            onAttempt();
            return query(pool, values);
          }),
        close: () => endPool(pool),
      };
    },
  },
  {
    id: 'ballast',
    label: 'ballast: createPolicy retry + budget',
    config: `createPolicy({ breaker: false, limiter: false, retry: { maxAttempts: ${MAX_ATTEMPTS}, isRetryable: default || 40001 } }) — default budget (20 % + 10/s over 10 s), delays 25..1000 ms; execute(…, { idempotent: true })`,
    countsAttempts: true,
    make: (url, index) =>
      policyClient(url, index, {
        name: 'retry-storm',
        breaker: false,
        limiter: false,
        retry: { maxAttempts: MAX_ATTEMPTS, isRetryable },
      }),
  },
  {
    id: 'ballast-default',
    label: 'ballast: createPolicy defaults',
    config:
      'createPolicy({ retry: { isRetryable: default || 40001 } }) — default breaker, Gradient2 limiter, 3 attempts, budget; execute(…, { idempotent: true })',
    countsAttempts: true,
    make(url, index) {
      // the default breaker, created here only to log its state changes
      const breaker = createCircuitBreaker({ name: 'retry-storm-default' });
      const log: { atMs: number; change: string }[] = [];
      breaker.on('state-change', (e) =>
        log.push({ atMs: performance.now(), change: `${e.to} (${e.reason})` }),
      );
      const client = policyClient(url, index, {
        name: 'retry-storm-default',
        breaker,
        retry: { isRetryable },
      });
      return { ...client, breakerLog: () => log };
    },
  },
  {
    id: 'ballast-cluster',
    label: 'ballast: createCluster query',
    config: `createCluster({ primary, pool: { max: ${POOL} } }).query(sql, values, { idempotent: true }) — retries a 40001 once, on the primary`,
    countsAttempts: false,
    make(url, index) {
      const db = createCluster({ primary: url, pool: { max: POOL } });
      const values = [index];
      const options = { idempotent: true };
      return {
        call: () => db.query(FLAKY_SQL, values, options),
        close: () => db.close(),
      };
    },
  },
];

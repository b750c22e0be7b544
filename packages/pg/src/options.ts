import {
  BallastError,
  type CircuitBreakerOptions,
  type Clock,
  type LimiterOptions,
  systemClock,
} from '@ballast/core';
import { DEFAULT_OUTLIER_EJECTOR, type OutlierEjectorOptions } from './routing.js';

function invalid(option: string, value: unknown, expected: string): BallastError {
  const shown =
    typeof value === 'string' ? '(a string)' : typeof value === 'number' ? String(value) : typeof value;
  return new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `Invalid option ${option}: expected ${expected}, received ${shown}`,
  );
}

/** Pool options of every host (see HostPoolOptions for the full meaning). */
export interface ClusterPoolOptions {
  /** Connections opened at start and kept. @default 0 */
  min?: number | undefined;
  /** Most connections per host; the host's adaptive limit moves the pool's size below it. @default 20 */
  max?: number | undefined;
  /** Callers waiting for a connection per host before `BALLAST_SHED` ('queue-full'). @default 1000 */
  maxWaiting?: number | undefined;
  /** Time to open a connection. @default 5000 */
  connectTimeoutMs?: number | undefined;
  /** A connection's life (±10 % jitter). @default 1_800_000 */
  lifetimeMs?: number | undefined;
  /** Validate a connection idle longer than this before reuse. @default 30_000 */
  validateAfterIdleMs?: number | undefined;
  /** Warn (`held-too-long` event) when a connection or transaction is held longer than this. @default 5000 */
  holdWarningMs?: number | undefined;
  /**
   * Let the server enforce deadlines too (`statement_timeout` following each call's remaining deadline). Set
   * `false` behind a transaction-mode pooler such as PgBouncer: it runs the `SET` and the statement on different
   * backends, so the setting would leak to other clients. Deadlines then rest on cancel requests alone.
   * @default true
   */
  serverTimeouts?: boolean | undefined;
}

/** Routing and health options. */
export interface RoutingOptions {
  /** `eventual` reads skip replicas lagging more than this behind the primary. @default 10_000 */
  maxReplicaLagMs?: number | undefined;
  /**
   * Share of a `session` read's remaining deadline it may spend waiting for a replica to replay the session's
   * position before reading from the primary. @default 0.25
   */
  sessionWaitShare?: number | undefined;
  /** Most a `session` read waits for a replica to catch up, whatever its deadline. @default 250 */
  sessionWaitMaxMs?: number | undefined;
  /** Health poll of every host. @default 500 */
  healthIntervalMs?: number | undefined;
  /** Poll interval while a host is failing or no writable primary is known. @default 200 */
  healthFastIntervalMs?: number | undefined;
  /** A health check slower than this fails. @default 400 */
  healthTimeoutMs?: number | undefined;
  /**
   * Outlier ejection of replicas: after `consecutiveFailures` reads failed on a replica because of the host
   * (connection lost, server errors of classes 53, 58, XX — not the statement's own errors), it takes no reads for
   * `n × baseEjectionMs` (its n-th ejection, at most `maxEjectionMs`), and at most `maxEjectedFraction` of the
   * replicas are out at once. @default { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000,
   * maxEjectedFraction: 0.5 }
   */
  ejection?: OutlierEjectorOptions | undefined;
}

/** See {@link ClusterOptions.policy}. */
export interface HostPolicyOptions {
  breaker?: Omit<CircuitBreakerOptions, 'isFailure' | 'clock' | 'random' | 'name'> | undefined;
  limiter?: Omit<LimiterOptions, 'clock' | 'name'> | undefined;
}

/** Options of {@link createCluster}. */
export interface ClusterOptions {
  /** Connection URL of the primary (credentials are never logged or put in errors). */
  primary: string;
  /** Connection URLs of the read replicas. A listed replica that gets promoted becomes the primary. @default [] */
  replicas?: readonly string[] | undefined;
  /** Deadline of calls that do not pass `deadlineMs`. @default 10_000 */
  timeoutMs?: number | undefined;
  pool?: ClusterPoolOptions | undefined;
  routing?: RoutingOptions | undefined;
  /**
   * Each host's policy, merged over Ballast's: `breaker` options of `@ballast/core`'s circuit breaker (its
   * `isFailure` stays the host classifier: connection loss and server-side failures count, a caller's SQL error
   * does not) and `limiter` options of its adaptive limiter (`partitions`, `codel`, `lifo`, `maxQueue`,
   * `expectedServiceTime`, or `limit` to replace the host's Gradient2 — keep it at most `pool.max`).
   * @default {}
   */
  policy?: HostPolicyOptions | undefined;
  /** Time source (tests pass a ManualClock only to pure parts; integration uses the real clock). @default systemClock */
  clock?: Clock | undefined;
  /** Source of randomness for replica choice and jitter. @default Math.random */
  random?: (() => number) | undefined;
}

export interface ResolvedClusterOptions {
  primary: string;
  replicas: readonly string[];
  timeoutMs: number;
  pool: Required<{ [K in Exclude<keyof ClusterPoolOptions, 'serverTimeouts'>]-?: number }> & {
    serverTimeouts: boolean;
  };
  routing: Required<{ [K in Exclude<keyof RoutingOptions, 'ejection'>]-?: number }> & {
    ejection: Required<{ [K in keyof OutlierEjectorOptions]-?: number }>;
  };
  policy: HostPolicyOptions;
  clock: Clock;
  random: () => number;
}

/** Defaults of {@link ClusterOptions}. */
export const DEFAULT_CLUSTER = Object.freeze({
  timeoutMs: 10_000,
  pool: Object.freeze({
    min: 0,
    max: 20,
    maxWaiting: 1000,
    connectTimeoutMs: 5000,
    lifetimeMs: 1_800_000,
    validateAfterIdleMs: 30_000,
    holdWarningMs: 5000,
    serverTimeouts: true,
  }),
  routing: Object.freeze({
    maxReplicaLagMs: 10_000,
    sessionWaitShare: 0.25,
    sessionWaitMaxMs: 250,
    healthIntervalMs: 500,
    healthFastIntervalMs: 200,
    healthTimeoutMs: 400,
  }),
});

function url(option: string, value: unknown): string {
  if (typeof value !== 'string' || !/^postgres(ql)?:\/\//.test(value)) {
    throw invalid(option, value, 'a postgres:// connection URL');
  }
  return value;
}

function bool(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(option, value, 'a boolean');
  return value;
}

function num(option: string, value: unknown, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw invalid(
      option,
      value,
      max === Number.POSITIVE_INFINITY ? `a number >= ${min}` : `a number in [${min}, ${max}]`,
    );
  }
  return value;
}

function ejectionOptions(e: OutlierEjectorOptions): ResolvedClusterOptions['routing']['ejection'] {
  const d = DEFAULT_OUTLIER_EJECTOR;
  const baseEjectionMs = num('routing.ejection.baseEjectionMs', e.baseEjectionMs ?? d.baseEjectionMs, 1);
  const consecutiveFailures = num(
    'routing.ejection.consecutiveFailures',
    e.consecutiveFailures ?? d.consecutiveFailures,
    1,
  );
  if (!Number.isInteger(consecutiveFailures))
    throw invalid('routing.ejection.consecutiveFailures', consecutiveFailures, 'an integer >= 1');
  return {
    consecutiveFailures,
    baseEjectionMs,
    maxEjectionMs: num(
      'routing.ejection.maxEjectionMs',
      e.maxEjectionMs ?? Math.max(d.maxEjectionMs, baseEjectionMs),
      baseEjectionMs,
    ),
    maxEjectedFraction: num(
      'routing.ejection.maxEjectedFraction',
      e.maxEjectedFraction ?? d.maxEjectedFraction,
      0,
      1,
    ),
  };
}

/**
 * Merges options with {@link DEFAULT_CLUSTER} and validates them.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option (values of URLs are never echoed).
 */
export function resolveClusterOptions(options: ClusterOptions): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null) throw invalid('cluster', options, 'an options object');
  const replicas = options.replicas ?? [];
  if (!Array.isArray(replicas)) throw invalid('cluster.replicas', replicas, 'an array of URLs');
  const p = options.pool ?? {};
  const r = options.routing ?? {};
  const dp = DEFAULT_CLUSTER.pool;
  const dr = DEFAULT_CLUSTER.routing;
  const min = num('pool.min', p.min ?? dp.min, 0);
  const resolved: ResolvedClusterOptions = {
    primary: url('cluster.primary', options.primary),
    replicas: replicas.map((u, i) => url(`cluster.replicas[${i}]`, u)),
    timeoutMs: num('cluster.timeoutMs', options.timeoutMs ?? DEFAULT_CLUSTER.timeoutMs, 1),
    pool: {
      min,
      max: num('pool.max', p.max ?? Math.max(dp.max, min), Math.max(1, min)),
      maxWaiting: num('pool.maxWaiting', p.maxWaiting ?? dp.maxWaiting, 0),
      connectTimeoutMs: num('pool.connectTimeoutMs', p.connectTimeoutMs ?? dp.connectTimeoutMs, 1),
      lifetimeMs: num('pool.lifetimeMs', p.lifetimeMs ?? dp.lifetimeMs, 1),
      validateAfterIdleMs: num(
        'pool.validateAfterIdleMs',
        p.validateAfterIdleMs ?? dp.validateAfterIdleMs,
        0,
      ),
      holdWarningMs: num('pool.holdWarningMs', p.holdWarningMs ?? dp.holdWarningMs, 1),
      serverTimeouts: bool('pool.serverTimeouts', p.serverTimeouts ?? dp.serverTimeouts),
    },
    routing: {
      maxReplicaLagMs: num('routing.maxReplicaLagMs', r.maxReplicaLagMs ?? dr.maxReplicaLagMs, 0),
      sessionWaitShare: num('routing.sessionWaitShare', r.sessionWaitShare ?? dr.sessionWaitShare, 0, 1),
      sessionWaitMaxMs: num('routing.sessionWaitMaxMs', r.sessionWaitMaxMs ?? dr.sessionWaitMaxMs, 0),
      healthIntervalMs: num('routing.healthIntervalMs', r.healthIntervalMs ?? dr.healthIntervalMs, 10),
      healthFastIntervalMs: num(
        'routing.healthFastIntervalMs',
        r.healthFastIntervalMs ?? dr.healthFastIntervalMs,
        10,
      ),
      healthTimeoutMs: num('routing.healthTimeoutMs', r.healthTimeoutMs ?? dr.healthTimeoutMs, 10),
      ejection: ejectionOptions(r.ejection ?? {}),
    },
    policy: hostPolicyOptions(options.policy ?? {}),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  };
  return resolved;
}

/**
 * The objects are checked here; their fields by `@ballast/core` when each host builds its policy. Each host builds
 * its own breaker, limit algorithm and estimator from these options: an instance would be shared by every host
 * (one host's latency moving every host's limit), so instances are refused. Keys set to `undefined` are dropped,
 * so they do not replace the host's own defaults.
 */
function hostPolicyOptions(policy: unknown): HostPolicyOptions {
  if (typeof policy !== 'object' || policy === null) throw invalid('cluster.policy', policy, 'an object');
  const { breaker, limiter } = policy as HostPolicyOptions;
  if (breaker !== undefined && (typeof breaker !== 'object' || breaker === null))
    throw invalid('cluster.policy.breaker', breaker, 'an options object');
  if (typeof (breaker as { acquire?: unknown } | undefined)?.acquire === 'function')
    throw invalid(
      'cluster.policy.breaker',
      'a breaker instance',
      'breaker options (each host builds its own)',
    );
  if (limiter !== undefined && (typeof limiter !== 'object' || limiter === null))
    throw invalid('cluster.policy.limiter', limiter, 'an options object');
  const l = limiter as Record<string, unknown> | undefined;
  if (typeof (l as { tryAcquire?: unknown } | undefined)?.tryAcquire === 'function')
    throw invalid(
      'cluster.policy.limiter',
      'a limiter instance',
      'limiter options (each host builds its own)',
    );
  if (typeof l?.limit === 'object' && l.limit !== null)
    throw invalid(
      'cluster.policy.limiter.limit',
      'an algorithm instance',
      "a number or 'gradient2' | 'aimd' | 'vegas'",
    );
  if (typeof (l?.expectedServiceTime as { onSample?: unknown } | undefined)?.onSample === 'function')
    throw invalid('cluster.policy.limiter.expectedServiceTime', 'an estimator instance', 'options or false');
  return { breaker: defined(breaker), limiter: defined(limiter) };
}

function defined<T extends object>(o: T | undefined): T | undefined {
  if (o === undefined) return undefined;
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

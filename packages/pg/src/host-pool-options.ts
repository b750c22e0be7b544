import { type Clock, systemClock } from '@ballast/core';
import type pg from 'pg';
import { invalidArgument } from './host-pool-errors.js';
import type { HostName } from './types.js';

/** Options of {@link createHostPool}. Durations are in milliseconds of the pool's clock. */
export interface HostPoolOptions {
  /** Where to connect: a connection string, or a pg ClientConfig (its `options`, if any, are kept). */
  connectionString?: string | undefined;
  /** A pg ClientConfig, used when `connectionString` is not given (or merged under it). */
  config?: pg.ClientConfig | undefined;
  /** Log-safe name of the host. @default `host:port/database` from the connection settings */
  name?: HostName | undefined;
  /** Connections kept open even when idle, opened in the background at start. @default 0 */
  min?: number | undefined;
  /** Most connections open at once (idle + busy + connecting). @default 20 */
  max?: number | undefined;
  /** Most connections being opened at once. @default 2 */
  maxConnecting?: number | undefined;
  /** Most callers waiting for a connection; one more is shed with `queue-full`. @default 1000 */
  maxWaiting?: number | undefined;
  /** Connect timeout (pg's `connectionTimeoutMillis`). @default 5000 */
  connectTimeoutMs?: number | undefined;
  /** Lifetime of a connection, ±10 % jitter each; one past it is closed on release. `0`: unlimited. @default 1_800_000 */
  lifetimeMs?: number | undefined;
  /** An idle connection unused for longer is checked with `SELECT 1` before reuse. `0`: never. @default 30_000 */
  validateAfterIdleMs?: number | undefined;
  /** How long that check may take before the connection counts as dead. @default 1_000 */
  validateTimeoutMs?: number | undefined;
  /** Idle connections above `min` are closed after this long unused. `0`: never. @default 60_000 */
  idleTimeoutMs?: number | undefined;
  /** Emit `held-too-long` once per checkout held longer than this. `0`: off. @default 5_000 */
  holdWarningMs?: number | undefined;
  /** The connection's default `statement_timeout`, set at connect as a startup parameter. `0`: none. @default 0 */
  statementTimeoutMs?: number | undefined;
  /**
   * Let the server enforce deadlines too: `statement_timeout` as a startup parameter and a `SET` when a call's
   * remaining deadline needs it. Turn off behind a transaction-mode pooler (PgBouncer): it ignores startup
   * parameters and runs the `SET` and the statement on different backends, so a `SET` would leak to other
   * clients. Deadlines then rest on cancel requests, which poolers forward.
   * @default true
   */
  serverTimeouts?: boolean | undefined;
  /**
   * After a cancel request, how long a statement may still run before its socket is destroyed (the server may be
   * unreachable, so the cancel never lands). @default 1_000
   */
  cancelGraceMs?: number | undefined;
  /** TCP keepalive on every connection. @default true */
  keepAlive?: boolean | undefined;
  /** Idle time before the first keepalive probe. @default 10_000 */
  keepAliveInitialDelayMillis?: number | undefined;
  /** Time source and timers. @default systemClock */
  clock?: Clock | undefined;
  /** Random numbers in [0, 1) for the lifetime jitter. @default Math.random */
  random?: (() => number) | undefined;
}

/** Defaults of {@link HostPoolOptions}. */
export const DEFAULT_HOST_POOL = Object.freeze({
  min: 0,
  max: 20,
  maxConnecting: 2,
  maxWaiting: 1000,
  connectTimeoutMs: 5_000,
  lifetimeMs: 30 * 60_000,
  validateAfterIdleMs: 30_000,
  validateTimeoutMs: 1_000,
  idleTimeoutMs: 60_000,
  holdWarningMs: 5_000,
  statementTimeoutMs: 0,
  serverTimeouts: true,
  cancelGraceMs: 1_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
});

/** Options after defaults and validation. */
export interface ResolvedHostPoolOptions {
  readonly clientConfig: pg.ClientConfig;
  readonly name: HostName;
  readonly min: number;
  readonly max: number;
  readonly maxConnecting: number;
  readonly maxWaiting: number;
  readonly connectTimeoutMs: number;
  readonly lifetimeMs: number;
  readonly validateAfterIdleMs: number;
  readonly validateTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly holdWarningMs: number;
  readonly statementTimeoutMs: number;
  readonly serverTimeouts: boolean;
  readonly cancelGraceMs: number;
  readonly clock: Clock;
  readonly random: () => number;
}

function int(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw invalidArgument(option, value, `an integer >= ${min}`);
  return value;
}

function ms(option: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || value === Number.POSITIVE_INFINITY)
    throw invalidArgument(option, value, 'a finite number of ms >= 0');
  return value;
}

/** A log-safe `host:port/database` for the settings pg will use. */
function defaultName(cfg: pg.ClientConfig): HostName {
  if (cfg.connectionString !== undefined) {
    try {
      const u = new URL(cfg.connectionString);
      const host = u.searchParams.get('host') ?? u.hostname ?? 'localhost';
      return `${host || 'localhost'}:${u.port || 5432}${u.pathname || '/'}`;
    } catch {
      return 'postgres';
    }
  }
  return `${cfg.host ?? 'localhost'}:${cfg.port ?? 5432}/${cfg.database ?? ''}`;
}

/**
 * Merges `options` with {@link DEFAULT_HOST_POOL} and validates them.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option and the value received.
 */
export function resolveHostPoolOptions(options: HostPoolOptions): ResolvedHostPoolOptions {
  const d = DEFAULT_HOST_POOL;
  const base: pg.ClientConfig = { ...(options.config ?? {}) };
  if (options.connectionString !== undefined) {
    if (typeof options.connectionString !== 'string' || options.connectionString === '')
      throw invalidArgument('connectionString', options.connectionString, 'a non-empty string');
    base.connectionString = options.connectionString;
  } else if (options.config === undefined) {
    throw invalidArgument('connectionString', undefined, 'a connection string or a config');
  }
  const min = int('min', options.min ?? d.min, 0);
  const max = int('max', options.max ?? d.max, 1);
  if (min > max) throw invalidArgument('min', min, `an integer <= max (${max})`);
  const statementTimeoutMs = Math.ceil(
    ms('statementTimeoutMs', options.statementTimeoutMs ?? d.statementTimeoutMs),
  );
  const keepAlive = options.keepAlive ?? d.keepAlive;
  if (typeof keepAlive !== 'boolean') throw invalidArgument('keepAlive', keepAlive, 'a boolean');
  const serverTimeouts = options.serverTimeouts ?? d.serverTimeouts;
  if (typeof serverTimeouts !== 'boolean')
    throw invalidArgument('serverTimeouts', serverTimeouts, 'a boolean');
  const connectTimeoutMs = ms('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs);
  const clientConfig: pg.ClientConfig = {
    ...base,
    keepAlive,
    keepAliveInitialDelayMillis: ms(
      'keepAliveInitialDelayMillis',
      options.keepAliveInitialDelayMillis ?? d.keepAliveInitialDelayMillis,
    ),
    connectionTimeoutMillis: connectTimeoutMs,
  };
  if (statementTimeoutMs > 0 && serverTimeouts) {
    const prior = typeof base.options === 'string' && base.options !== '' ? `${base.options} ` : '';
    clientConfig.options = `${prior}-c statement_timeout=${statementTimeoutMs}`;
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function')
    throw invalidArgument('clock', clock, 'a Clock');
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw invalidArgument('random', random, 'a function');
  const name = options.name ?? defaultName(clientConfig);
  if (typeof name !== 'string' || name === '') throw invalidArgument('name', name, 'a non-empty string');
  return {
    clientConfig,
    name,
    min,
    max,
    maxConnecting: int('maxConnecting', options.maxConnecting ?? d.maxConnecting, 1),
    maxWaiting: int('maxWaiting', options.maxWaiting ?? d.maxWaiting, 0),
    connectTimeoutMs,
    lifetimeMs: ms('lifetimeMs', options.lifetimeMs ?? d.lifetimeMs),
    validateAfterIdleMs: ms('validateAfterIdleMs', options.validateAfterIdleMs ?? d.validateAfterIdleMs),
    validateTimeoutMs: ms('validateTimeoutMs', options.validateTimeoutMs ?? d.validateTimeoutMs),
    idleTimeoutMs: ms('idleTimeoutMs', options.idleTimeoutMs ?? d.idleTimeoutMs),
    holdWarningMs: ms('holdWarningMs', options.holdWarningMs ?? d.holdWarningMs),
    statementTimeoutMs,
    serverTimeouts,
    cancelGraceMs: ms('cancelGraceMs', options.cancelGraceMs ?? d.cancelGraceMs),
    clock,
    random,
  };
}

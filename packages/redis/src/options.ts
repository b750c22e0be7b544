import {
  type BreakerLike,
  type CircuitBreakerOptions,
  type Clock,
  type HedgeOptions,
  type LimiterLike,
  type LimiterOptions,
  type RetryOptions,
  systemClock,
} from '@ballast/core';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { secretList, urlSecrets } from './mask.js';
import {
  checkClient,
  checkFinite,
  checkIoredisOptions,
  checkNumber,
  checkPart,
  checkUrl,
  fail,
  isInstance,
  isObject,
} from './option-checks.js';

/** An ioredis client: a standalone `Redis` or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** Where reads go unless a call says otherwise (`{ replica: true | false }`). */
export type ReadFrom = 'primary' | 'replica';

/**
 * Options of {@link createRedis}. Give exactly one connection source: `url` (optionally with `options`),
 * `options` alone, or `client`.
 */
export interface RedisClientOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. Never logged with its password. */
  url?: string | undefined;
  /**
   * An ioredis `Redis` or `Cluster` the caller created and owns: Ballast does not change its settings (except to
   * install a `READONLY` reconnect when it has no `reconnectOnError`) and does not close it. Configure it as
   * `IOREDIS_SAFE_OPTIONS` does; a client with ioredis' defaults retries a lost command up to 20 times.
   */
  client?: RedisClient | undefined;
  /**
   * ioredis options of the client Ballast creates (host, port, password, tls, db, …), on top of
   * `IOREDIS_SAFE_OPTIONS`; with `url`, the URL's fields win. `enableOfflineQueue: true` and
   * `maxRetriesPerRequest: null` are refused (they queue or hold commands without bound).
   */
  options?: RedisOptions | undefined;
  /**
   * URLs of read-only replicas (e.g. the replicas a Sentinel setup exposes). Reads go there with `replica: true`
   * or `readFrom: 'replica'`; each gets its own connection, breaker and limiter.
   * @default []
   */
  replicas?: readonly string[] | undefined;
  /** Where reads go when a call does not say. @default 'primary' */
  readFrom?: ReadFrom | undefined;
  /** Names the client in errors (`source`), events and policy stats. @default 'redis' */
  name?: string | undefined;
  /** Deadline of every call that passes no `deadlineMs`, in ms (`Infinity`: none). @default 1000 */
  timeoutMs?: number | undefined;
  /**
   * The circuit breaker of each connection: options for Ballast's (merged over Redis defaults: `slowCallDurationMs`
   * = `timeoutMs`, a classifier that ignores the command's own errors such as `WRONGTYPE`), an instance (not
   * with `replicas`: each connection needs its own), or `false`.
   * @default {}
   */
  breaker?: CircuitBreakerOptions | BreakerLike | false | undefined;
  /**
   * The adaptive concurrency limiter of each connection: options (merged over Gradient2 with
   * {@link DEFAULT_REDIS_LIMIT}), an instance (not with `replicas`), or `false`.
   * @default {}
   */
  limiter?: LimiterOptions | LimiterLike | false | undefined;
  /**
   * Retries within the deadline: options (merged over Redis classifiers: a write is retried only when Redis
   * refused it or it was never sent, unless `idempotent`), or `false`.
   * @default {} (3 attempts, 20 % retry budget)
   */
  retry?: RetryOptions | false | undefined;
  /** Hedging of idempotent reads (core's `HedgeOptions`), or `false`. @default false */
  hedge?: HedgeOptions | false | undefined;
  /** ioredis `connectTimeout` of the connections Ballast creates, in ms. @default 2000 */
  connectTimeoutMs?: number | undefined;
  /** First reconnect delay in ms; it doubles on each failed attempt, with jitter. @default 50 */
  reconnectBaseDelayMs?: number | undefined;
  /** Longest reconnect delay in ms. @default 2000 */
  reconnectMaxDelayMs?: number | undefined;
  /** TCP keep-alive initial delay in ms (ioredis `keepAlive`). @default 10000 */
  keepAliveMs?: number | undefined;
  /** ioredis `enableAutoPipelining` for the connections Ballast creates. @default false */
  autoPipelining?: boolean | undefined;
  /**
   * Sends the commands issued in one tick in one socket write (the socket is corked until the tick's callbacks
   * are done) instead of one write per command. Unlike auto-pipelining it never waits for an earlier batch's
   * replies. Measured (GET, 32 in flight): 1.4x the throughput of raw ioredis at 0.6x its CPU per GET.
   * @default true
   */
  coalesceWrites?: boolean | undefined;
  /**
   * Calls that may wait, each within its deadline, for a connection attempt in progress (the first connect, or
   * a reconnect under way). More, and any call while no attempt is under way, fail at once with
   * `BALLAST_NO_HEALTHY_HOST`. This is the bounded stand-in for ioredis' offline queue, which is off.
   * @default 1000
   */
  maxConnectWaiters?: number | undefined;
  /**
   * A connection whose oldest pending command has had no reply for this long is closed (and reopened), so its
   * commands fail instead of hanging on a silent network. Blocking commands (`BLPOP`, `WAIT`, …) are exempt.
   * `Infinity` turns the watchdog off.
   * @default 2000
   */
  stallTimeoutMs?: number | undefined;
  /** Period of the watchdog and of the health `PING` sent while a breaker is open, in ms. @default 250 */
  healthCheckIntervalMs?: number | undefined;
  /** A health `PING` answered within this many ms closes the way to recovery (breaker to half-open). @default 250 */
  healthCheckTimeoutMs?: number | undefined;
  /** `close()` waits this long for `QUIT` before it drops the connections. @default 1000 */
  closeTimeoutMs?: number | undefined;
  /** Time source. @default systemClock */
  clock?: Clock | undefined;
  /** Uniform random source in [0, 1) for jitter. @default Math.random */
  random?: (() => number) | undefined;
}

/** Defaults of {@link RedisClientOptions}. */
export const DEFAULT_REDIS_CLIENT = Object.freeze({
  name: 'redis',
  readFrom: 'primary' as ReadFrom,
  timeoutMs: 1000,
  connectTimeoutMs: 2000,
  reconnectBaseDelayMs: 50,
  reconnectMaxDelayMs: 2000,
  keepAliveMs: 10_000,
  autoPipelining: false,
  coalesceWrites: true,
  maxConnectWaiters: 1000,
  stallTimeoutMs: 2000,
  healthCheckIntervalMs: 250,
  healthCheckTimeoutMs: 250,
  closeTimeoutMs: 1000,
});

/** Gradient2 bounds of each connection's limiter: one multiplexed connection serves many commands at once. */
export const DEFAULT_REDIS_LIMIT = Object.freeze({ initialLimit: 100, minLimit: 8, maxLimit: 1000 });

/** Options after defaults and validation. */
export interface ResolvedRedisClientOptions {
  readonly name: string;
  /** The connection source: a caller's client, or what to build one from. */
  readonly client: RedisClient | undefined;
  readonly url: string | undefined;
  readonly options: RedisOptions | undefined;
  readonly replicas: readonly string[];
  readonly readFrom: ReadFrom;
  readonly timeoutMs: number;
  readonly breaker: CircuitBreakerOptions | BreakerLike | false;
  readonly limiter: LimiterOptions | LimiterLike | false;
  readonly retry: RetryOptions | false;
  readonly hedge: HedgeOptions | false;
  readonly connectTimeoutMs: number;
  readonly reconnectBaseDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly keepAliveMs: number;
  readonly autoPipelining: boolean;
  readonly coalesceWrites: boolean;
  readonly maxConnectWaiters: number;
  readonly stallTimeoutMs: number;
  readonly healthCheckIntervalMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  /** Passwords to mask wherever text leaves the client, longest first. */
  readonly secrets: readonly string[];
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'url',
  'client',
  'options',
  'replicas',
  ...Object.keys(DEFAULT_REDIS_CLIENT),
  'breaker',
  'limiter',
  'retry',
  'hedge',
  'clock',
  'random',
]);

const NONE: ReadonlySet<string> = new Set();

/**
 * Merges `options` with {@link DEFAULT_REDIS_CLIENT} and validates every field. An unknown option is refused (a
 * typo such as `timeout` would otherwise be ignored), except those in `otherOptions`: options of other parts of
 * `createRedis` (the cache-aside's), which validate their own.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option and the value received
 *   (a URL with its password masked).
 */
export function resolveRedisClientOptions(
  options: RedisClientOptions,
  otherOptions: ReadonlySet<string> = NONE,
): ResolvedRedisClientOptions {
  if (!isObject(options)) return fail('options', options, 'an object ({ url } | { client } | { options })');
  for (const key of Object.keys(options))
    if (!KNOWN_OPTIONS.has(key) && !otherOptions.has(key))
      fail(key, options[key as keyof RedisClientOptions], 'no such option (a typo?)');
  const d = DEFAULT_REDIS_CLIENT;
  const o = options;
  const client = o.client === undefined ? undefined : checkClient(o.client);
  const url = o.url === undefined ? undefined : checkUrl('url', o.url);
  const ioOptions = o.options === undefined ? undefined : checkIoredisOptions(o.options);
  if (client !== undefined && (url !== undefined || ioOptions !== undefined))
    fail(
      'client',
      'an ioredis client',
      'alone: not with url or options (configure the client instead)',
      'a client',
    );
  if (client === undefined && url === undefined && ioOptions === undefined)
    fail('url', undefined, 'one of url, options or client');
  const rawReplicas = o.replicas ?? [];
  if (!Array.isArray(rawReplicas)) fail('replicas', rawReplicas, 'an array of redis:// URLs');
  const replicas = rawReplicas.map((r: unknown, i) => checkUrl(`replicas[${i}]`, r));
  const readFrom = o.readFrom ?? d.readFrom;
  if (readFrom !== 'primary' && readFrom !== 'replica') fail('readFrom', readFrom, "'primary' or 'replica'");
  const name = o.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0) fail('name', name, 'a non-empty string');
  const breaker = checkPart<CircuitBreakerOptions | BreakerLike>('breaker', o.breaker);
  const limiter = checkPart<LimiterOptions | LimiterLike>('limiter', o.limiter);
  if (replicas.length > 0) {
    if (isInstance(breaker, 'acquire'))
      fail(
        'breaker',
        breaker,
        'options (each of the primary and replicas needs a breaker of its own)',
        'an instance',
      );
    if (isInstance(limiter, 'tryAcquire'))
      fail(
        'limiter',
        limiter,
        'options (each of the primary and replicas needs a limiter of its own)',
        'an instance',
      );
  }
  const clock: unknown = o.clock ?? systemClock;
  if (!isObject(clock) || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function')
    fail('clock', clock, 'a Clock ({ now(), setTimeout(fn, ms), clearTimeout(h) })');
  const random = o.random ?? Math.random;
  if (typeof random !== 'function') fail('random', random, 'a function returning a number in [0, 1)');
  const autoPipelining = o.autoPipelining ?? d.autoPipelining;
  if (typeof autoPipelining !== 'boolean') fail('autoPipelining', autoPipelining, 'a boolean');
  const coalesceWrites = o.coalesceWrites ?? d.coalesceWrites;
  if (typeof coalesceWrites !== 'boolean') fail('coalesceWrites', coalesceWrites, 'a boolean');
  const reconnectBaseDelayMs = checkFinite(
    'reconnectBaseDelayMs',
    o.reconnectBaseDelayMs ?? d.reconnectBaseDelayMs,
    1,
  );
  const maxConnectWaiters: unknown = o.maxConnectWaiters ?? d.maxConnectWaiters;
  if (typeof maxConnectWaiters !== 'number' || !Number.isInteger(maxConnectWaiters) || maxConnectWaiters < 0)
    fail('maxConnectWaiters', maxConnectWaiters, 'an integer >= 0');
  return {
    name,
    client,
    url,
    options: ioOptions,
    replicas,
    readFrom,
    timeoutMs: checkNumber('timeoutMs', o.timeoutMs ?? d.timeoutMs, 1),
    breaker,
    limiter,
    retry: checkPart<RetryOptions>('retry', o.retry),
    hedge: o.hedge === undefined ? false : checkPart<HedgeOptions>('hedge', o.hedge),
    connectTimeoutMs: checkFinite('connectTimeoutMs', o.connectTimeoutMs ?? d.connectTimeoutMs, 1),
    reconnectBaseDelayMs,
    reconnectMaxDelayMs: checkFinite(
      'reconnectMaxDelayMs',
      o.reconnectMaxDelayMs ?? Math.max(d.reconnectMaxDelayMs, reconnectBaseDelayMs),
      reconnectBaseDelayMs,
    ),
    keepAliveMs: checkFinite('keepAliveMs', o.keepAliveMs ?? d.keepAliveMs, 0),
    autoPipelining,
    coalesceWrites,
    maxConnectWaiters,
    stallTimeoutMs: checkNumber('stallTimeoutMs', o.stallTimeoutMs ?? d.stallTimeoutMs, 1),
    healthCheckIntervalMs: checkFinite(
      'healthCheckIntervalMs',
      o.healthCheckIntervalMs ?? d.healthCheckIntervalMs,
      1,
    ),
    healthCheckTimeoutMs: checkFinite(
      'healthCheckTimeoutMs',
      o.healthCheckTimeoutMs ?? d.healthCheckTimeoutMs,
      1,
    ),
    closeTimeoutMs: checkFinite('closeTimeoutMs', o.closeTimeoutMs ?? d.closeTimeoutMs, 0),
    clock: clock as unknown as Clock,
    random: random as () => number,
    secrets: secretList(
      ...urlSecrets(url),
      ...replicas.flatMap(urlSecrets),
      ioOptions?.password,
      (client?.options as { password?: unknown; redisOptions?: { password?: unknown } } | undefined)
        ?.password,
      (client?.options as { redisOptions?: { password?: unknown } } | undefined)?.redisOptions?.password,
    ),
  };
}

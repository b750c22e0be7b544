import {
  type BallastError,
  type Clock,
  type Policy,
  type PolicyOptions,
  PRIORITIES,
  type Priority,
  preciseClock,
  systemClock,
} from '@ballast/core';
import type { NearCacheSettings } from './near-cache.js';
import { invalidArgument } from './redis-errors.js';
import { jsonSerializer, type Serializer } from './serializer.js';
import type { CacheStore } from './store.js';

/** Options of the near cache: an LRU of decoded values in this process's memory, in front of Redis. */
export interface NearCacheOptions {
  /** Entries held at most; the least recently used is evicted first. @default 10000 */
  max?: number | undefined;
  /**
   * How long a value is answered from memory before Redis is asked again, in ms (never past the value's own
   * `ttlMs`). It also bounds how long this process keeps answering a value that another process invalidated.
   * @default 5000
   */
  ttlMs?: number | undefined;
  /**
   * Bound on the summed serialized length (UTF-16 code units) of the values held; a longer value is not held.
   * @default undefined (bounded by `max` only)
   */
  maxSize?: number | undefined;
}

/** Defaults of {@link NearCacheOptions}. */
export const DEFAULT_NEAR_CACHE = Object.freeze({ max: 10_000, ttlMs: 5_000, maxSize: undefined });

/**
 * The loader's own policy when none is given: at most 16 loader calls in flight per cache-aside (the rest queue,
 * bounded, or are shed with `BALLAST_SHED`), no breaker and no retries (the database client has its own), and a
 * 30 s deadline for loads that no caller's deadline bounds (background refreshes). Options given in
 * `loaderPolicy` are merged over these.
 */
export const DEFAULT_LOADER_POLICY: Readonly<PolicyOptions> = Object.freeze({
  limiter: Object.freeze({ limit: 16 }),
  breaker: false,
  retry: false,
  timeoutMs: 30_000,
});

/** Options of {@link createCacheAside}. */
export interface CacheAsideOptions {
  /** Where envelopes are read and written: the Redis client (`createRedis`) or any {@link CacheStore}. */
  store: CacheStore;
  /** Names the cache-aside in errors (`source`), events and stats; the loader policy is `<name>-loader`. @default 'cached' */
  name?: string | undefined;
  /** The near cache's options, or `false` for none (single-flight still applies). @default {} */
  nearCache?: NearCacheOptions | false | undefined;
  /** Turns values into strings and back. @default jsonSerializer */
  serializer?: Serializer | undefined;
  /**
   * The policy every loader call runs under — above all its concurrency limit, which keeps a Redis outage from
   * becoming a stampede on the database: options merged over {@link DEFAULT_LOADER_POLICY}, or a `Policy` to share.
   * @default DEFAULT_LOADER_POLICY
   */
  loaderPolicy?: PolicyOptions | Policy | undefined;
  /**
   * Deadline of each Redis read and write `cached()` makes, in ms; a read never outlives the call's own deadline
   * either. @default undefined (the store's own, e.g. the client's `timeoutMs`)
   */
  redisTimeoutMs?: number | undefined;
  /** Time source of freshness, deadlines and the near cache. @default systemClock */
  clock?: Clock | undefined;
  /** Randomness of the TTL jitter: a number in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
  /**
   * Added to `clock.now()` to stamp envelopes in epoch ms, which every process sharing Redis compares (their wall
   * clocks should agree, as NTP keeps them). Tests with a `ManualClock` pass `0`.
   * @default Date.now() - clock.now(), read once at creation
   */
  epochOffsetMs?: number | undefined;
}

/** Per-call options of `cached()`. */
export interface CachedOptions {
  /** How long a loaded value is fresh, in ms (> 0, finite), before jitter. Required. */
  ttlMs: number;
  /** After `ttlMs`, how long the old value is still answered while one background refresh runs, in ms. @default 0 */
  staleWhileRevalidateMs?: number | undefined;
  /** After `ttlMs`, how long the old value is answered when Redis or the loader fails, in ms. @default 0 */
  staleIfErrorMs?: number | undefined;
  /** Each TTL is shortened by a random share of up to `jitter` (in [0, 1)), so keys do not expire together. @default 0.1 */
  jitter?: number | undefined;
  /** Priority of the Redis read and of the loader call; background refreshes run at `'background'`. @default 'interactive' */
  priority?: Priority | undefined;
  /** The call's deadline in ms from now (`Infinity`: none). A value already in memory is answered even past it. @default undefined (none) */
  deadlineMs?: number | undefined;
  /** Aborts this caller's wait (`BALLAST_ABORTED`); the shared load goes on for the other callers. */
  signal?: AbortSignal | undefined;
}

/** Defaults of the optional {@link CachedOptions}. */
export const DEFAULT_CACHED = Object.freeze({
  staleWhileRevalidateMs: 0,
  staleIfErrorMs: 0,
  jitter: 0.1,
  priority: 'interactive' as Priority,
});

/** {@link CachedOptions} validated, with defaults applied. */
export interface ResolvedCachedOptions {
  readonly ttlMs: number;
  readonly staleWhileRevalidateMs: number;
  readonly staleIfErrorMs: number;
  readonly jitter: number;
  readonly priority: Priority;
  /** `Infinity` when none. */
  readonly deadlineMs: number;
  readonly signal: AbortSignal | undefined;
}

/** {@link CacheAsideOptions} validated, with defaults applied (the loader policy is built by the caller). */
export interface ResolvedCacheAsideOptions {
  readonly store: CacheStore;
  readonly name: string;
  readonly nearCache: NearCacheSettings;
  readonly nearCacheOn: boolean;
  readonly serializer: Serializer;
  readonly loaderPolicy: PolicyOptions | Policy;
  readonly redisTimeoutMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly epochOffsetMs: number;
}

/**
 * Validates the options of {@link createCacheAside} and applies the defaults.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option and the value received.
 */
export function resolveCacheAsideOptions(options: CacheAsideOptions): ResolvedCacheAsideOptions {
  const o = object('cacheAside', options) as unknown as CacheAsideOptions;
  const store = object('cacheAside.store', o.store) as unknown as CacheStore;
  for (const method of ['getRaw', 'setRaw', 'delRaw'] as const) {
    if (typeof store[method] !== 'function')
      throw invalid(`cacheAside.store.${method}`, store[method], 'a function');
  }
  const name = o.name ?? 'cached';
  if (typeof name !== 'string' || name === '') throw invalid('cacheAside.name', name, 'a non-empty string');
  const near =
    o.nearCache === false ? {} : (object('cacheAside.nearCache', o.nearCache ?? {}) as NearCacheOptions);
  const max = integer('cacheAside.nearCache.max', near.max ?? DEFAULT_NEAR_CACHE.max, 1);
  const maxSize =
    near.maxSize === undefined ? undefined : integer('cacheAside.nearCache.maxSize', near.maxSize, 1);
  const serializer = o.serializer ?? jsonSerializer;
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function')
    throw invalid('cacheAside.serializer', serializer, 'a { serialize(value), deserialize(text) } object');
  const clock = o.clock ?? systemClock;
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function')
    throw invalid('cacheAside.clock', clock, 'a Clock ({ now(), setTimeout(fn, ms), clearTimeout(h) })');
  const random = o.random ?? Math.random;
  if (typeof random !== 'function') throw invalid('cacheAside.random', random, 'a function');
  return {
    store,
    name,
    nearCache: {
      max,
      ttlMs: duration('cacheAside.nearCache.ttlMs', near.ttlMs ?? DEFAULT_NEAR_CACHE.ttlMs, 1),
      maxSize,
    },
    nearCacheOn: o.nearCache !== false,
    serializer,
    loaderPolicy: object('cacheAside.loaderPolicy', o.loaderPolicy ?? {}) as PolicyOptions | Policy,
    redisTimeoutMs:
      o.redisTimeoutMs === undefined ? Infinity : duration('cacheAside.redisTimeoutMs', o.redisTimeoutMs, 1),
    clock,
    random,
    epochOffsetMs:
      o.epochOffsetMs === undefined
        ? // systemClock answers the time of the turn's first read: late in a busy turn that is stale, and the
          // offset would stamp every value too fresh for the cache's whole life. preciseClock shares its origin.
          Date.now() - (clock === systemClock ? preciseClock.now() : clock.now())
        : finite('cacheAside.epochOffsetMs', o.epochOffsetMs),
  };
}

/**
 * Validates the per-call options of `cached()` without allocating (a near-cache hit needs nothing more).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option and the value received.
 */
export function checkCachedOptions(options: CachedOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('cached.options', options, 'an object');
  const {
    ttlMs,
    staleWhileRevalidateMs: swr,
    staleIfErrorMs: sie,
    jitter,
    priority,
    deadlineMs,
    signal,
  } = options;
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || ttlMs === Infinity)
    throw invalid('cached.ttlMs', ttlMs, 'a finite number of ms > 0');
  if (swr !== undefined) duration('cached.staleWhileRevalidateMs', swr, 0);
  if (sie !== undefined) duration('cached.staleIfErrorMs', sie, 0);
  if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)))
    throw invalid('cached.jitter', jitter, 'a number in [0, 1)');
  if (priority !== undefined && !PRIORITIES.includes(priority))
    throw invalid('cached.priority', priority, `one of ${PRIORITIES.join(', ')}`);
  if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || Number.isNaN(deadlineMs)))
    throw invalid('cached.deadlineMs', deadlineMs, 'a number of ms');
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalid('cached.signal', signal, 'an AbortSignal');
}

/**
 * Validates the per-call options of `cached()` and applies the defaults.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option and the value received.
 */
export function resolveCachedOptions(options: CachedOptions): ResolvedCachedOptions {
  checkCachedOptions(options);
  return {
    ttlMs: options.ttlMs,
    staleWhileRevalidateMs: options.staleWhileRevalidateMs ?? DEFAULT_CACHED.staleWhileRevalidateMs,
    staleIfErrorMs: options.staleIfErrorMs ?? DEFAULT_CACHED.staleIfErrorMs,
    jitter: options.jitter ?? DEFAULT_CACHED.jitter,
    priority: options.priority ?? DEFAULT_CACHED.priority,
    deadlineMs: options.deadlineMs ?? Infinity,
    signal: options.signal,
  };
}

/** A `BALLAST_INVALID_ARGUMENT` error naming the option, what was expected and (briefly) what was received. */
export function invalid(
  option: string,
  value: unknown,
  expected: string,
): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  return invalidArgument(`option ${option}`, value, expected);
}

function object(option: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(option, value, 'an object');
  return value as Record<string, unknown>;
}

function finite(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(option, value, 'a finite number');
  return value;
}

function duration(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw invalid(option, value, `a finite number of ms >= ${min}`);
  return value;
}

function integer(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw invalid(option, value, `an integer >= ${min}`);
  return value;
}

import {
  BallastError,
  type Clock,
  createPolicy,
  isBallastError,
  type Listener,
  type Policy,
  type Unsubscribe,
} from '@ballast/core';
import type { CacheEntry } from './cached-envelope.js';
import { type CacheAsideEvents, CacheAsideObserver, type CacheAsideStats } from './cached-events.js';
import { type Answer, Flights, type Loader, newest } from './cached-flight.js';
import {
  type CacheAsideOptions,
  type CachedOptions,
  checkCachedOptions,
  DEFAULT_LOADER_POLICY,
  invalid,
  type ResolvedCachedOptions,
  resolveCacheAsideOptions,
  resolveCachedOptions,
} from './cached-options.js';
import { EnvelopeStore } from './cached-store.js';
import { NearCache } from './near-cache.js';
import type { CommandOptions } from './store.js';

export type { Loader, LoaderContext } from './cached-flight.js';

/** A cache-aside over Redis with a near cache, single-flight, stale-while-revalidate and stale-if-error. */
/**
 * How long a caller waits for a key held by a loader that has already failed its deadline (and ignores its
 * signal) before it answers from Redis or a stale value instead: the default loader policy's timeout.
 */
const STUCK_LOADER_WAIT_MS = 30_000;

export interface CacheAside {
  readonly name: string;
  /** The policy loader calls run under (its limiter bounds the loader calls in flight). */
  readonly loaderPolicy: Policy;
  /**
   * The value cached at `key`, or the loader's (then stored). Near cache → Redis → loader; see README-cached.md.
   * @throws BallastError `BALLAST_INVALID_ARGUMENT` for an invalid key, loader or option, or a value the serializer
   *   cannot store (the key named, never the value); `BALLAST_DEADLINE_EXCEEDED` or `BALLAST_ABORTED` for this
   *   caller's deadline or signal; otherwise the loader's error (or its policy's `BALLAST_SHED`, …), unchanged,
   *   when no older value is allowed to answer instead.
   */
  cached<T>(key: string, loader: Loader<T>, options: CachedOptions): Promise<T>;
  /**
   * Forgets `key`: here at once, then in Redis (after any write of it still in progress). A load already running
   * for it is answered to its callers but not stored; later callers wait for it to end and load again. Other
   * processes' near caches keep their copy up to their `nearCache.ttlMs`.
   * @throws the store's error when the Redis delete fails (the near cache is cleared anyway).
   */
  invalidate(key: string, options?: CommandOptions): Promise<void>;
  stats(): CacheAsideStats;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof CacheAsideEvents>(event: K, listener: Listener<CacheAsideEvents[K]>): Unsubscribe;
}

/**
 * Creates a cache-aside over `store`. The Redis client exposes it as `redis.cached()`.
 * @example
 * const cache = createCacheAside({ store: redis, nearCache: { max: 5_000, ttlMs: 2_000 } });
 * const user = await cache.cached(`user:${id}`, ({ signal }) => db.read(sql, [id], { signal }), {
 *   ttlMs: 60_000, staleWhileRevalidateMs: 10_000, staleIfErrorMs: 300_000,
 * });
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option.
 */
export function createCacheAside(options: CacheAsideOptions): CacheAside {
  return new CacheAsideEngine(options);
}

class CacheAsideEngine implements CacheAside {
  readonly name: string;
  readonly loaderPolicy: Policy;
  readonly #clock: Clock;
  readonly #epochOffsetMs: number;
  readonly #near: NearCache | undefined;
  readonly #store: EnvelopeStore;
  readonly #flights: Flights;
  readonly #observer: CacheAsideObserver;
  /** No breaker, limiter or retry: only core's deadline wheel and signals, to bound waits without a timer each. */
  readonly #bound: Policy;

  constructor(options: CacheAsideOptions) {
    const o = resolveCacheAsideOptions(options);
    const { clock, name } = o;
    this.name = name;
    this.#clock = clock;
    this.#epochOffsetMs = o.epochOffsetMs;
    this.#observer = new CacheAsideObserver(name);
    this.#near = o.nearCacheOn ? new NearCache(o.nearCache) : undefined;
    const lp = o.loaderPolicy;
    this.loaderPolicy = isPolicy(lp)
      ? lp
      : createPolicy({ name: `${name}-loader`, clock, ...DEFAULT_LOADER_POLICY, ...lp });
    this.#bound = createPolicy({ name, clock, breaker: false, limiter: false, retry: false });
    this.#store = new EnvelopeStore(
      o.store,
      o.serializer,
      this.#bound,
      clock,
      o.redisTimeoutMs,
      this.#observer,
    );
    this.#flights = new Flights({
      name,
      clock,
      now: () => this.#now(),
      near: this.#near,
      store: this.#store,
      loaderPolicy: this.loaderPolicy,
      serializer: o.serializer,
      random: o.random,
      observer: this.#observer,
    });
  }

  cached<T>(key: string, loader: Loader<T>, options: CachedOptions): Promise<T> {
    try {
      checkKey(key);
      if (typeof loader !== 'function') throw invalid('cached.loader', loader, 'a function');
      checkCachedOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const counts = this.#observer.counts;
    counts.calls++;
    const now = this.#now();
    const record = this.#near?.get(key, now);
    if (record !== undefined) {
      const { entry } = record;
      if (now < record.checkedUntil) {
        counts.nearHits++;
        return Promise.resolve(entry.value as T);
      }
      if (now >= entry.freshUntil && now < entry.swrUntil) {
        counts.staleRevalidate++;
        if (this.#flights.get(key) === undefined)
          this.#flights.start(key, loader, resolveCachedOptions(options), entry, Infinity, true);
        return Promise.resolve(entry.value as T);
      }
    }
    return this.#miss(key, loader, resolveCachedOptions(options), record?.entry) as Promise<T>;
  }

  async invalidate(key: string, options: CommandOptions = {}): Promise<void> {
    checkKey(key);
    this.#near?.delete(key);
    const flight = this.#flights.get(key);
    if (flight !== undefined) flight.cancelled = true;
    await this.#store.remove(key, options);
  }

  stats(): CacheAsideStats {
    return {
      name: this.name,
      counts: { ...this.#observer.counts },
      inflight: this.#flights.size,
      nearCacheSize: this.#near?.size ?? 0,
      loader: this.loaderPolicy.stats(),
    };
  }

  on<K extends keyof CacheAsideEvents>(event: K, listener: Listener<CacheAsideEvents[K]>): Unsubscribe {
    return this.#observer.events.on(event, listener);
  }

  /** Epoch ms, the time base of envelopes. */
  #now(): number {
    return this.#clock.now() + this.#epochOffsetMs;
  }

  /** A caller without a fresh value in memory: joins the key's flight (or starts it) and waits within its deadline. */
  async #miss(key: string, loader: Loader<unknown>, o: ResolvedCachedOptions, held: CacheEntry | undefined) {
    const deadlineAt = o.deadlineMs === Infinity ? Infinity : this.#clock.now() + o.deadlineMs;
    let stuck: BallastError | undefined;
    for (;;) {
      let flight = this.#flights.get(key);
      try {
        if (flight?.ending(this.#now())) {
          // Invalidated, failed, or answered with what has since aged out: wait for the key to be free — but not
          // forever: a loader that ignores its signal and never settles would hold the key (and every caller
          // without a deadline) for good. Past STUCK_LOADER_WAIT_MS the caller answers from Redis if it can.
          const until = Math.min(deadlineAt, this.#clock.now() + STUCK_LOADER_WAIT_MS);
          try {
            await this.#wait(flight.done, until, o.signal);
          } catch (error) {
            if (until >= deadlineAt || !isDeadline(error) || this.#flights.get(key) !== flight) throw error;
            const answer = await this.#pastStuckLoader(key, o, deadlineAt, held);
            if (answer instanceof BallastError) {
              stuck = answer; // thrown after the loop: not an error of this caller's flight to retry
              break;
            }
            return this.#give(key, answer);
          }
          continue;
        }
        flight ??= this.#flights.start(key, loader, o, held, deadlineAt, false);
        return this.#give(key, flight.answer ?? (await this.#wait(flight.promise, deadlineAt, o.signal)));
      } catch (error) {
        if (o.signal?.aborted === true && isBallastError(error, 'BALLAST_ABORTED')) {
          this.#observer.counts.errors++;
          throw error;
        }
        const expired = this.#clock.now() >= deadlineAt;
        // The flight ran out of the deadline of the caller that started it; this one still has time: go again.
        if (!expired && flight !== undefined && flight.deadlineAt < deadlineAt && isDeadline(error)) continue;
        const fallback = newest(held, flight?.fallback);
        if (
          fallback !== undefined &&
          this.#now() < fallback.errorUntil &&
          !isBallastError(error, 'BALLAST_INVALID_ARGUMENT')
        )
          return this.#give(key, {
            entry: fallback,
            source: 'fallback',
            cause: expired ? 'deadline' : 'loader',
          });
        this.#observer.counts.errors++;
        throw error;
      }
    }
    this.#observer.counts.errors++;
    throw stuck;
  }

  /**
   * The key is still held by a loader that overran its deadline and ignores its signal: a fresh value in Redis
   * (another process loaded it) is answered; else a held value within its stale-if-error window; else
   * `BALLAST_DEADLINE_EXCEEDED` for the caller. The loader is not called again: one call at a time per key holds.
   */
  async #pastStuckLoader(
    key: string,
    o: ResolvedCachedOptions,
    deadlineAt: number,
    held: CacheEntry | undefined,
  ): Promise<Answer | BallastError> {
    const found = await this.#store.read(key, deadlineAt, o.priority);
    if (typeof found === 'object' && found !== null && this.#now() < found.freshUntil)
      return { entry: found, source: 'redis' };
    const fallback = newest(held, typeof found === 'object' && found !== null ? found : undefined);
    if (fallback !== undefined && this.#now() < fallback.errorUntil)
      return { entry: fallback, source: 'fallback', cause: 'loader' };
    return new BallastError(
      'BALLAST_DEADLINE_EXCEEDED',
      `${this.name}: the loader of this key has run past its deadline for ${STUCK_LOADER_WAIT_MS} ms and still holds it`,
      { retryable: true, source: this.name },
    );
  }

  #give(key: string, answer: Answer): unknown {
    const counts = this.#observer.counts;
    if (answer.source === 'fallback')
      this.#observer.fallback(key, answer.cause, this.#now() - answer.entry.freshUntil);
    else if (answer.source === 'redis') counts.redisHits++;
    else if (answer.source === 'loader') counts.loaded++;
    else counts.staleRevalidate++;
    return answer.entry.value;
  }

  /** `promise`, but this caller stops waiting at its deadline or when its signal aborts. */
  #wait<T>(promise: Promise<T>, deadlineAt: number, signal: AbortSignal | undefined): Promise<T> {
    if (deadlineAt === Infinity && signal === undefined) return promise;
    const deadlineMs = deadlineAt === Infinity ? undefined : deadlineAt - this.#clock.now();
    return this.#bound.execute(() => promise, { deadlineMs, signal });
  }
}

function isPolicy(value: object): value is Policy {
  return typeof (value as Partial<Policy>).execute === 'function';
}

function isDeadline(error: unknown): boolean {
  return isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED');
}

function checkKey(key: unknown): void {
  if (typeof key !== 'string' || key === '') throw invalid('cached.key', key, 'a non-empty string');
}

import { type AttemptContext, type Clock, isBallastError, type Policy, type Priority } from '@ballast/core';
import { type CacheEntry, entryTimes } from './cached-envelope.js';
import type { CacheAsideObserver, FallbackCause } from './cached-events.js';
import type { ResolvedCachedOptions } from './cached-options.js';
import { type EnvelopeStore, STORE_FAILED } from './cached-store.js';
import type { NearCache } from './near-cache.js';
import { type Serializer, serializeValue } from './serializer.js';

/** What a loader receives: the load's deadline and the signal that aborts when it passes. */
export type LoaderContext = Pick<AttemptContext, 'signal' | 'deadlineAt' | 'remainingMs'>;

/** Reads the value from the source of truth (the database, a model). Pass `ctx.signal` on to the driver. */
export type Loader<T> = (ctx: LoaderContext) => Promise<T> | T;

/** What a flight answered its callers with, and where it came from. */
export type Answer =
  | { readonly entry: CacheEntry; readonly source: 'redis' | 'loader' | 'revalidate' }
  | { readonly entry: CacheEntry; readonly source: 'fallback'; readonly cause: FallbackCause };

/**
 * The one piece of work in progress for a key: a Redis read, then (when Redis has nothing fresh) one loader call.
 * Every caller of the key that arrives meanwhile waits on it, so a key never has two loader calls at once.
 */
export class Flight {
  /** The first answer; rejects with the load's error when nothing can answer. Never unhandled. */
  readonly promise: Promise<Answer>;
  /** Settles (never rejects) when the flight has ended and its key is free again. */
  done: Promise<void> = Promise.resolve();
  /** The latest answer, once there is one. */
  answer: Answer | undefined;
  /** The newest older value known (near cache, or Redis past its revalidate window), for stale-if-error. */
  fallback: CacheEntry | undefined;
  /** Set by `invalidate()`: what it loads is answered to its callers but never stored. */
  cancelled = false;
  /** It rejected its callers (nothing could answer). */
  failed = false;
  /**
   * Its loader call has started and not yet settled. The loader policy stops waiting at the deadline, but a loader
   * that ignores its signal runs on: the key stays taken until then, so no second call starts beside it.
   */
  loaderRunning = false;
  loaderDone: Promise<void> = Promise.resolve();
  #resolve: (answer: Answer) => void = () => undefined;
  #reject: (error: unknown) => void = () => undefined;

  /**
   * @param deadlineAt clock ms after which its Redis read and load give up: the deadline of the caller that
   *   started it (`Infinity` for a background refresh, bounded by the store's and loader policy's own timeouts)
   */
  constructor(
    readonly deadlineAt: number,
    fallback: CacheEntry | undefined,
  ) {
    this.fallback = fallback;
    this.promise = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.promise.catch(() => undefined);
  }

  /** Answers the callers (the first answer resolves `promise`; a later one replaces `answer` for newcomers). */
  settle(answer: Answer): void {
    if (this.answer === undefined) this.#resolve(answer);
    this.answer = answer;
  }

  /** Rejects the callers, unless an answer was already given (a background load after a stale answer failed). */
  fail(error: unknown): void {
    if (this.answer !== undefined) return;
    this.failed = true;
    this.#reject(error);
  }

  /** Whether a caller arriving at `nowMs` (epoch ms) must wait for it to end rather than join it. */
  ending(nowMs: number): boolean {
    return this.cancelled || this.failed || (this.answer !== undefined && !stillUsable(this.answer, nowMs));
  }
}

/** What the flights of a cache-aside use. */
export interface FlightContext {
  readonly name: string;
  readonly clock: Clock;
  /** Epoch ms, the time base of envelopes. */
  now(): number;
  readonly near: NearCache | undefined;
  readonly store: EnvelopeStore;
  readonly loaderPolicy: Policy;
  readonly serializer: Serializer;
  readonly random: () => number;
  readonly observer: CacheAsideObserver;
}

/** The flights in progress, by key: starts them and runs them. */
export class Flights {
  readonly #byKey = new Map<string, Flight>();

  constructor(private readonly c: FlightContext) {}

  /** The flight of `key` in progress, if any. */
  get(key: string): Flight | undefined {
    return this.#byKey.get(key);
  }

  /** Keys with a flight in progress. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Starts the flight of `key`: Redis, then the loader when needed.
   * @param held the value this process holds, if any (answered when Redis is down, or when the load fails)
   * @param background a refresh no caller waits for: runs at priority `'background'` and loads even when Redis is down
   */
  start(
    key: string,
    loader: Loader<unknown>,
    o: ResolvedCachedOptions,
    held: CacheEntry | undefined,
    deadlineAt: number,
    background: boolean,
  ): Flight {
    const flight = new Flight(deadlineAt, held);
    this.#byKey.set(key, flight);
    if (background) this.c.observer.counts.refreshes++;
    // The key is released in the same turn as the final answer, so a caller resumed by it never finds this flight
    // (unless its loader ignored the deadline and still runs: then the key stays taken until it ends).
    const release = () => {
      if (this.#byKey.get(key) === flight) this.#byKey.delete(key);
    };
    const end = () => {
      if (flight.loaderRunning) void flight.loaderDone.then(release);
      else release();
      return flight.loaderDone;
    };
    flight.done = this.#run(flight, key, loader, o, background).then(
      (answer) => {
        flight.settle(answer);
        return end();
      },
      (error: unknown) => {
        flight.fail(error);
        return end();
      },
    );
    return flight;
  }

  /**
   * Redis first; the loader when Redis has nothing fresh (or nothing at all to answer with while it is down).
   * Resolves with the final answer, rejects when nothing can answer; a stale answer given on the way is settled
   * at once and the load goes on behind it.
   */
  async #run(
    flight: Flight,
    key: string,
    loader: Loader<unknown>,
    o: ResolvedCachedOptions,
    background: boolean,
  ): Promise<Answer> {
    const { near, store } = this.c;
    let priority: Priority = background ? 'background' : o.priority;
    let inBackground = background;
    const found = await store.read(key, flight.deadlineAt, priority);
    const now = this.c.now();
    if (found !== STORE_FAILED && found !== undefined) {
      flight.fallback = newest(flight.fallback, found);
      if (now < found.swrUntil) {
        if (!flight.cancelled) near?.set(key, found, now);
        if (now < found.freshUntil) return { entry: found, source: 'redis' };
        flight.settle({ entry: found, source: 'revalidate' });
        inBackground = true;
        priority = 'background';
      }
    }
    const fallback = flight.fallback;
    if (found === STORE_FAILED && !background && fallback !== undefined && now < fallback.errorUntil) {
      // Redis is down and this process still has the value: answer it and leave the database alone.
      return { entry: fallback, source: 'fallback', cause: 'redis' };
    }
    try {
      return { entry: await this.#load(flight, key, loader, o, priority, inBackground), source: 'loader' };
    } catch (error) {
      const older = flight.fallback;
      if (
        older === undefined ||
        this.c.now() >= older.errorUntil ||
        isBallastError(error, 'BALLAST_INVALID_ARGUMENT')
      )
        throw error;
      return { entry: older, source: 'fallback', cause: 'loader' };
    }
  }

  /** One loader call under the loader policy; stores what it returns (unless invalidated meanwhile). */
  async #load(
    flight: Flight,
    key: string,
    loader: Loader<unknown>,
    o: ResolvedCachedOptions,
    priority: Priority,
    background: boolean,
  ): Promise<CacheEntry> {
    const { clock, serializer, observer } = this.c;
    const started = clock.now();
    const call = (ctx: LoaderContext): Promise<unknown> => {
      observer.counts.loads++;
      const result = callLoader(loader, ctx);
      flight.loaderRunning = true;
      const ended = () => {
        flight.loaderRunning = false;
      };
      flight.loaderDone = result.then(ended, ended);
      return result;
    };
    let entry: CacheEntry;
    let payload: string;
    let now: number;
    try {
      const deadlineMs =
        background || flight.deadlineAt === Infinity ? undefined : flight.deadlineAt - started;
      const value = await this.c.loaderPolicy.execute(call, { priority, deadlineMs, idempotent: true });
      payload = serializeValue(serializer, key, value, this.c.name);
      now = this.c.now();
      const times = entryTimes(
        now,
        o.ttlMs,
        o.staleWhileRevalidateMs,
        o.staleIfErrorMs,
        o.jitter,
        this.c.random(),
      );
      // Answer the serializer's copy, so a loaded value has the shape it will have when read back from Redis.
      entry = { ...times, value: serializer.deserialize(payload), size: payload.length };
    } catch (error) {
      observer.load(key, clock.now() - started, background, false, error);
      throw error;
    }
    observer.load(key, clock.now() - started, background, true);
    if (!flight.cancelled) {
      this.c.near?.set(key, entry, now);
      this.c.store.write(key, entry, payload, now, priority);
    }
    return entry;
  }
}

/** Whether `answer` may still be given at `nowMs` (epoch ms). */
export function stillUsable(answer: Answer, nowMs: number): boolean {
  const { entry } = answer;
  if (answer.source === 'revalidate') return nowMs < entry.swrUntil;
  if (answer.source === 'fallback') return nowMs < entry.errorUntil;
  return nowMs < entry.freshUntil;
}

/** The fresher of two entries. */
export function newest(a: CacheEntry | undefined, b: CacheEntry | undefined): CacheEntry | undefined {
  if (a === undefined) return b;
  return b === undefined || a.freshUntil >= b.freshUntil ? a : b;
}

/** The loader's promise; a synchronous throw becomes a rejection. */
function callLoader(loader: Loader<unknown>, ctx: LoaderContext): Promise<unknown> {
  try {
    return Promise.resolve(loader(ctx));
  } catch (error) {
    return Promise.reject(error);
  }
}

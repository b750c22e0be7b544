import type { Clock, Policy, Priority } from '@ballast/core';
import { type CacheEntry, decodeEnvelope, encodeEnvelope } from './cached-envelope.js';
import type { CacheAsideObserver } from './cached-events.js';
import type { Serializer } from './serializer.js';
import type { CacheStore, CommandOptions } from './store.js';

/** A read that failed (Redis error, open breaker, shed, deadline), as opposed to a miss. */
export const STORE_FAILED: unique symbol = Symbol('store-failed');

/**
 * The cache-aside's side of the {@link CacheStore} seam: envelopes in, entries out, every command bounded by its
 * deadline (through core's deadline wheel: no timer per command, even if a store overran its own), every failure
 * counted and reported rather than thrown — except a failed delete, which `invalidate()` must report.
 */
export class EnvelopeStore {
  /** Writes in progress by key, so a delete can wait for them. */
  readonly #writes = new Map<string, Promise<void>>();

  /**
   * @param bound a policy with no breaker, limiter or retry: only core's deadlines
   * @param timeoutMs deadline of each command (`Infinity`: the store's own)
   */
  constructor(
    private readonly store: CacheStore,
    private readonly serializer: Serializer,
    private readonly bound: Policy,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly observer: CacheAsideObserver,
  ) {}

  /**
   * The entry at `key`: `undefined` for a miss or an unreadable value (reported as corrupt), {@link STORE_FAILED}
   * when the read failed. Never waits past half the time left before `deadlineAt` (clock ms) nor the command
   * timeout. Never throws.
   */
  async read(
    key: string,
    deadlineAt: number,
    priority: Priority,
  ): Promise<CacheEntry | undefined | typeof STORE_FAILED> {
    // Half the call's remaining time at most: the other half is the loader's, should Redis fail to answer.
    const deadlineMs = Math.min((deadlineAt - this.clock.now()) / 2, this.timeoutMs);
    this.observer.counts.redisReads++;
    let raw: unknown;
    try {
      const options = { priority, idempotent: true, deadlineMs: finite(deadlineMs) };
      raw = await this.#bounded(() => this.store.getRaw(key, options), deadlineMs);
    } catch (error) {
      this.observer.storeError(key, 'get', error);
      return STORE_FAILED;
    }
    if (raw === null || raw === undefined) return undefined;
    const decoded = typeof raw === 'string' ? decodeEnvelope(raw, this.serializer) : 'format';
    if (typeof decoded !== 'string') return decoded;
    this.observer.corrupt(key, decoded);
    return undefined;
  }

  /**
   * Stores `entry` (its serialized form `payload`) in the background, for as long as it is of any use. A failed
   * write is reported, never thrown: the next reader misses and loads.
   */
  write(key: string, entry: CacheEntry, payload: string, nowMs: number, priority: Priority): void {
    const envelope = encodeEnvelope(entry, payload);
    const ttlMs = Math.ceil(entry.errorUntil - nowMs);
    const options = { priority, deadlineMs: finite(this.timeoutMs) };
    const write: Promise<void> = this.#bounded(
      () => this.store.setRaw(key, envelope, ttlMs, options),
      this.timeoutMs,
    ).then(
      () => this.#forget(key, write),
      (error: unknown) => {
        this.observer.storeError(key, 'set', error);
        this.#forget(key, write);
      },
    );
    this.#writes.set(key, write);
  }

  /**
   * Deletes `key`, after any write of it still in progress: a write queued behind the client's admission control
   * could otherwise land after the delete and bring the value back.
   * @throws the store's error (also reported).
   */
  async remove(key: string, options: CommandOptions): Promise<void> {
    await this.#writes.get(key);
    const deadlineMs = Math.min(options.deadlineMs ?? Infinity, this.timeoutMs);
    try {
      await this.#bounded(
        () => this.store.delRaw(key, { ...options, deadlineMs: finite(deadlineMs) }),
        deadlineMs,
      );
    } catch (error) {
      this.observer.storeError(key, 'del', error);
      throw error;
    }
  }

  #forget(key: string, write: Promise<void>): void {
    if (this.#writes.get(key) === write) this.#writes.delete(key);
  }

  /** `work()`, but never waiting for it past `deadlineMs` (`Infinity`: as long as it takes). */
  #bounded<T>(work: () => Promise<T>, deadlineMs: number): Promise<T> {
    return deadlineMs === Infinity ? work() : this.bound.execute(work, { deadlineMs });
  }
}

/** `undefined` for `Infinity` (none), as the store's options expect. */
function finite(ms: number): number | undefined {
  return ms === Infinity ? undefined : ms;
}

import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './cached-envelope.js';

/** A value held in this process's memory. */
export interface NearRecord {
  readonly entry: CacheEntry;
  /** Epoch ms before which it is answered without asking Redis: the earlier of its freshness and the near TTL. */
  readonly checkedUntil: number;
}

/** Options of {@link NearCache}, validated. */
export interface NearCacheSettings {
  readonly max: number;
  readonly ttlMs: number;
  readonly maxSize: number | undefined;
}

/**
 * The near cache: lru-cache holding decoded entries by key, bounded by count (and optionally by serialized size).
 * Freshness is the entry's own (its epoch-ms times, the same in every process), not lru-cache's TTL, so reads
 * need no second clock; an entry past its last useful moment (`errorUntil`) is dropped when next read.
 *
 * Single-flight is not left to lru-cache's `fetch()`: it coalesces only while the in-flight fetch stays in the
 * cache, and an LRU eviction under many distinct keys lets a second fetch of the same key start beside the first.
 */
export class NearCache {
  readonly #lru: LRUCache<string, NearRecord>;
  readonly #ttlMs: number;

  constructor(settings: NearCacheSettings) {
    this.#ttlMs = settings.ttlMs;
    this.#lru =
      settings.maxSize === undefined
        ? new LRUCache({ max: settings.max })
        : new LRUCache({
            max: settings.max,
            maxSize: settings.maxSize,
            sizeCalculation: (record) => Math.max(1, record.entry.size),
          });
  }

  /** The record for `key` while it is still of use at `nowMs` (epoch ms); marks it recently used. */
  get(key: string, nowMs: number): NearRecord | undefined {
    const record = this.#lru.get(key);
    if (record === undefined || nowMs < record.entry.errorUntil) return record;
    this.#lru.delete(key);
    return undefined;
  }

  /** Holds `entry`, read or loaded at `nowMs` (epoch ms). */
  set(key: string, entry: CacheEntry, nowMs: number): void {
    if (nowMs >= entry.errorUntil) return;
    this.#lru.set(key, { entry, checkedUntil: Math.min(entry.freshUntil, nowMs + this.#ttlMs) });
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.#lru.delete(key);
  }

  /** Entries held (including some past use that were not read since). */
  get size(): number {
    return this.#lru.size;
  }
}

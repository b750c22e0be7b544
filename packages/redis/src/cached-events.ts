import { Events, type PolicyStats } from '@ballast/core';
import type { CorruptReason } from './cached-envelope.js';

/** Why an older value was answered. */
export type FallbackCause =
  /** Redis failed (error, open breaker, shed, deadline) and this process still held the value. */
  | 'redis'
  /** The loader failed (error, shed, deadline) and an older value was still within `staleIfErrorMs`. */
  | 'loader'
  /** The caller's own deadline passed while it waited for the load. */
  | 'deadline';

/**
 * Events of a cache-aside, by name; also published on `ballast:cache-aside:<event>` (diagnostics_channel).
 * Keys appear as given; values never do.
 */
export interface CacheAsideEvents {
  /** A value in Redis was not an envelope this version reads: treated as a miss (and overwritten by the load). */
  corrupt: { name: string; key: string; reason: CorruptReason };
  /** A Redis read, write or delete failed; `cached()` went on without it. `code`: the error's code, if any. */
  'store-error': { name: string; key: string; op: 'get' | 'set' | 'del'; code: string | undefined };
  /**
   * An older value was answered instead of a fresh one. `staleMs`: how long past its freshness it was (0 or less
   * when still fresh but not confirmed by Redis).
   */
  fallback: { name: string; key: string; cause: FallbackCause; staleMs: number };
  /** A loader call ended. `background`: a refresh no caller waited for. `code`: the error's code, if any. */
  load: {
    name: string;
    key: string;
    ok: boolean;
    durationMs: number;
    background: boolean;
    code: string | undefined;
  };
}

/** Counters of a cache-aside since it was created. */
export interface CacheAsideCounts {
  /** `cached()` calls with valid arguments. */
  calls: number;
  /** Answered fresh from the near cache, without asking Redis. */
  nearHits: number;
  /** Answered fresh from Redis. */
  redisHits: number;
  /** Answered with a value the loader had just returned. */
  loaded: number;
  /** Answered stale, within `staleWhileRevalidateMs`, while one refresh ran in the background. */
  staleRevalidate: number;
  /** Answered with an older value because Redis, the loader or the caller's deadline failed. */
  fallbacks: number;
  /** Calls that rejected. */
  errors: number;
  /** Loader calls made (foreground and background). */
  loads: number;
  /** Loads that failed: the loader's error, or its policy's (a shed call never reached the loader). */
  loadFailures: number;
  /** Background refreshes started. */
  refreshes: number;
  /** Redis reads issued (one per flight, whatever the number of callers). */
  redisReads: number;
  /** Failed Redis reads, writes and deletes. */
  storeErrors: number;
  /** Unreadable values found in Redis. */
  corrupt: number;
}

/** What `stats()` returns: a snapshot, safe to serialise. */
export interface CacheAsideStats {
  name: string;
  counts: CacheAsideCounts;
  /** Keys with a flight (a Redis read and/or a load) in progress. */
  inflight: number;
  /** Entries in the near cache (0 when it is off). */
  nearCacheSize: number;
  /** The loader policy's stats: its limiter shows the loader calls in flight and queued. */
  loader: PolicyStats;
}

/** The counters and events of one cache-aside: every part reports through it. */
export class CacheAsideObserver {
  readonly counts: CacheAsideCounts = {
    calls: 0,
    nearHits: 0,
    redisHits: 0,
    loaded: 0,
    staleRevalidate: 0,
    fallbacks: 0,
    errors: 0,
    loads: 0,
    loadFailures: 0,
    refreshes: 0,
    redisReads: 0,
    storeErrors: 0,
    corrupt: 0,
  };
  readonly events = new Events<CacheAsideEvents>('cache-aside');

  constructor(readonly name: string) {}

  storeError(key: string, op: 'get' | 'set' | 'del', error: unknown): void {
    this.counts.storeErrors++;
    if (this.events.wants('store-error'))
      this.events.emit('store-error', { name: this.name, key, op, code: codeOf(error) });
  }

  corrupt(key: string, reason: CorruptReason): void {
    this.counts.corrupt++;
    if (this.events.wants('corrupt')) this.events.emit('corrupt', { name: this.name, key, reason });
  }

  fallback(key: string, cause: FallbackCause, staleMs: number): void {
    this.counts.fallbacks++;
    if (this.events.wants('fallback')) this.events.emit('fallback', { name: this.name, key, cause, staleMs });
  }

  /** A loader call ended: `ok`, or failed with `error`. */
  load(key: string, durationMs: number, background: boolean, ok: boolean, error?: unknown): void {
    if (!ok) this.counts.loadFailures++;
    if (this.events.wants('load'))
      this.events.emit('load', { name: this.name, key, ok, durationMs, background, code: codeOf(error) });
  }
}

/** The `code` of an error, when it has a string one. */
function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

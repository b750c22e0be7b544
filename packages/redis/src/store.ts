import type { Priority } from '@ballast/core';

/** Per-call options of every @ballast/redis command (and of `cached`). */
export interface CommandOptions {
  /** The call's deadline in ms from now; the client's `timeoutMs` when absent. */
  deadlineMs?: number | undefined;
  /** Under overload lower priorities are shed first. @default 'interactive' */
  priority?: Priority | undefined;
  /** Aborts the call (it rejects with `BALLAST_ABORTED`). */
  signal?: AbortSignal | undefined;
  /**
   * The command may run twice without harm (a GET, or a SET of the same value): it may be retried after an
   * ambiguous failure. Reads are idempotent by default, writes are not.
   */
  idempotent?: boolean | undefined;
}

/**
 * The seam between the Redis client wrapper and the cache-aside: what `cached()` needs of Redis. Values are
 * the serialized strings; TTLs are in ms. Every method honours the options' deadline (never waits on Redis past
 * it) and rejects with a BallastError (`BALLAST_DEADLINE_EXCEEDED`, `BALLAST_CIRCUIT_OPEN`, `BALLAST_SHED`, …) or
 * the Redis error when Redis fails.
 */
export interface CacheStore {
  /** The value stored at `key`, or `null` when there is none. */
  getRaw(key: string, options?: CommandOptions): Promise<string | null>;
  /** Stores `value` at `key` for `ttlMs` (PX). */
  setRaw(key: string, value: string, ttlMs: number, options?: CommandOptions): Promise<void>;
  /** Removes `key`. */
  delRaw(key: string, options?: CommandOptions): Promise<void>;
}

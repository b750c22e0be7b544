import type { Serializer } from './serializer.js';

/**
 * A cached value with its freshness, as `cached()` keeps it in the near cache and (encoded) in Redis. Times are
 * epoch milliseconds so that every process sharing Redis reads the same freshness.
 */
export interface CacheEntry {
  /** The deserialized value. */
  readonly value: unknown;
  /** Fresh before this time: answered without asking anyone. */
  readonly freshUntil: number;
  /** From `freshUntil` until this time the value is answered while one refresh runs in the background. */
  readonly swrUntil: number;
  /** Until this time the value is answered when Redis or the loader fails. Never before `swrUntil`. */
  readonly errorUntil: number;
  /** Length of the serialized value (UTF-16 code units): its weight in the near cache's `maxSize`. */
  readonly size: number;
}

/** Why a value read from Redis was not used. */
export type CorruptReason = 'format' | 'deserialize';

/** The freshness of one stored value; see {@link CacheEntry}. */
export type EntryTimes = Pick<CacheEntry, 'freshUntil' | 'swrUntil' | 'errorUntil'>;

// Version 1 of the envelope: `b1:<freshUntil>:<swrUntil>:<errorUntil>:<serialized value>`. The payload is kept as
// the serializer wrote it (no second encoding); the header is all digits, so the fourth colon ends it.
const PREFIX = 'b1:';

/**
 * The freshness of a value stored now: fresh for `ttlMs` shortened by up to `jitter` of it (so keys written
 * together do not expire together), then `staleWhileRevalidateMs` and `staleIfErrorMs` from the end of freshness.
 * @param random a number in [0, 1)
 */
export function entryTimes(
  nowMs: number,
  ttlMs: number,
  staleWhileRevalidateMs: number,
  staleIfErrorMs: number,
  jitter: number,
  random: number,
): EntryTimes {
  // Never below 1 ms: a value must be fresh for a moment, and Redis rejects PX 0.
  const freshMs = Math.max(1, ttlMs * (1 - jitter * random));
  const freshUntil = Math.floor(nowMs + freshMs);
  return {
    freshUntil,
    swrUntil: freshUntil + staleWhileRevalidateMs,
    errorUntil: freshUntil + Math.max(staleWhileRevalidateMs, staleIfErrorMs),
  };
}

/** The envelope stored in Redis for `times` and the serialized value. */
export function encodeEnvelope(times: EntryTimes, payload: string): string {
  return `${PREFIX}${times.freshUntil}:${times.swrUntil}:${times.errorUntil}:${payload}`;
}

/**
 * The entry an envelope read from Redis stands for, or why it cannot be used: not an envelope of this version
 * (`'format'`), or a payload the serializer rejects (`'deserialize'`). Never throws.
 */
export function decodeEnvelope(raw: string, serializer: Serializer): CacheEntry | CorruptReason {
  if (!raw.startsWith(PREFIX)) return 'format';
  const times: number[] = [];
  let start = PREFIX.length;
  for (let i = 0; i < 3; i++) {
    const end = raw.indexOf(':', start);
    if (end < 0) return 'format';
    const field = raw.slice(start, end);
    // Digits only: Number('') is 0 and Number(' 1') is 1, neither of which this encoder writes.
    if (!/^\d{1,16}$/.test(field)) return 'format';
    times.push(Number(field));
    start = end + 1;
  }
  const [freshUntil = 0, swrUntil = 0, errorUntil = 0] = times;
  if (swrUntil < freshUntil || errorUntil < swrUntil) return 'format';
  const payload = raw.slice(start);
  let value: unknown;
  try {
    value = serializer.deserialize(payload);
  } catch {
    return 'deserialize';
  }
  if (value === undefined) return 'deserialize';
  return { value, freshUntil, swrUntil, errorUntil, size: payload.length };
}

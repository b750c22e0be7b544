import { BallastError } from '@ballast/core';
import type { SessionPosition } from './types.js';

/**
 * Read-your-writes session tokens: where a session's writes are in the WAL of which cluster and timeline.
 *
 * Format (version 1): `b1.<system identifier, base 36>.<timeline, base 36>.<LSN, hex>`, lower case, e.g.
 * `b1.1jgyvnc1jlyv4.1.16b374d848` — at most 41 characters (about 30 in practice) of `[0-9a-z.]`, safe in a
 * URL, an HTTP header and a cookie without escaping. Clients must treat it as opaque: the prefix versions the
 * format, so a later version can change everything after it. The token is not signed: it grants nothing. A
 * forged token can at worst send that session's reads to the primary (see {@link checkToken}), which any
 * client can also get by asking for `strong`.
 */

const VERSION = 'b1';
const MAX_U64 = (1n << 64n) - 1n;
const MAX_U32 = 2 ** 32 - 1;
/** `b1.` + 13 (2^64 in base 36) + `.` + 7 (2^32) + `.` + 16 (2^64 in hex). */
const MAX_TOKEN_CHARS = 3 + 13 + 1 + 7 + 1 + 16;
const TOKEN_PATTERN = /^b1\.([0-9a-z]{1,13})\.([0-9a-z]{1,7})\.([0-9a-f]{1,16})$/;
/** How much of a rejected token an error message may show: enough to recognise it, not to replay a payload. */
const ECHO_CHARS = 8;

/**
 * Encodes a session position as a token.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` when a field is out of range (`systemId` not a decimal
 *   uint64, `timeline` not an integer in [1, 2^32 - 1], `lsn` outside [0, 2^64 - 1]).
 * @example encodeToken({ systemId: '7301234567890123456', timeline: 1, lsn: 0x16b374d848n })
 */
export function encodeToken(pos: SessionPosition): string {
  if (!/^\d{1,20}$/.test(pos.systemId) || BigInt(pos.systemId) > MAX_U64) {
    throw invalid(
      'session position systemId',
      `expected a decimal uint64, received ${describe(pos.systemId)}`,
    );
  }
  if (!Number.isInteger(pos.timeline) || pos.timeline < 1 || pos.timeline > MAX_U32) {
    throw invalid(
      'session position timeline',
      `expected an integer in [1, 2^32-1], received ${pos.timeline}`,
    );
  }
  if (pos.lsn < 0n || pos.lsn > MAX_U64) {
    throw invalid('session position lsn', `expected a uint64, received ${pos.lsn}`);
  }
  return `${VERSION}.${BigInt(pos.systemId).toString(36)}.${pos.timeline.toString(36)}.${pos.lsn.toString(16)}`;
}

/**
 * Decodes a token made by {@link encodeToken}. Only the canonical form is accepted (lower case, no leading
 * zeros), so a position has exactly one token.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `session token` when `token` is not a well-formed,
 *   in-range version-1 token. The message shows at most its first 8 characters and its length.
 */
export function decodeToken(token: string): SessionPosition {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) throw malformed(token);
  const match = TOKEN_PATTERN.exec(token);
  if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) throw malformed(token);
  const systemId = parseBase36(match[1]);
  const timeline = Number(parseBase36(match[2]));
  const lsn = BigInt(`0x${match[3]}`);
  if (systemId > MAX_U64 || timeline < 1 || timeline > MAX_U32) throw malformed(token);
  const pos: SessionPosition = { systemId: systemId.toString(), timeline, lsn };
  // Leading zeros would give one position several tokens (and a cache key or log line several spellings).
  if (encodeToken(pos) !== token) throw malformed(token);
  return pos;
}

/**
 * Merges two positions of one session into the one that covers both (e.g. the token a request brought and the
 * position of a write it just made, or of a replica read it just observed, for monotonic reads).
 *
 * - Same `systemId`: the higher `timeline` wins whatever its LSN (after a failover, positions on the old
 *   timeline past the fork point no longer exist); on the same timeline, the higher `lsn`.
 * - Different `systemId` (a token from another cluster): the one whose `systemId` equals `currentSystemId`
 *   wins. When neither matches, or `currentSystemId` is not given, `b` wins: pass the newer observation as
 *   `b`. This never throws, so a foreign token cannot break a request; {@link checkToken} refuses it anyway.
 *
 * Returns one of its arguments (no copy).
 */
export function mergePositions(
  a: SessionPosition,
  b: SessionPosition,
  currentSystemId?: string | undefined,
): SessionPosition {
  if (a.systemId !== b.systemId) return a.systemId === currentSystemId ? a : b;
  if (a.timeline !== b.timeline) return a.timeline > b.timeline ? a : b;
  return a.lsn > b.lsn ? a : b;
}

/** What the cluster currently is, as its primary reports it. */
export interface ClusterPosition {
  /** The primary's `system_identifier`. */
  systemId: string;
  /** The primary's timeline. */
  timeline: number;
  /** The primary's insert position, normalised ({@link normaliseInsertLsn}). */
  primaryLsn: bigint;
}

/**
 * The verdict on a session position:
 * - `ok`: the position belongs to this cluster and timeline and exists; a replica whose replay LSN is at or
 *   past `position.lsn` (on the same timeline) may serve the session's reads.
 * - `ahead`: same cluster, but the position is past what the primary reports — its LSN is above `primaryLsn`,
 *   or its timeline is above the primary's (the caller's view of the primary is older than the token's).
 *   `position` is clamped to the primary's position: never wait for an LSN that does not exist.
 * - `old-timeline`: same cluster, older timeline: written before a failover; everything after the fork point
 *   may be gone and LSNs on the two timelines are not comparable.
 * - `foreign-cluster`: another cluster's token (another environment, or a restore with a new system
 *   identifier).
 *
 * For `old-timeline` and `foreign-cluster` the token is refused: what the session wrote cannot be located on
 * this cluster, so the read goes to the primary, and the session restarts from `position`, the primary's
 * current position, so its next token is valid here. For `ahead`, the read also goes to the primary.
 */
export type TokenStatus = 'ok' | 'ahead' | 'old-timeline' | 'foreign-cluster';

/** The result of {@link checkToken}. */
export interface TokenCheck {
  status: TokenStatus;
  /**
   * The position the session continues from: the token's own for `ok`; the primary's current one (system id,
   * timeline, `primaryLsn`) otherwise.
   */
  position: SessionPosition;
}

/**
 * Checks a session position against the cluster's current primary; see {@link TokenStatus} for each outcome
 * and what the caller does with it.
 *
 * `cluster.primaryLsn` must be fresh, read after the token was issued: a token from another instance of the
 * service can legitimately be ahead of a cached sample, and clamping it to a stale value would lose that
 * session's writes. So `ahead` against a cached sample means "read the primary's LSN now and check again" (or
 * simply: serve this read from the primary, and clamp to the LSN read then).
 */
export function checkToken(pos: SessionPosition, cluster: ClusterPosition): TokenCheck {
  if (pos.systemId !== cluster.systemId)
    return { status: 'foreign-cluster', position: primaryPosition(cluster) };
  if (pos.timeline < cluster.timeline) return { status: 'old-timeline', position: primaryPosition(cluster) };
  if (pos.timeline > cluster.timeline || pos.lsn > cluster.primaryLsn) {
    return { status: 'ahead', position: primaryPosition(cluster) };
  }
  return { status: 'ok', position: pos };
}

function primaryPosition(cluster: ClusterPosition): SessionPosition {
  return { systemId: cluster.systemId, timeline: cluster.timeline, lsn: cluster.primaryLsn };
}

function parseBase36(digits: string): bigint {
  let value = 0n;
  for (const ch of digits) value = value * 36n + BigInt(Number.parseInt(ch, 36));
  return value;
}

function malformed(token: unknown): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  if (typeof token !== 'string')
    return invalid('session token', `expected a string, received ${typeof token}`);
  const shown = token.length > ECHO_CHARS ? `${token.slice(0, ECHO_CHARS)}…` : token;
  return invalid(
    'session token',
    `expected a Ballast session token (b1.…), received ${JSON.stringify(shown)} (${token.length} chars)`,
  );
}

function invalid(option: string, detail: string): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  return new BallastError('BALLAST_INVALID_ARGUMENT', `Invalid ${option}: ${detail}`, {
    source: 'ballast-pg',
  });
}

function describe(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value.length > 24 ? `${value.slice(0, 24)}…` : value)
    : typeof value;
}

/**
 * WAL positions (`pg_lsn`, written `X/Y` in hex) as bigints, so they compare and subtract in JS.
 *
 * A `pg_lsn` is a 64-bit byte position in the write-ahead log; `'16/B374D848'` is `0x16_B374D848`.
 */

/** Size of a WAL page (PostgreSQL's compile-time `XLOG_BLCKSZ`; 8 kB on every mainstream build). */
export const WAL_PAGE_BYTES = 8192n;
/** Default WAL segment size (`initdb --wal-segsize`, 16 MB unless changed). */
export const DEFAULT_WAL_SEGMENT_BYTES = 16n * 1024n * 1024n;

/** `XLogShortPageHeaderData`: the header of every WAL page except the first of a segment. */
const SHORT_PAGE_HEADER_BYTES = 24n;
/** `XLogLongPageHeaderData`: the header of the first page of a segment. */
const LONG_PAGE_HEADER_BYTES = 40n;
const MAX_LSN = (1n << 64n) - 1n;
const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * Parses a `pg_lsn` text (`'16/B374D848'`) into its byte position.
 * @throws Error when `lsn` is not an `X/Y` pair of 1–8 hex digits each. Server output is always well formed,
 *   so this is a programming error, not a user input error (user input arrives as a session token, see
 *   token.ts).
 * @example parseLsn('0/3000028') === 0x3000028n
 */
export function parseLsn(lsn: string): bigint {
  const match = LSN_PATTERN.exec(lsn);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new Error(`not a pg_lsn: '${lsn.length > 20 ? `${lsn.slice(0, 20)}…` : lsn}'`);
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/**
 * Formats a byte position as a `pg_lsn` text, upper-case hex without leading zeros, as PostgreSQL prints it.
 * @throws RangeError when `position` is outside [0, 2^64 - 1].
 * @example formatLsn(0x16b374d848n) === '16/B374D848'
 */
export function formatLsn(position: bigint): string {
  if (position < 0n || position > MAX_LSN) throw new RangeError(`LSN out of range: ${position}`);
  const hi = (position >> 32n).toString(16).toUpperCase();
  const lo = (position & 0xffffffffn).toString(16).toUpperCase();
  return `${hi}/${lo}`;
}

/**
 * The position a caught-up standby's `pg_last_wal_replay_lsn()` reaches for a primary whose
 * `pg_current_wal_insert_lsn()` is `lsn`.
 *
 * When the last record ended exactly at a page boundary, the insert position points past the next page's
 * header (offset 24, or 40 on the first page of a segment) — beyond any record — while replay stops at the
 * record's end, the page boundary. Measured on an idle pair: insert `0/3000028`, replay `0/3000000`, forever.
 * Without this, an idle caught-up replica would never count as caught up. Subtracting the header is exact: no
 * record can end inside a page header, and a record that continues onto a page ends past its header.
 *
 * @param lsn a primary's insert position
 * @param walSegmentBytes the cluster's `wal_segment_size` in bytes. Only needed to tell a long header (offset
 *   40 at a segment start) from a record that ends at offset 40 of an ordinary page.
 * @default walSegmentBytes {@link DEFAULT_WAL_SEGMENT_BYTES}
 * @example normaliseInsertLsn(parseLsn('0/3000028')) === parseLsn('0/3000000')
 */
export function normaliseInsertLsn(lsn: bigint, walSegmentBytes: bigint = DEFAULT_WAL_SEGMENT_BYTES): bigint {
  const offset = lsn % WAL_PAGE_BYTES;
  if (offset === SHORT_PAGE_HEADER_BYTES) return lsn - offset;
  if (offset === LONG_PAGE_HEADER_BYTES && lsn % walSegmentBytes === offset) return lsn - offset;
  return lsn;
}

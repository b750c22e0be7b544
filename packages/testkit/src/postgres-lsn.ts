/** WAL positions (`pg_lsn`, written `X/Y` in hex) as bigints, for comparing and subtracting them in JS. */

const WAL_PAGE_BYTES = 8192n;
/** Sizes of the short and long (first page of a segment) WAL page headers. */
const PAGE_HEADER_BYTES = [24n, 40n];

/** Parses `'16/B374D848'` into a byte position. */
export function parseLsn(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`not a pg_lsn: '${lsn}'`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Formats a byte position as a `pg_lsn` string. */
export function formatLsn(position: bigint): string {
  const hi = (position >> 32n).toString(16).toUpperCase();
  const lo = (position & 0xffffffffn).toString(16).toUpperCase();
  return `${hi}/${lo}`;
}

/**
 * The position a standby's `pg_last_wal_replay_lsn()` reaches once it replayed everything up to the primary's
 * `pg_current_wal_insert_lsn()`. When no record has been inserted on the current page yet, the insert position
 * points just past the page header while replay ends at the page boundary, so the header is subtracted.
 */
export function replayTarget(insertLsn: bigint): bigint {
  const offset = insertLsn % WAL_PAGE_BYTES;
  return PAGE_HEADER_BYTES.includes(offset) ? insertLsn - offset : insertLsn;
}

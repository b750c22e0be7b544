/**
 * Redis Cluster key slots (CRC16/XMODEM of the key, or of its `{hash tag}`, modulo 16384), so multi-key reads and
 * deletes can be split into one command per slot instead of failing with `CROSSSLOT`.
 */

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  TABLE[i] = crc & 0xffff;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** The cluster slot (0–16383) of `key`, as Redis' `CLUSTER KEYSLOT` computes it. */
export function keySlot(key: string | Buffer): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(OPEN_BRACE);
  if (open >= 0) {
    const close = bytes.indexOf(CLOSE_BRACE, open + 1);
    // Only a non-empty tag counts: `{}` hashes the whole key.
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++)
    crc = ((crc << 8) ^ (TABLE[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number)) & 0xffff;
  return crc & 0x3fff;
}

/** The indexes of `keys` grouped by slot, in first-seen order. */
export function groupBySlot(keys: readonly (string | Buffer)[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = keySlot(key);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [i]);
    else group.push(i);
  });
  return [...groups.values()];
}

/**
 * Bucket arithmetic of a log-linear (HDR-style) histogram over integer microseconds: values below 64 µs get a
 * bucket each; above, every power of two is split into {@link SUB_BUCKETS} equal buckets, so a bucket's width is
 * at most 1/32 (~3 %) of its values. Index and bounds are a few integer operations: no log, no search.
 */

/** log2 of {@link SUB_BUCKETS}. */
export const SUB_BUCKET_BITS = 5;
/** Buckets per power of two. */
export const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** The largest value recorded, in µs (about 35.8 minutes); larger values land in the last bucket. */
export const MAX_MICROS = 2 ** 31 - 1;
/** Index of the last bucket plus one. */
export const BUCKET_COUNT = (31 - SUB_BUCKET_BITS) * SUB_BUCKETS + SUB_BUCKETS;
/** Buckets are grouped in blocks of {@link SUB_BUCKETS} (one per power of two) so a quantile scan skips blocks. */
export const BLOCK_COUNT = BUCKET_COUNT / SUB_BUCKETS;

/** The bucket of `micros`, an integer in `[0, MAX_MICROS]`. */
export function bucketIndex(micros: number): number {
  if (micros < SUB_BUCKETS) return micros;
  const shift = 31 - Math.clz32(micros) - SUB_BUCKET_BITS;
  return ((shift + 1) << SUB_BUCKET_BITS) + ((micros >>> shift) - SUB_BUCKETS);
}

/** The exclusive upper bound of bucket `index`, in µs: every value in the bucket is below it. */
export function bucketUpperMicros(index: number): number {
  const block = index >>> SUB_BUCKET_BITS;
  if (block <= 1) return index + 1;
  const shift = block - 1;
  const mantissa = SUB_BUCKETS + (index & (SUB_BUCKETS - 1));
  return (mantissa + 1) * 2 ** shift;
}

/**
 * AWS's decorrelated jitter: `min(cap, random_between(base, previous × 3))`, where `previous` is the last delay
 * (or `base` before the first retry). The result is clamped to `[baseMs, capMs]` even when `random` returns a
 * value outside `[0, 1)`, so a bad random source cannot produce a negative or unbounded sleep.
 * @param previousMs the delay before the previous retry; 0 (or anything below `baseMs`) for the first retry
 * @param baseMs the smallest delay, in ms
 * @param capMs the largest delay, in ms (must be >= `baseMs`)
 * @param random a uniform random source in `[0, 1)`
 * @returns the delay in ms, within `[baseMs, capMs]`
 * @example decorrelatedJitter(0, 25, 1_000, Math.random) // somewhere in [25, 75)
 */
export function decorrelatedJitter(
  previousMs: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  const upper = Math.max(previousMs, baseMs) * 3;
  const delay = baseMs + random() * (upper - baseMs);
  // `!(delay >= baseMs)` also catches NaN from a broken random source.
  if (!(delay >= baseMs)) return baseMs;
  return Math.min(delay, capMs);
}

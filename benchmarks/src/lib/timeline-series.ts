/** Turns what a fault scenario records (calls with times, 100 ms samples) into the points of a timeline chart. */
import { quantile, round } from './stats.js';

/**
 * One point per whole `binMs` from 0 up to `endMs` (ms since the load started): `[the bin's middle in seconds,
 * reduce(the items whose time falls in the bin)]`. Items outside those bins (a last partial bin included: it
 * would read as a drop in a rate) or without a finite time are left out; every bin gets a point, so `reduce`
 * decides what an empty bin shows (0 for a rate, NaN for a gap).
 */
export function binnedSeries<T>(
  items: readonly T[],
  timeMs: (item: T) => number,
  bin: { binMs: number; endMs: number },
  reduce: (items: T[]) => number,
): [number, number][] {
  const count = Math.floor(bin.endMs / bin.binMs);
  const bins: T[][] = Array.from({ length: count }, () => []);
  for (const item of items) {
    const t = timeMs(item);
    if (!(t >= 0 && t < count * bin.binMs)) continue;
    bins[Math.floor(t / bin.binMs)]?.push(item);
  }
  return bins.map((inBin, i) => [round(((i + 0.5) * bin.binMs) / 1000, 3), round(reduce(inBin), 3)]);
}

/** A reducer for {@link binnedSeries}: the items per second of a `binMs` bin. */
export function perSecond(binMs: number): (items: readonly unknown[]) => number {
  return (items) => items.length / (binMs / 1000);
}

/** The 99th percentile of the finite `values`; NaN (a gap in the chart) when there are none. */
export function p99(values: readonly number[]): number {
  return quantile(
    values.filter((v) => Number.isFinite(v)),
    0.99,
  );
}

/** One key of a sampled timeline (`{ tMs, ...values }` rows) as points `[tMs / 1000, value]`; non-numbers are gaps. */
export function sampledSeries(timeline: readonly Record<string, unknown>[], key: string): [number, number][] {
  return timeline.map((row) => {
    const value = row[key];
    return [Number(row.tMs) / 1000, typeof value === 'number' ? value : Number.NaN];
  });
}

/**
 * What Ballast's limiter did with a mixed-priority load (`priority-mix`): sheds by reason and priority over a
 * window, and how the permits were shared between priorities, from timeline samples.
 */
import type { LimiterStats } from '@ballast/core';
import { round } from './stats.js';

/** Sheds between two snapshots of `LimiterStats.shed`, as `{ 'reason/priority': n }` (zero counts left out). */
export function shedBetween(
  before: LimiterStats['shed'] | undefined,
  after: LimiterStats['shed'] | undefined,
  priorities: readonly ('interactive' | 'batch')[],
): Record<string, number> {
  const out: Record<string, number> = {};
  if (after === undefined) return out;
  for (const reason of Object.keys(after) as (keyof LimiterStats['shed'])[])
    for (const p of priorities) {
      const n = after[reason][p] - (before?.[reason][p] ?? 0);
      if (n > 0) out[`${reason}/${p}`] = n;
    }
  return out;
}

/** Timeline sample keys of the limiter's state per priority (see the `ballast` variant's `state()`). */
export interface OccupancyKeys {
  inflight: Record<string, string>;
  queued: Record<string, string>;
}

/**
 * Mean permits held and the largest queue, per priority, over the samples taken from `fromMs` to `untilMs` (ms
 * since the load started): `{ interactive: { meanInflight, maxQueued }, … }`.
 */
export function occupancy(
  timeline: readonly Record<string, number>[],
  fromMs: number,
  untilMs: number,
  keys: OccupancyKeys,
): Record<string, { meanInflight: number; maxQueued: number }> {
  const samples = timeline.filter((s) => {
    const t = s.tMs ?? Number.NaN;
    return t >= fromMs && t <= untilMs;
  });
  const out: Record<string, { meanInflight: number; maxQueued: number }> = {};
  for (const [p, key] of Object.entries(keys.inflight)) {
    const held = samples.map((s) => s[key] ?? 0);
    const queuedKey = keys.queued[p] ?? '';
    out[p] = {
      meanInflight: round(held.reduce((a, b) => a + b, 0) / Math.max(1, held.length), 1),
      maxQueued: Math.max(0, ...samples.map((s) => s[queuedKey] ?? 0)),
    };
  }
  return out;
}

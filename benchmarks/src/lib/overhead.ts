/**
 * Overhead measurement shared by the `*-overhead` scenarios: closed-loop callers against a real server, every
 * variant once per round in a seeded shuffled order, throughput and client CPU per call. Ratios are paired: each
 * round's variant against the baseline's in the same round, then the median over rounds (the machine drifts
 * between rounds; the server shares the two cores).
 */
import { closedLoop } from './pg-bench.js';
import { median, prng, quantile, round, shuffle } from './stats.js';
import type { ResultRow, ScenarioContext } from './types.js';

/** One way of making the call being measured. */
export interface OverheadVariant {
  id: string;
  label: string;
  /** The code it runs, for the report. */
  config: string;
  call: () => Promise<unknown>;
  close: () => Promise<void>;
}

/** One variant's measurement in one round. */
export interface OverheadSample {
  opsPerSec: number;
  cpuUsPerOp: number;
  errors: number;
}

export interface OverheadSettings {
  rounds: number;
  roundMs: number;
  warmupMs: number;
  inFlight: number;
  seed: number;
  /**
   * The variants whose per-round mean is the baseline (default: the first variant). Two instances of the same
   * baseline halve its noise and cancel any advantage of being the first one created; the ratio between them is
   * the resolution of the measurement ({@link OverheadResult.between}).
   */
  baselines?: readonly string[] | undefined;
}

/** What {@link measureOverhead} found. */
export interface OverheadResult {
  samples: Record<string, OverheadSample[]>;
  /** Median of `id`'s per-round ratio to the baseline in the same round. */
  paired(id: string, key: 'opsPerSec' | 'cpuUsPerOp'): number;
  /** Median of `id`'s per-round ratio to `other`'s in the same round. */
  between(id: string, other: string, key: 'opsPerSec' | 'cpuUsPerOp'): number;
  /**
   * One table row per variant: ops/s and CPU µs per op (under the given metric names, e.g. `queriesPerSec`,
   * `cpuUsPerQuery`), their paired ratios to the baseline, CPU IQR, errors.
   */
  rows(perSecKey: string, cpuKey: string): ResultRow[];
}

async function sample(variant: OverheadVariant, ms: number, inFlight: number): Promise<OverheadSample> {
  const cpu0 = process.cpuUsage();
  const r = await closedLoop(inFlight, ms, variant.call);
  const cpu = process.cpuUsage(cpu0);
  return {
    opsPerSec: (r.done / r.ms) * 1000,
    cpuUsPerOp: (cpu.user + cpu.system) / Math.max(1, r.done),
    errors: r.errors,
  };
}

/** Warms every variant up, then runs the rounds. `variants[0]` is the baseline. */
export async function measureOverhead(
  ctx: ScenarioContext,
  variants: OverheadVariant[],
  settings: OverheadSettings,
): Promise<OverheadResult> {
  const random = prng(settings.seed);
  const baselines = settings.baselines ?? [(variants[0] as OverheadVariant).id];
  for (const v of variants) {
    ctx.progress(`warming up ${v.label}`);
    await sample(v, settings.warmupMs, settings.inFlight);
  }
  const samples: Record<string, OverheadSample[]> = Object.fromEntries(variants.map((v) => [v.id, []]));
  ctx.gc();
  for (let r = 0; r < settings.rounds; r++) {
    ctx.progress(`round ${r + 1}/${settings.rounds}`);
    for (const v of shuffle([...variants], random))
      samples[v.id]?.push(await sample(v, settings.roundMs, settings.inFlight));
  }
  const at = (id: string, i: number, key: 'opsPerSec' | 'cpuUsPerOp'): number =>
    samples[id]?.[i]?.[key] ?? Number.NaN;
  const baselineAt = (i: number, key: 'opsPerSec' | 'cpuUsPerOp'): number =>
    baselines.reduce((sum, b) => sum + at(b, i, key), 0) / baselines.length;
  const paired = (id: string, key: 'opsPerSec' | 'cpuUsPerOp'): number =>
    median((samples[id] ?? []).map((s, i) => s[key] / (baselineAt(i, key) || Number.NaN)));
  const between = (id: string, other: string, key: 'opsPerSec' | 'cpuUsPerOp'): number =>
    median((samples[id] ?? []).map((s, i) => s[key] / (at(other, i, key) || Number.NaN)));
  const rows = (perSecKey: string, cpuKey: string): ResultRow[] =>
    variants.map((v) => {
      const s = samples[v.id] ?? [];
      const cpu = s.map((x) => x.cpuUsPerOp);
      return {
        label: v.label,
        metrics: {
          [perSecKey]: round(median(s.map((x) => x.opsPerSec)), 0),
          throughputVsBaseline: round(paired(v.id, 'opsPerSec'), 3),
          [cpuKey]: round(median(cpu), 2),
          cpuIqrUs: round(quantile(cpu, 0.75) - quantile(cpu, 0.25), 2),
          cpuVsBaseline: round(paired(v.id, 'cpuUsPerOp'), 3),
          errors: s.reduce((n, x) => n + x.errors, 0),
        },
      };
    });
  return { samples, paired, between, rows };
}

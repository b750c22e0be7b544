/** What `retry-storm` records (phases, requests, the database's counters) and the tables and chart made of it. */
import { p50p99 } from './pg-bench.js';
import type { CounterSample } from './retry-faults.js';
import { VARIANTS } from './retry-variants.js';
import { round } from './stats.js';
import { binnedSeries, p99 } from './timeline-series.js';
import type { TimelineChart } from './types.js';

/** One phase of the load: the share of statements that fail, for how long. */
export interface Phase {
  id: string;
  /** Share of the statements that fail. */
  errorShare: number;
  ms: number;
}

/** One logical request of one variant; times in ms since the load started. */
export interface Request {
  tMs: number;
  ms: number;
  ok: boolean | undefined;
  attempts: number;
  kind?: string;
}

/** Everything one run of the phases recorded. */
export interface Load {
  /** `performance.now()` when the load started: time 0 of every `tMs`. */
  origin: number;
  requests: Request[][];
  /** Counters when each phase began (index = phase), then once more when every request had settled. */
  boundaries: CounterSample[];
  samples: CounterSample[];
  loadMs: number;
  unsettled: number;
}

export interface PhaseMetrics {
  requests: number;
  dbAttempts: number;
  amplification: number;
  clientAttemptsPerRequest: number;
  successShare: number;
  p50Ms: number;
  p99Ms: number;
}

/** Per variant and phase: requests by arrival time, attempts by the server's counter over the phase. */
export function phaseMetrics(
  load: Load,
  variant: number,
  phase: number,
  countsAttempts: boolean,
): PhaseMetrics {
  const from = load.boundaries[phase];
  const to = load.boundaries[phase + 1];
  // the last boundary is taken after every request settled: the last phase keeps its late attempts
  const rs = (load.requests[variant] ?? []).filter(
    (r) => r.tMs >= (from?.tMs ?? Number.NaN) && r.tMs < (to?.tMs ?? Number.NaN),
  );
  const db = (to?.counts[variant] ?? Number.NaN) - (from?.counts[variant] ?? Number.NaN);
  const answered = rs.filter((r) => r.ok !== undefined).map((r) => r.ms);
  const lat = p50p99(answered);
  return {
    requests: rs.length,
    dbAttempts: db,
    amplification: round(db / rs.length, 3),
    clientAttemptsPerRequest: countsAttempts
      ? round(rs.reduce((s, r) => s + r.attempts, 0) / rs.length, 3)
      : Number.NaN,
    successShare: round(rs.filter((r) => r.ok === true).length / rs.length, 4),
    p50Ms: lat.p50,
    p99Ms: lat.p99,
  };
}

/** Sampling of the chart: the offered rate per variant, the counters' sampling period and the bins by arrival. */
export interface ChartTiming {
  ratePerSec: number;
  sampleMs: number;
  binMs: number;
}

/** Attempts/s at the database, success share and p99 over time, one line per variant; the fault windows shaded. */
export function timelineChart(load: Load, phases: Phase[], timing: ChartTiming): TimelineChart {
  const { ratePerSec: RATE, sampleMs: SAMPLE_MS, binMs: CHART_BIN_MS } = timing;
  const endMs = load.loadMs;
  const bin = { binMs: CHART_BIN_MS, endMs };
  const faults = phases.flatMap((p, i) => {
    const from = load.boundaries[i]?.tMs ?? 0;
    const to = load.boundaries[i + 1]?.tMs ?? endMs;
    return p.errorShare > 0
      ? [
          {
            fromS: round(from / 1000, 2),
            toS: round(Math.min(to, endMs) / 1000, 2),
            label: `${p.errorShare * 100} % errors`,
          },
        ]
      : [];
  });
  // server counters sampled every SAMPLE_MS: the rate between consecutive samples, at the later one's time
  const attemptsPerSec = (v: number): [number, number][] =>
    load.samples.slice(1).flatMap((s, k) => {
      const prev = load.samples[k];
      if (prev === undefined || s.tMs > endMs + 50) return [];
      const rate = (((s.counts[v] ?? 0) - (prev.counts[v] ?? 0)) / (s.tMs - prev.tMs)) * 1000;
      return [[round(s.tMs / 1000, 3), round(rate, 1)] as [number, number]];
    });
  const series = (points: (v: number, rs: Request[]) => [number, number][]) =>
    VARIANTS.map((variant, v) => ({ label: variant.label, points: points(v, load.requests[v] ?? []) }));
  return {
    id: 'timeline',
    title: `retry-storm: ${RATE} req/s per client, PostgreSQL failing a share of statements with 40001`,
    faults,
    panels: [
      {
        metric: `attempts at the database (server-side counter, ${SAMPLE_MS} ms samples; offered ${RATE}/s)`,
        unit: 'attempts/s',
        series: series((v) => attemptsPerSec(v)),
      },
      {
        metric: `success share of requests, by arrival time (${CHART_BIN_MS} ms bins)`,
        unit: 'share',
        series: series((_, rs) =>
          binnedSeries(
            rs,
            (r) => r.tMs,
            bin,
            (b) => (b.length === 0 ? Number.NaN : b.filter((r) => r.ok).length / b.length),
          ),
        ),
      },
      {
        metric: 'p99 time to an answer of any kind, by arrival time',
        unit: 'ms',
        series: series((_, rs) =>
          binnedSeries(
            rs,
            (r) => r.tMs,
            bin,
            (b) => p99(b.map((r) => r.ms)),
          ),
        ),
      },
    ],
  };
}

/**
 * Outcomes of an open-loop run whose arrivals carry a priority (`priority-mix`): the request record, the
 * classification of errors, per-priority metrics and the timeline chart of success share and goodput.
 */
import { errorKind, p50p99 } from './pg-bench.js';
import { round } from './stats.js';
import type { TimelineChart, TimelineSeries } from './types.js';

/** The priorities a mixed load is made of. */
export type MixPriority = 'interactive' | 'batch';

export type Outcome = 'ok' | 'late' | 'rejected' | 'timeout' | 'failed' | 'unfinished';

/** One arrival: when it was issued (ms, `performance.now()`), how long until its answer, and what the answer was. */
export interface MixRequest {
  priority: MixPriority;
  t0: number;
  ms: number;
  outcome: Outcome | undefined;
  kind?: string;
}

/** Error kinds that mean "refused without running": fast rejections. */
export function isRejection(kind: string): boolean {
  return (
    kind.startsWith('BALLAST_SHED') ||
    kind === 'BALLAST_CIRCUIT_OPEN' ||
    kind === 'BALLAST_PRIMARY_UNAVAILABLE' ||
    kind === 'BulkheadRejectedError' ||
    kind === 'BrokenCircuitError'
  );
}

/** Records the answer of `req` (answered within `deadlineMs`: `ok`; after it: `late`; an error: classified). */
export function settle(
  req: MixRequest,
  p: Promise<unknown>,
  deadlineMs: number,
  frozen: () => boolean,
): void {
  p.then(
    () => {
      if (frozen()) return;
      req.ms = performance.now() - req.t0;
      req.outcome = req.ms <= deadlineMs ? 'ok' : 'late';
    },
    (error: unknown) => {
      if (frozen()) return;
      req.ms = performance.now() - req.t0;
      const kind = errorKind(error);
      req.kind = kind;
      req.outcome = isRejection(kind)
        ? 'rejected'
        : /timeout|TIMEDOUT|DEADLINE|TaskCancelled/i.test(kind)
          ? 'timeout'
          : 'failed';
    },
  );
}

/** The load window of one variant's run: arrivals from `t0` for `loadMs`. */
export interface LoadWindow {
  t0: number;
  loadMs: number;
}

/**
 * Metrics of `requests` (one priority, or all) over `w`. `goodputPerSec`: answers within the deadline that came
 * before the load stopped, per second of load; `steadyGoodputPerSec`: the same counting only answers after
 * `steadyFromMs` of load (an unprotected pool still answers in time before a queue forms).
 */
export function mixMetrics(requests: readonly MixRequest[], w: LoadWindow, steadyFromMs: number) {
  const end = w.t0 + w.loadMs;
  const answeredAt = (q: MixRequest) => q.t0 + q.ms;
  const count = (o: Outcome) => requests.filter((q) => q.outcome === o).length;
  const ok = requests.filter((q) => q.outcome === 'ok');
  const inWindow = ok.filter((q) => answeredAt(q) <= end).length;
  const steady = ok.filter((q) => answeredAt(q) >= w.t0 + steadyFromMs && answeredAt(q) <= end).length;
  const okMs = p50p99(ok.map((q) => q.ms));
  const rejMs = p50p99(
    requests.filter((q) => q.outcome === 'rejected').map((q) => q.ms),
    3,
  );
  return {
    offered: requests.length,
    ok: ok.length,
    successShare: round(ok.length / Math.max(1, requests.length), 4),
    goodputPerSec: round(inWindow / (w.loadMs / 1000), 1),
    steadyGoodputPerSec: round(steady / ((w.loadMs - steadyFromMs) / 1000), 1),
    okP50Ms: okMs.p50,
    okP99Ms: okMs.p99,
    rejected: count('rejected'),
    rejectP99Ms: rejMs.p99,
    timeout: count('timeout'),
    late: count('late'),
    failed: count('failed'),
    unfinished: count('unfinished'),
  };
}

export type MixMetrics = ReturnType<typeof mixMetrics>;

/** One variant's run, for the chart. */
export interface ChartRun extends LoadWindow {
  label: string;
  requests: readonly MixRequest[];
}

/**
 * A timeline chart: per variant, the interactive success share by arrival time and each priority's goodput by
 * answer time, in buckets of `bucketMs` from the start of the load to `untilMs` after it; the load is the fault.
 */
export function mixChart(
  id: string,
  title: string,
  runs: readonly ChartRun[],
  priorities: readonly MixPriority[],
  bucketMs: number,
  untilMs: number,
): TimelineChart {
  const buckets = Math.ceil(untilMs / bucketMs);
  const mid = (i: number) => round(((i + 0.5) * bucketMs) / 1000, 3);
  const bucketOf = (t: number) => Math.floor(t / bucketMs);
  const shareSeries: TimelineSeries[] = [];
  const goodput: Record<string, TimelineSeries[]> = {};
  for (const run of runs) {
    const arrived = new Array<number>(buckets).fill(0);
    const arrivedOk = new Array<number>(buckets).fill(0);
    const answered: Record<string, number[]> = {};
    for (const p of priorities) answered[p] = new Array<number>(buckets).fill(0);
    for (const q of run.requests) {
      if (q.priority === 'interactive') {
        const b = bucketOf(q.t0 - run.t0);
        if (b >= 0 && b < buckets) {
          arrived[b] = (arrived[b] as number) + 1;
          if (q.outcome === 'ok') arrivedOk[b] = (arrivedOk[b] as number) + 1;
        }
      }
      if (q.outcome !== 'ok') continue;
      const b = bucketOf(q.t0 + q.ms - run.t0);
      const counts = answered[q.priority];
      if (counts !== undefined && b >= 0 && b < buckets) counts[b] = (counts[b] as number) + 1;
    }
    shareSeries.push({
      label: run.label,
      // only buckets wholly inside the load: the last arrivals alone would make a share of a handful of calls
      points: arrived.flatMap((n, i): [number, number][] =>
        n === 0 || (i + 1) * bucketMs > run.loadMs + 1
          ? []
          : [[mid(i), round((arrivedOk[i] as number) / n, 3)]],
      ),
    });
    for (const p of priorities) {
      const counts = answered[p] as number[];
      const series = goodput[p] ?? [];
      goodput[p] = series;
      series.push({
        label: run.label,
        points: counts.map((n, i): [number, number] => [mid(i), round((n * 1000) / bucketMs, 1)]),
      });
    }
  }
  const loadS = round(Math.min(...runs.map((r) => r.loadMs)) / 1000, 2);
  return {
    id,
    title,
    faults: [{ fromS: 0, toS: loadS, label: '3x capacity' }],
    panels: [
      { metric: 'interactive success (by arrival)', unit: 'share', series: shareSeries },
      ...priorities.map((p) => ({ metric: `${p} goodput`, unit: 'req/s', series: goodput[p] ?? [] })),
    ],
  };
}

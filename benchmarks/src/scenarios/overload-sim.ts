/**
 * Overload against a simulated server (capacity 1000/s: 10 at once, 10 ms each, slower beyond that) at 3x its
 * capacity, then 0.5x to show recovery. Every request has a 200 ms deadline; an answer after it is a failure.
 */

import { isBallastError } from '@ballast/core';
import { openLoop, sleep } from '../lib/open-loop.js';
import { overloadVariants, type Variant, type Work } from '../lib/overload-clients.js';
import { SimServer } from '../lib/sim-server.js';
import { quantile, round } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'overload-sim';
export const description =
  'A simulated server (capacity 1000/s) offered 3x its capacity with 200 ms deadlines, then 0.5x: goodput, rejections, recovery.';

const DEADLINE_MS = 200;
const SETTINGS = {
  full: { overloadRate: 3000, overloadMs: 5000, recoveryRate: 500, recoveryMs: 2000, capacityMs: 2000 },
  ci: { overloadRate: 3000, overloadMs: 2000, recoveryRate: 500, recoveryMs: 2000, capacityMs: 1000 },
} as const;
type Settings = (typeof SETTINGS)[keyof typeof SETTINGS];
const VARIANTS = overloadVariants(DEADLINE_MS);

type Outcome = 'ok' | 'late' | 'failed' | 'rejected' | 'unfinished';

interface Request {
  t0: number;
  phase: 0 | 1;
  /** The server was asked to serve it. */
  reached: boolean;
  outcome: Outcome | undefined;
  ms: number;
  /** For errors: the code (and shed reason) or error class. */
  error?: string;
}

function errorKind(error: unknown): string {
  if (isBallastError(error)) return error.reason === undefined ? error.code : `${error.code}:${error.reason}`;
  if (!(error instanceof Error)) return typeof error;
  return error.name === 'Error' ? error.constructor.name : error.name;
}

/** Closed loop with exactly `concurrency` callers: the throughput the simulated server really delivers here. */
async function measureCapacity(durationMs: number): Promise<number> {
  const server = new SimServer();
  const end = performance.now() + durationMs;
  const start = performance.now();
  let done = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await server.serve();
      done++;
    }
  };
  await Promise.all(Array.from({ length: server.concurrency }, worker));
  server.stop();
  return (done / (performance.now() - start)) * 1000;
}

async function runVariant(variant: Variant, settings: Settings) {
  const server = new SimServer();
  const client = variant.make();
  const requests: Request[] = [];
  let frozen = false;
  let phase: 0 | 1 = 0;
  const t0 = performance.now();
  const timeline: {
    tMs: number;
    serverInflight: number;
    limit?: number;
    inflight?: number;
    queued?: number;
  }[] = [];
  const sampler = setInterval(() => {
    timeline.push({
      tMs: Math.round(performance.now() - t0),
      serverInflight: server.inflight,
      ...client.limiter?.(),
    });
  }, 100);

  const settle = (req: Request, error: unknown, ok: boolean) => {
    if (frozen || req.outcome !== undefined) return;
    req.ms = performance.now() - req.t0;
    if (ok) req.outcome = req.ms <= DEADLINE_MS ? 'ok' : 'late';
    else {
      req.outcome = req.reached ? 'failed' : 'rejected';
      req.error = errorKind(error);
    }
  };
  const arrive = () => {
    const req: Request = { t0: performance.now(), phase, reached: false, outcome: undefined, ms: Number.NaN };
    requests.push(req);
    const work: Work = (signal) => {
      req.reached = true;
      return server.serve(signal);
    };
    let promise: Promise<unknown>;
    try {
      promise = client.call(work);
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      () => settle(req, undefined, true),
      (error: unknown) => settle(req, error, false),
    );
  };

  const phaseMs: [number, number] = [0, 0];
  const phaseStart: [number, number] = [performance.now(), 0];
  phaseMs[0] = await openLoop(settings.overloadRate, settings.overloadMs, arrive);
  phaseStart[1] = performance.now();
  const limiterAfterOverload = client.limiter?.();
  phase = 1;
  phaseMs[1] = await openLoop(settings.recoveryRate, settings.recoveryMs, arrive);
  const limiterAfterRecovery = client.limiter?.();
  const loadEnd = performance.now();
  const clientQueued = client.queued?.() ?? 0;
  // after one more deadline every request still pending has failed; stop rather than wait for a backlog to drain
  await sleep(DEADLINE_MS + 50);
  frozen = true;
  clearInterval(sampler);
  for (const req of requests) if (req.outcome === undefined) req.outcome = 'unfinished';
  // the server's backlog, or the client's queue served at full capacity, whichever takes longer
  const backlogClearsAfterMs = Math.max(
    0,
    server.busyUntil - loadEnd,
    (clientQueued / server.capacityPerSec) * 1000,
  );
  const peakInflight = server.peakInflight;
  server.stop();
  client.close();
  return {
    requests,
    phaseMs,
    phaseStart,
    timeline,
    limiter: [limiterAfterOverload, limiterAfterRecovery],
    backlogClearsAfterMs,
    clientQueued,
    peakInflight,
  };
}

function percentiles(values: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return Array.from({ length: 101 }, (_, i) => round(quantile(sorted, i / 100), 3));
}

type VariantRun = Awaited<ReturnType<typeof runVariant>>;

function phaseMetrics(result: VariantRun, p: 0 | 1) {
  const reqs = result.requests.filter((r) => r.phase === p);
  const seconds = result.phaseMs[p] / 1000;
  // goodput: answers in time, to this phase's requests, that arrived within the phase's window
  const windowEnd = result.phaseStart[p] + result.phaseMs[p];
  const inWindow = reqs.filter((r) => r.outcome === 'ok' && r.t0 + r.ms <= windowEnd).length;
  const count = (o: Outcome) => reqs.filter((r) => r.outcome === o).length;
  const okMs = reqs.filter((r) => r.outcome === 'ok').map((r) => r.ms);
  const rejectMs = reqs.filter((r) => r.outcome === 'rejected').map((r) => r.ms);
  return {
    offeredPerSec: round(reqs.length / seconds, 0),
    goodputPerSec: round(inWindow / seconds, 0),
    inTimeShare: round(count('ok') / reqs.length, 3),
    ok: count('ok'),
    late: count('late'),
    failed: count('failed'),
    rejected: count('rejected'),
    unfinished: count('unfinished'),
    rejectP50Ms: round(quantile(rejectMs, 0.5), 3),
    rejectP99Ms: round(quantile(rejectMs, 0.99), 3),
    okP50Ms: round(quantile(okMs, 0.5), 1),
    okP99Ms: round(quantile(okMs, 0.99), 1),
    limitAtEnd: result.limiter[p]?.limit ?? null,
  };
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  const nominal = new SimServer().capacityPerSec;
  ctx.progress('measuring the simulated server capacity');
  const capacity = await measureCapacity(settings.capacityMs);
  const rows: ResultRow[] = [];
  const raw: Record<string, unknown> = { capacityPerSec: capacity };
  const metrics: Record<string, [ReturnType<typeof phaseMetrics>, ReturnType<typeof phaseMetrics>]> = {};
  const p1 = `phase 1: ${settings.overloadRate}/s (3x) for ${settings.overloadMs / 1000} s`;
  const p2 = `phase 2: ${settings.recoveryRate}/s (0.5x) for ${settings.recoveryMs / 1000} s`;
  const serverRows: ResultRow[] = [];

  for (const variant of VARIANTS) {
    ctx.progress(`${variant.label} (${(settings.overloadMs + settings.recoveryMs) / 1000} s)`);
    ctx.gc();
    const result = await runVariant(variant, settings);
    const m: [ReturnType<typeof phaseMetrics>, ReturnType<typeof phaseMetrics>] = [
      phaseMetrics(result, 0),
      phaseMetrics(result, 1),
    ];
    metrics[variant.id] = m;
    rows.push({ label: variant.label, group: p1, metrics: m[0] });
    rows.push({ label: variant.label, group: p2, metrics: m[1] });
    const errors: Record<string, { count: number; p50Ms: number }> = {};
    for (const kind of new Set(result.requests.map((r) => r.error))) {
      if (kind === undefined) continue;
      const ms = result.requests.filter((r) => r.error === kind).map((r) => r.ms);
      errors[kind] = { count: ms.length, p50Ms: round(quantile(ms, 0.5), 1) };
    }
    const servedUseless = result.requests.filter((r) => r.reached && r.outcome !== 'ok').length;
    serverRows.push({
      label: variant.label,
      group: 'server side and errors',
      metrics: {
        peakServerInflight: result.peakInflight,
        servedButFailed: servedUseless,
        clientQueuedAtEnd: result.clientQueued,
        backlogClearsAfterS: round(result.backlogClearsAfterMs / 1000, 2),
        errors:
          Object.entries(errors)
            .map(([k, e]) => `${k} ${e.count} (p50 ${e.p50Ms} ms)`)
            .join(', ') || '–',
      },
    });
    raw[variant.id] = {
      config: variant.config,
      phaseMs: result.phaseMs,
      errors,
      limiterAtPhaseEnd: result.limiter,
      timeline: result.timeline,
      // every percentile (0..100) of the latency per phase and outcome: a CDF to plot, without 20k numbers
      latencyMsPercentiles: ([0, 1] as const).map((p) =>
        Object.fromEntries(
          (['ok', 'late', 'failed', 'rejected'] as const).map((o) => {
            const ms = result.requests.filter((r) => r.phase === p && r.outcome === o).map((r) => r.ms);
            return [o, ms.length === 0 ? [] : percentiles(ms)];
          }),
        ),
      ),
    };
  }
  rows.push(...serverRows);

  const ballast = metrics.ballast;
  const goodput = (id: string) => metrics[id]?.[0].goodputPerSec ?? Number.NaN;
  // a baseline with no success at all would make the ratio infinite; count it as 1/s
  const floor1 = (x: number) => Math.max(1, x);
  const bars: Bar[] = [
    {
      name: 'ballast-goodput-vs-capacity',
      value: round(goodput('ballast') / capacity, 3),
      bar: 0.85,
      op: '>=',
      description: 'Ballast goodput under 3x load / capacity of the simulated server measured in this run',
    },
    {
      name: 'ballast-goodput-vs-direct',
      value: round(goodput('ballast') / floor1(goodput('direct')), 2),
      bar: 3,
      op: '>=',
      description: 'Ballast goodput / direct calls goodput, 3x load',
    },
    {
      name: 'ballast-goodput-vs-p-limit',
      value: round(goodput('ballast') / floor1(goodput('p-limit')), 2),
      bar: 1,
      op: '>=',
      description: 'Ballast goodput / p-limit(10) goodput, 3x load',
    },
    {
      name: 'ballast-recovery',
      value: ballast?.[1].inTimeShare ?? 0,
      bar: 0.95,
      op: '>=',
      description: 'share of the phase-2 (0.5x) requests Ballast answers within their deadline',
    },
    {
      name: 'ballast-reject-p99-vs-deadline',
      // Rejections must come at once, not after a wait: p99 as a share of the 200 ms deadline (goal < 1 ms).
      value: round((Number(ballast?.[0].rejectP99Ms) || DEADLINE_MS) / DEADLINE_MS, 4),
      bar: 0.025,
      op: '<=',
      description: 'Ballast rejection latency p99 / the call deadline, 3x load (0.025 = 5 ms of 200 ms)',
    },
  ];
  const b1 = ballast?.[0];
  const overloadLimits = (
    (raw.ballast as { timeline?: { tMs: number; limit?: number }[] } | undefined)?.timeline ?? []
  )
    .filter((x) => x.tMs <= settings.overloadMs && x.limit !== undefined)
    .map((x) => x.limit as number);
  const notes = [
    `Simulated capacity: nominal ${nominal}/s, measured ${round(capacity, 0)}/s (10 closed-loop callers, real timers).`,
    `Goals (informational): Ballast goodput ≥ 900/s — ${goodput('ballast')}/s; rejections answered in < 1 ms p99 — ` +
      `${b1?.rejectP99Ms ?? '–'} ms; phase 2 recovers — ${ballast?.[1].goodputPerSec ?? '–'}/s of ${ballast?.[1].offeredPerSec ?? '–'}/s offered, ${round((ballast?.[1].inTimeShare ?? 0) * 100, 1)} % in time.`,
    `Ballast's limit during the overload phase ranged ${round(Math.min(...overloadLimits), 0)}–` +
      `${round(Math.max(...overloadLimits), 0)} (sampled every 100 ms); the simulated server's knee is 10 in flight.`,
    'goodputPerSec counts answers within the deadline that arrived before the phase ended; inTimeShare is the share ' +
      'of the requests issued in the phase that were answered within their deadline (whenever that was).',
    'Outcomes: ok = answered within the deadline; late = answered after it; failed = error after reaching the server; ' +
      'rejected = error without reaching the server; unfinished = no answer one deadline after the load stopped.',
  ];
  return {
    rows,
    bars,
    notes,
    config: {
      ...settings,
      deadlineMs: DEADLINE_MS,
      server: { concurrency: 10, serviceMs: 10 },
      variants: VARIANTS.map((v) => ({ id: v.id, config: v.config })),
    },
    raw,
  };
}

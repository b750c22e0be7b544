/**
 * A PostgreSQL brownout: a pool of 10 behind a link adding 50 ms each way (capacity ~100 q/s) offered 300 q/s
 * of `SELECT 1` with 1 s deadlines. Raw pg.Pool with a client-side timeout, opossum, cockatiel and Ballast.
 */

import { setMaxListeners } from 'node:events';
import { createCluster } from '@ballast/pg';
import { bulkhead, TimeoutStrategy, timeout, wrap } from 'cockatiel';
import CircuitBreaker from 'opossum';
import { openLoop } from '../lib/open-loop.js';
import {
  capacityThroughProxy,
  closedLoop,
  countKinds,
  describeCounts,
  endPool,
  errorKind,
  p50p99,
  percentiles,
  rawPool,
  startProxy,
  waitUntil,
  withPostgres,
} from '../lib/pg-bench.js';
import { round } from '../lib/stats.js';
import { binnedSeries, p99, perSecond, sampledSeries } from '../lib/timeline-series.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult, TimelineChart } from '../lib/types.js';

export const name = 'pg-brownout';
export const description =
  'PostgreSQL behind a 50 ms-each-way link (pool 10, capacity ~100 q/s) offered 300 q/s with 1 s deadlines: raw pg.Pool, opossum, cockatiel, Ballast — goodput, rejections, drain.';

const DEADLINE_MS = 1000;
const POOL = 10;
const LATENCY_MS = 50;
const RATE = 300;
const SETTINGS = {
  full: { loadMs: 5000, capacityMs: 2000, drainCapMs: 25_000 },
  ci: { loadMs: 3000, capacityMs: 1000, drainCapMs: 3000 },
} as const;
/**
 * The chart's bins: at 300 q/s, 150 arrivals a bin; answers come in waves of 10 (a round trip on each
 * connection), so a bin spans several round trips.
 */
const CHART_BIN_MS = 500;
/** Goals from the issue (informational). */
const GOALS = { goodputPerSec: 90, rejectP99Ms: 5 };

/** Error kinds that mean "refused without running": fast rejections. */
function isRejection(kind: string): boolean {
  return (
    kind.startsWith('BALLAST_SHED') ||
    kind === 'BALLAST_CIRCUIT_OPEN' ||
    kind === 'BALLAST_PRIMARY_UNAVAILABLE' ||
    kind === 'Error:EOPENBREAKER' ||
    kind === 'BulkheadRejectedError' ||
    kind === 'BrokenCircuitError'
  );
}

interface Client {
  call(): Promise<unknown>;
  /** Work not finished anywhere in the client: pool busy + pool waiters + the library's own queue. */
  backlog(): number;
  /** Extra state for the timeline (Ballast: its limit). */
  state?(): Record<string, number>;
  close(): Promise<void>;
}

interface Variant {
  id: string;
  label: string;
  config: string;
  make(url: string): Client;
}

class ClientTimeout extends Error {
  override name = 'ClientTimeout';
}

function poolBacklog(pool: ReturnType<typeof rawPool>): number {
  return pool.waitingCount + pool.totalCount - pool.idleCount;
}

const VARIANTS: Variant[] = [
  {
    id: 'raw',
    label: 'raw pg.Pool + 1 s timeout',
    config: `new pg.Pool({ max: ${POOL} }); Promise.race([pool.query('SELECT 1'), timeout(${DEADLINE_MS})])`,
    make(url) {
      const pool = rawPool({ connectionString: url, max: POOL });
      return {
        call() {
          let timer: NodeJS.Timeout | undefined;
          const expired = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new ClientTimeout('client timeout')), DEADLINE_MS);
          });
          return Promise.race([pool.query('SELECT 1'), expired]).finally(() => clearTimeout(timer));
        },
        backlog: () => poolBacklog(pool),
        close: () => endPool(pool),
      };
    },
  },
  {
    id: 'opossum',
    label: 'pg.Pool + opossum (timeout 1 s)',
    config: `new CircuitBreaker(() => pool.query('SELECT 1'), { timeout: ${DEADLINE_MS} }) — other options default`,
    make(url) {
      const pool = rawPool({ connectionString: url, max: POOL });
      const breaker = new CircuitBreaker(() => pool.query('SELECT 1'), { timeout: DEADLINE_MS });
      return {
        call: () => breaker.fire(),
        backlog: () => poolBacklog(pool),
        state: () => ({ open: breaker.opened ? 1 : 0 }),
        close: async () => {
          breaker.shutdown();
          await endPool(pool);
        },
      };
    },
  },
  {
    id: 'cockatiel',
    label: 'pg.Pool + cockatiel timeout + bulkhead(10, 100)',
    config: `wrap(timeout(${DEADLINE_MS}, Aggressive), bulkhead(${POOL}, 100)).execute(() => pool.query('SELECT 1'))`,
    make(url) {
      const pool = rawPool({ connectionString: url, max: POOL });
      const queue = bulkhead(POOL, 100);
      const policy = wrap(timeout(DEADLINE_MS, TimeoutStrategy.Aggressive), queue);
      const parent = new AbortController().signal;
      setMaxListeners(0, parent);
      return {
        call: () => policy.execute(() => pool.query('SELECT 1'), parent),
        backlog: () => poolBacklog(pool) + (100 - queue.queueSlots),
        close: () => endPool(pool),
      };
    },
  },
  {
    id: 'ballast',
    label: 'ballast cluster (pool 10, deadlineMs 1000)',
    config: `createCluster({ primary, pool: { max: ${POOL} } }); db.query('SELECT 1', [], { deadlineMs: ${DEADLINE_MS} })`,
    make(url) {
      const db = createCluster({ primary: url, pool: { max: POOL } });
      const options = { deadlineMs: DEADLINE_MS };
      const host = () => db.stats().hosts[0];
      return {
        call: () => db.query('SELECT 1', [], options),
        backlog() {
          const h = host();
          if (h === undefined) return 0;
          const lim = h.policy.limiter;
          const inLimiter = lim === undefined ? 0 : Number(lim.inflight) + Number(lim.queued);
          return Math.max(inLimiter, h.pool.busy + h.pool.waiting);
        },
        state() {
          const h = host();
          const lim = h?.policy.limiter;
          return {
            limit: Number(lim?.limit ?? Number.NaN),
            queued: Number(lim?.queued ?? Number.NaN),
            connections: h?.pool.total ?? Number.NaN,
          };
        },
        close: () => db.close(),
      };
    },
  },
];

type Outcome = 'ok' | 'late' | 'rejected' | 'timeout' | 'failed' | 'unfinished';

interface Request {
  t0: number;
  ms: number;
  outcome: Outcome | undefined;
  kind?: string;
}

/** Runs calls from {@link POOL} callers until the client holds {@link POOL} connections (or 6 s passed). */
async function warmUp(client: Client, connections: () => number): Promise<void> {
  const until = performance.now() + 6000;
  await closedLoop(POOL, 400, () => client.call());
  while (connections() < POOL && performance.now() < until) await closedLoop(POOL, 200, () => client.call());
}

async function runVariant(
  variant: Variant,
  baseUrl: string,
  port: number,
  settings: Settings,
  onAnswer: () => void,
) {
  const { proxy, url } = await startProxy(baseUrl, port);
  await proxy.set({ latencyMs: LATENCY_MS });
  const client = variant.make(url);
  try {
    // the pools open their connections before the load, as in a service that has been running
    let connections = () => POOL;
    if (variant.id === 'ballast') connections = () => Number(client.state?.().connections ?? POOL);
    await warmUp(client, connections);
    await waitUntil(() => client.backlog() === 0, 3000);
    const requests: Request[] = [];
    let frozen = false;
    const t0 = performance.now();
    const timeline: Record<string, number>[] = [];
    const sampler = setInterval(() => {
      timeline.push({
        tMs: Math.round(performance.now() - t0),
        backlog: client.backlog(),
        ...client.state?.(),
      });
    }, 100);
    const arrive = () => {
      const req: Request = { t0: performance.now(), ms: Number.NaN, outcome: undefined };
      requests.push(req);
      let p: Promise<unknown>;
      try {
        p = client.call();
      } catch (error) {
        p = Promise.reject(error);
      }
      p.then(
        () => {
          if (frozen) return;
          req.ms = performance.now() - req.t0;
          req.outcome = req.ms <= DEADLINE_MS ? 'ok' : 'late';
          if (req.outcome === 'ok') onAnswer();
        },
        (error: unknown) => {
          if (frozen) return;
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
    };
    const loadMs = await openLoop(RATE, settings.loadMs, arrive);
    const loadEnd = performance.now();
    const backlogAtEnd = client.backlog();
    const drainedAfter = await waitUntil(() => client.backlog() === 0, settings.drainCapMs);
    const backlogAfterCap = drainedAfter === undefined ? client.backlog() : 0;
    // every caller has its answer one deadline after the load stopped (all variants bound their calls by it)
    await waitUntil(() => requests.every((r) => r.outcome !== undefined), DEADLINE_MS + 500, 20);
    frozen = true;
    clearInterval(sampler);
    for (const r of requests) if (r.outcome === undefined) r.outcome = 'unfinished';
    return { requests, loadMs, loadEnd, t0, backlogAtEnd, drainedAfter, backlogAfterCap, timeline };
  } finally {
    // cut whatever is still queued or running, so the next variant starts on an idle server
    await proxy.set({ reset: true }).catch(() => {});
    await client.close().catch(() => {});
    await proxy.close().catch(() => {});
  }
}

type Settings = (typeof SETTINGS)[keyof typeof SETTINGS];
type VariantRun = Awaited<ReturnType<typeof runVariant>>;

function metricsOf(r: VariantRun, capacity: number, drainCapMs: number) {
  const seconds = r.loadMs / 1000;
  const windowEnd = r.t0 + r.loadMs;
  const count = (o: Outcome) => r.requests.filter((q) => q.outcome === o).length;
  const goodput = r.requests.filter((q) => q.outcome === 'ok' && q.t0 + q.ms <= windowEnd).length / seconds;
  // steady state: answers in time that came after the first deadline of load, once a queue had time to form
  const steadyFrom = r.t0 + DEADLINE_MS;
  const steady =
    r.requests.filter((q) => q.outcome === 'ok' && q.t0 + q.ms >= steadyFrom && q.t0 + q.ms <= windowEnd)
      .length /
    ((r.loadMs - DEADLINE_MS) / 1000);
  const ms = (o: Outcome) => r.requests.filter((q) => q.outcome === o).map((q) => q.ms);
  const rej = p50p99(ms('rejected'), 3);
  const ok = p50p99(ms('ok'));
  const errs = p50p99(
    r.requests.filter((q) => q.outcome !== 'ok' && q.outcome !== 'unfinished').map((q) => q.ms),
  );
  // when the backlog did not clear within the cap: the cap plus what is left served at the measured capacity
  const drainMs = r.drainedAfter ?? drainCapMs + (r.backlogAfterCap / Math.max(1, capacity)) * 1000;
  return {
    offeredPerSec: round(r.requests.length / seconds, 0),
    goodputPerSec: round(goodput, 1),
    steadyGoodputPerSec: round(steady, 1),
    inTimeShare: round(count('ok') / r.requests.length, 3),
    ok: count('ok'),
    rejected: count('rejected'),
    timeout: count('timeout'),
    failed: count('failed'),
    unfinished: count('unfinished'),
    rejectP50Ms: rej.p50,
    rejectP99Ms: rej.p99,
    okP50Ms: ok.p50,
    okP99Ms: ok.p99,
    errorP99Ms: errs.p99,
    backlogAtLoadEnd: r.backlogAtEnd,
    drainS: round(drainMs / 1000, 2),
    drainEstimated: r.drainedAfter === undefined ? 'yes' : 'no',
  };
}

/** Goodput, time to an answer, backlog and Ballast's limit over time, one line per variant; the load shaded. */
function timelineChart(
  runs: readonly { variant: Variant; r: VariantRun }[],
  settings: Settings,
  capacity: number,
): TimelineChart {
  const bin = (endMs: number) => ({ binMs: CHART_BIN_MS, endMs });
  const series = (points: (r: VariantRun) => [number, number][], only?: string) =>
    runs
      .filter(({ variant }) => only === undefined || variant.id === only)
      .map(({ variant, r }) => ({
        label: variant.label,
        points: points(r),
      }));
  return {
    id: 'timeline',
    title: `pg-brownout: ${RATE} q/s of SELECT 1, pool ${POOL} behind a ${LATENCY_MS} ms-each-way link, ${DEADLINE_MS / 1000} s deadline`,
    faults: [
      {
        fromS: 0,
        toS: settings.loadMs / 1000,
        label: `${RATE} q/s offered (capacity ${round(capacity, 0)} q/s)`,
      },
    ],
    panels: [
      {
        metric: `goodput: answers within the deadline, by answer time, ${CHART_BIN_MS} ms bins`,
        unit: 'q/s',
        series: series((r) =>
          binnedSeries(
            r.requests.filter((q) => q.outcome === 'ok'),
            (q) => q.t0 + q.ms - r.t0,
            bin(r.timeline.at(-1)?.tMs ?? r.loadMs),
            perSecond(CHART_BIN_MS),
          ),
        ),
      },
      {
        metric: 'p99 time to an answer of any kind, by issue time',
        unit: 'ms',
        series: series((r) =>
          binnedSeries(
            r.requests,
            (q) => q.t0 - r.t0,
            bin(r.loadMs),
            (qs) => p99(qs.map((q) => q.ms)),
          ),
        ),
      },
      {
        metric: "backlog: calls busy or queued in the client, pool and library's queue",
        unit: 'calls',
        series: series((r) => sampledSeries(r.timeline, 'backlog')),
      },
      {
        metric: "Ballast's concurrency limit",
        unit: 'calls',
        series: series((r) => sampledSeries(r.timeline, 'limit'), 'ballast'),
      },
    ],
  };
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting PostgreSQL');
  return withPostgres([{ replicas: 0 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    const port = pgc.primary.port;
    ctx.progress('measuring the capacity through the proxy');
    const capacity = await capacityThroughProxy(pgc.primary.url, port, LATENCY_MS, POOL, settings.capacityMs);
    const rows: ResultRow[] = [];
    const errorRows: ResultRow[] = [];
    const metrics: Record<string, ReturnType<typeof metricsOf>> = {};
    const raw: Record<string, unknown> = { capacityPerSec: capacity };
    const runs: { variant: Variant; r: VariantRun }[] = [];
    for (const variant of VARIANTS) {
      ctx.progress(`${variant.label} (${settings.loadMs / 1000} s at ${RATE}/s)`);
      ctx.gc();
      const r = await runVariant(variant, pgc.primary.url, port, settings, ctx.answered);
      runs.push({ variant, r });
      const m = metricsOf(r, capacity, settings.drainCapMs);
      metrics[variant.id] = m;
      rows.push({
        label: variant.label,
        group: `${RATE}/s offered for ${settings.loadMs / 1000} s`,
        metrics: m,
      });
      errorRows.push({
        label: variant.label,
        group: 'errors by kind',
        metrics: { errors: describeCounts(countKinds(r.requests.map((q) => q.kind))) },
      });
      raw[variant.id] = {
        config: variant.config,
        loadMs: r.loadMs,
        drainedAfterMs: r.drainedAfter ?? null,
        backlogAfterCap: r.backlogAfterCap,
        timeline: r.timeline,
        latencyMsPercentiles: Object.fromEntries(
          (['ok', 'rejected', 'timeout', 'failed'] as const).map((o) => {
            const ms = r.requests.filter((q) => q.outcome === o).map((q) => q.ms);
            return [o, ms.length === 0 ? [] : percentiles(ms)];
          }),
        ),
      };
    }
    rows.push(...errorRows);
    const g = (id: string) => metrics[id]?.steadyGoodputPerSec ?? Number.NaN;
    const b = metrics.ballast;
    const rejectP99 = Number(b?.rejectP99Ms);
    const bars: Bar[] = [
      {
        name: 'ballast-goodput-vs-raw',
        value: round(g('ballast') / Math.max(1, g('raw')), 2),
        bar: 3,
        op: '>=',
        description:
          'Ballast steady-state goodput / raw pg.Pool (+ client timeout) steady-state goodput, 3x load',
      },
      {
        name: 'ballast-goodput-vs-capacity',
        value: round(g('ballast') / capacity, 3),
        bar: 0.75,
        op: '>=',
        description:
          'Ballast steady-state goodput / capacity measured through the same link (10 closed-loop callers)',
      },
      {
        name: 'ballast-reject-p99-vs-deadline',
        value: round((Number.isFinite(rejectP99) ? rejectP99 : DEADLINE_MS) / DEADLINE_MS, 4),
        bar: 0.02,
        op: '<=',
        description: 'Ballast rejection latency p99 / the 1 s deadline (0.02 = 20 ms; goal 5 ms)',
      },
      {
        name: 'ballast-drain-vs-deadline',
        value: round(((b?.drainS ?? Number.POSITIVE_INFINITY) * 1000) / DEADLINE_MS, 3),
        bar: 0.5,
        op: '<=',
        description:
          'time until Ballast has no backlog after the load stops / the 1 s deadline (0.5 = 0.5 s)',
      },
    ];
    const yes = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const notes = [
      `Capacity through the ${LATENCY_MS} ms-each-way link: ${round(capacity, 1)} q/s (raw pg.Pool, ${POOL} closed-loop callers).`,
      `Goals (informational): Ballast goodput ≥ ${GOALS.goodputPerSec}/s — ${g('ballast')}/s (${yes(g('ballast') >= GOALS.goodputPerSec)}); ` +
        `rejections ≤ ${GOALS.rejectP99Ms} ms p99 — ${b?.rejectP99Ms ?? '–'} ms (${yes(rejectP99 <= GOALS.rejectP99Ms)}); ` +
        `no backlog after the load — drained in ${b?.drainS ?? '–'} s (${yes((b?.drainS ?? 99) <= 0.5)}).`,
      'DESIGN.md measured raw pg.Pool, opossum and cockatiel at ~18 q/s within the deadline and the raw pool 16.5 s to drain.',
      'goodput counts answers within the deadline that arrived before the load stopped, per second of load; ' +
        'steadyGoodputPerSec counts only such answers that came after the first deadline (1 s) of load, when a queue ' +
        'has had time to form (in the first second an unprotected pool still answers in time): the bars use it, so a ' +
        '3 s CI run and a 5 s full run measure the same thing. rejected = refused without ' +
        'running (Ballast BALLAST_SHED / circuit open, opossum EOPENBREAKER, cockatiel BulkheadRejectedError); ' +
        'timeout = the deadline or client timeout ended the call.',
      `drainS: time after the load stopped until the client has nothing busy or queued (pool busy + pool waiters + ` +
        `the library's queue). When that takes longer than ${settings.drainCapMs / 1000} s it is estimated ` +
        '(drainEstimated: the cap + the backlog left / the measured capacity) and the rest is cut off.',
    ];
    return {
      rows,
      bars,
      notes,
      charts: [timelineChart(runs, settings, capacity)],
      config: {
        ...settings,
        ratePerSec: RATE,
        deadlineMs: DEADLINE_MS,
        pool: POOL,
        proxyLatencyMsEachWay: LATENCY_MS,
        statement: 'SELECT 1',
        postgres: pgc.version,
        variants: VARIANTS.map((v) => ({ id: v.id, config: v.config })),
      },
      raw,
    };
  });
}

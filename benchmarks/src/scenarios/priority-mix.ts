/**
 * Priorities under overload: the `pg-brownout` link (pool 10, 50 ms each way, capacity ~100 q/s) offered 300 q/s
 * with 1 s deadlines, each arrival `interactive` (30 %) or `batch` (70 %) from a seeded PRNG. Raw pg.Pool and
 * cockatiel have no priorities; Ballast is meant to shed batch first and guarantee interactive a share of the limit
 * (the goal: interactive success ≥ 99 %).
 */

import { openLoop } from '../lib/open-loop.js';
import {
  capacityThroughProxy,
  closedLoop,
  countKinds,
  describeCounts,
  startProxy,
  waitUntil,
  withPostgres,
} from '../lib/pg-bench.js';
import { type Client, priorityVariants, type Variant } from '../lib/priority-clients.js';
import { occupancy, shedBetween } from '../lib/priority-limiter.js';
import {
  type MixMetrics,
  type MixPriority,
  type MixRequest,
  mixChart,
  mixMetrics,
  settle,
} from '../lib/priority-outcomes.js';
import { prng, round } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'priority-mix';
export const description =
  'PostgreSQL behind a 50 ms-each-way link (pool 10, capacity ~100 q/s) offered 300 q/s, 30 % interactive and 70 % batch, 1 s deadlines: raw pg.Pool, cockatiel, Ballast priorities — success share and goodput per priority.';

const DEADLINE_MS = 1000;
const POOL = 10;
const LATENCY_MS = 50;
const RATE = 300;
const INTERACTIVE_SHARE = 0.3;
const SEED = 0x5eed_0b1e;
const PRIORITIES: readonly MixPriority[] = ['interactive', 'batch'];
const PENDING_INTERACTIVE =
  "batch's guaranteed partition (20 % of the limit) leaves interactive at most 8 of 10 permits while batch waits";
/** Why the default partitions miss 99 %, from `db.stats()`: the limiter's sheds and the permits per priority. */
const DIAGNOSIS =
  'interactive offers ~90 calls/s, 0.9x the capacity. The limiter guarantees each competing priority its partition ' +
  '(interactive 70 %, batch 20 %, background 10 % of the limit, as DESIGN.md sets them), so while batch waits it ' +
  'gets floor(10 × 0.2) = 2 permits and interactive at most 8: ~80 % of ~100 calls/s, below its 90/s. With ' +
  '`policy: { limiter: { partitions: { interactive: 0.95, batch: 0.05, background: 0 } } }` interactive may take ' +
  'every permit and is answered in full. Fixed on the way: CoDel shed interactive like batch (its 5 ms target ' +
  'kept one waiter per priority: 0.41–0.51), and shed interactive at all while batch waiters could be shed instead.';
const SETTINGS = {
  full: { loadMs: 8000, capacityMs: 2000, bucketMs: 500 },
  ci: { loadMs: 4000, capacityMs: 1000, bucketMs: 500 },
} as const;
type Settings = (typeof SETTINGS)[keyof typeof SETTINGS];
const VARIANTS = priorityVariants(POOL, DEADLINE_MS);

/** Runs interactive calls from {@link POOL} callers until the client holds {@link POOL} connections (or 6 s passed). */
async function warmUp(client: Client): Promise<void> {
  const until = performance.now() + 6000;
  await closedLoop(POOL, 400, () => client.call('interactive'));
  while (client.connections() < POOL && performance.now() < until)
    await closedLoop(POOL, 200, () => client.call('interactive'));
}

async function runVariant(variant: Variant, baseUrl: string, port: number, settings: Settings) {
  const { proxy, url } = await startProxy(baseUrl, port);
  await proxy.set({ latencyMs: LATENCY_MS });
  const client = variant.make(url);
  try {
    // the pools open their connections before the load, as in a service that has been running
    await warmUp(client);
    await waitUntil(() => client.backlog() === 0, 3000);
    const shedBefore = client.limiter?.()?.shed;
    const random = prng(SEED); // the same sequence of priorities for every variant
    const requests: MixRequest[] = [];
    let frozen = false;
    const isFrozen = () => frozen;
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
      const priority: MixPriority = random() < INTERACTIVE_SHARE ? 'interactive' : 'batch';
      const req: MixRequest = { priority, t0: performance.now(), ms: Number.NaN, outcome: undefined };
      requests.push(req);
      let p: Promise<unknown>;
      try {
        p = client.call(priority);
      } catch (error) {
        p = Promise.reject(error);
      }
      settle(req, p, DEADLINE_MS, isFrozen);
    };
    const loadMs = await openLoop(RATE, settings.loadMs, arrive);
    const limiterAtEnd = client.limiter?.();
    // every caller has its answer one deadline after the load stopped (all variants bound their calls by it)
    await waitUntil(() => requests.every((r) => r.outcome !== undefined), DEADLINE_MS + 500, 20);
    frozen = true;
    clearInterval(sampler);
    for (const r of requests) if (r.outcome === undefined) r.outcome = 'unfinished';
    return { requests, loadMs, t0, timeline, shedBefore, limiterAtEnd };
  } finally {
    // cut whatever is still queued or running, so the next variant starts on an idle server
    await proxy.set({ reset: true }).catch(() => {});
    await client.close().catch(() => {});
    await proxy.close().catch(() => {});
  }
}

type VariantRun = Awaited<ReturnType<typeof runVariant>>;

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting PostgreSQL');
  return withPostgres([{ replicas: 0 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    const port = pgc.primary.port;
    ctx.progress('measuring the capacity through the proxy');
    const capacity = await capacityThroughProxy(pgc.primary.url, port, LATENCY_MS, POOL, settings.capacityMs);
    const runs: (VariantRun & { id: string; label: string })[] = [];
    const metrics: Record<string, Record<MixPriority | 'all', MixMetrics>> = {};
    const raw: Record<string, unknown> = { capacityPerSec: capacity };
    const window = `${RATE}/s offered for ${settings.loadMs / 1000} s`;
    const rowsBy: Record<string, ResultRow[]> = {};
    const errorRows: ResultRow[] = [];
    for (const variant of VARIANTS) {
      ctx.progress(`${variant.label} (${settings.loadMs / 1000} s at ${RATE}/s)`);
      ctx.gc();
      const r = await runVariant(variant, pgc.primary.url, port, settings);
      runs.push({ ...r, id: variant.id, label: variant.label });
      const of = (p: MixPriority | 'all') => {
        const reqs = p === 'all' ? r.requests : r.requests.filter((q) => q.priority === p);
        return mixMetrics(reqs, r, DEADLINE_MS);
      };
      const m = { interactive: of('interactive'), batch: of('batch'), all: of('all') };
      metrics[variant.id] = m;
      for (const p of [...PRIORITIES, 'all'] as const) {
        const group = p === 'all' ? `all arrivals — ${window}` : `${p} — ${window}`;
        const groupRows = rowsBy[group] ?? [];
        rowsBy[group] = groupRows;
        groupRows.push({ label: variant.label, group, metrics: m[p] });
      }
      const shed = shedBetween(r.shedBefore, r.limiterAtEnd?.shed, PRIORITIES);
      errorRows.push({
        label: variant.label,
        group: 'errors by kind and priority',
        metrics: {
          interactive: describeCounts(
            countKinds(r.requests.filter((q) => q.priority === 'interactive').map((q) => q.kind)),
          ),
          batch: describeCounts(
            countKinds(r.requests.filter((q) => q.priority === 'batch').map((q) => q.kind)),
          ),
        },
      });
      raw[variant.id] = {
        config: variant.config,
        loadMs: r.loadMs,
        limiterShedDuringLoad: r.limiterAtEnd === undefined ? undefined : shed,
        limiterAtLoadEnd: r.limiterAtEnd,
        timeline: r.timeline,
      };
    }
    const rows = [...Object.values(rowsBy).flat(), ...errorRows];
    const m = (id: string, p: MixPriority | 'all') => metrics[id]?.[p];
    const steady = (id: string, p: MixPriority | 'all') => m(id, p)?.steadyGoodputPerSec ?? Number.NaN;
    const ballastRun = runs.find((r) => r.id === 'ballast');
    const ballastShed = shedBetween(ballastRun?.shedBefore, ballastRun?.limiterAtEnd?.shed, PRIORITIES);
    const held = occupancy(ballastRun?.timeline ?? [], DEADLINE_MS, settings.loadMs, {
      inflight: { interactive: 'inflightInteractive', batch: 'inflightBatch' },
      queued: { interactive: 'queuedInteractive', batch: 'queuedBatch' },
    });
    raw.ballastOccupancyDuringLoad = held;
    const shareOf = (id: string, p: MixPriority) => m(id, p)?.successShare ?? Number.NaN;
    const bars: Bar[] = [
      {
        name: 'ballast-strict-interactive-success',
        value: shareOf('ballast-strict', 'interactive'),
        bar: 0.99,
        op: '>=',
        description:
          'share of interactive calls answered within the 1 s deadline at 3x load, Ballast with partitions favouring interactive (0.95 / 0.05): the issue goal',
      },
      {
        name: 'ballast-interactive-success',
        value: shareOf('ballast', 'interactive'),
        bar: 0.85,
        op: '>=',
        description: `the same with the default partitions (interactive 0.7, batch 0.2, background 0.1): ${PENDING_INTERACTIVE}`,
      },
      {
        name: 'ballast-interactive-goodput-vs-raw',
        value: round(steady('ballast', 'interactive') / Math.max(1, steady('raw', 'interactive')), 2),
        bar: 5,
        op: '>=',
        description:
          'Ballast interactive steady-state goodput / raw pg.Pool (+ client timeout) interactive steady-state goodput',
      },
      {
        name: 'ballast-interactive-vs-batch-success',
        value: round(shareOf('ballast', 'interactive') / shareOf('ballast', 'batch'), 2),
        bar: 1.25,
        op: '>=',
        description:
          'Ballast interactive success share / Ballast batch success share (raw pg.Pool: ~1, no priorities)',
      },
      {
        name: 'ballast-goodput-vs-capacity',
        value: round(steady('ballast', 'all') / capacity, 3),
        bar: 0.75,
        op: '>=',
        description:
          'Ballast steady-state goodput (all priorities) / capacity measured through the same link',
      },
    ];
    const hi = held.interactive;
    const hb = held.batch;
    const notes = [
      `Capacity through the ${LATENCY_MS} ms-each-way link: ${round(capacity, 1)} q/s (raw pg.Pool, ${POOL} closed-loop callers). ` +
        `Offered: ${RATE}/s, ${INTERACTIVE_SHARE * 100} % interactive (~${RATE * INTERACTIVE_SHARE}/s) and the rest batch, drawn from prng(${SEED}) — the same sequence for every variant.`,
      `Ballast limiter sheds during the load (reason/priority): ${describeCounts(ballastShed)} — about twice the ` +
        'rejected calls: a shed statement never ran, so the cluster tries it once more at once, and the retry is shed too. ' +
        `Permits held on average (of ${POOL}): interactive ${hi?.meanInflight ?? '–'}, batch ${hb?.meanInflight ?? '–'}; ` +
        `largest queue seen: interactive ${hi?.maxQueued ?? '–'}, batch ${hb?.maxQueued ?? '–'} (sampled every 100 ms after the first second of load).`,
      ...(shareOf('ballast', 'interactive') < 0.99
        ? [`Why the default partitions miss 99 % (${PENDING_INTERACTIVE}): ${DIAGNOSIS}`]
        : []),
      'successShare = answered within the deadline / offered (all arrivals of the load); goodputPerSec counts answers ' +
        'within the deadline that came before the load stopped, per second of load; steadyGoodputPerSec only those ' +
        'after the first deadline (1 s) of load, once a queue had time to form: the ratio bars use it. rejected = ' +
        'refused without running (BALLAST_SHED, cockatiel BulkheadRejectedError); timeout = the deadline or client timeout ended it.',
    ];
    const chart = mixChart(
      'goodput',
      `${RATE}/s (3x capacity), ${INTERACTIVE_SHARE * 100} % interactive: success share and goodput per priority`,
      runs.map((r) => ({ label: r.label, t0: r.t0, loadMs: r.loadMs, requests: r.requests })),
      PRIORITIES,
      settings.bucketMs,
      settings.loadMs + DEADLINE_MS,
    );
    return {
      rows,
      bars,
      charts: [chart],
      notes,
      config: {
        ...settings,
        ratePerSec: RATE,
        interactiveShare: INTERACTIVE_SHARE,
        seed: SEED,
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

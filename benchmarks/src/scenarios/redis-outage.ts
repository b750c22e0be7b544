/**
 * A Redis outage under steady cache traffic: 400 requests/s over 200 hot keys (already cached) plus a trickle of
 * new keys, while the network to Redis goes silent (a blackholing FaultProxy) for a few seconds. A naive
 * cache-aside over ioredis (defaults, 2 s guard per command) vs Ballast's `cached()`; and plain GETs failing
 * during the outage: raw ioredis with `commandTimeout` vs the Ballast client once its breaker is open.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BallastRedis } from '@ballast/redis';
import { openLoop } from '../lib/open-loop.js';
import {
  countKinds,
  describeCounts,
  errorKind,
  fanOut,
  p50p99,
  percentiles,
  sleepMs,
  startProxy,
  waitUntil,
} from '../lib/pg-bench.js';
import {
  ballastRedis,
  ballastState,
  isRowOf,
  naiveCacheAside,
  type Row,
  rawRedis,
  SimulatedDb,
  timed,
  withRedis,
} from '../lib/redis-bench.js';
import { prng, round } from '../lib/stats.js';
import { binnedSeries, p99 } from '../lib/timeline-series.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult, TimelineChart } from '../lib/types.js';

export const name = 'redis-outage';
export const description =
  'Redis blackholed for a few seconds (5 s in full mode) under 400 cached() requests/s (200 hot keys + new keys): answer rate within 250 ms, latency, database calls, errors per phase — naive cache-aside over ioredis vs Ballast; failing plain GETs: raw ioredis (commandTimeout 1 s) vs Ballast with its breaker open.';

const RATE = 400;
const HOT_KEYS = 200;
/** Every this many-th request asks for a key never seen before (the rest pick a hot key at random). */
const NEW_KEY_EVERY = 40;
const BUDGET_MS = 250;
const DB_DELAY_MS = 20;
const TTL_MS = 4000;
const STALE_IF_ERROR_MS = 60_000;
/** The Ballast client's deadline for each Redis command (its default is 1000 ms). */
const REDIS_TIMEOUT_MS = 100;
/** The caller's deadline of cached() in the second Ballast variant: within the answer budget. */
const DEADLINE_MS = 200;
/** The naive cache-aside abandons each Redis command after this long (ioredis itself would wait much longer). */
const GUARD_MS = 2000;
/** Plain GETs per second, beside the cached() traffic. */
const PROBE_RATE = 50;
const RAW_COMMAND_TIMEOUT_MS = 1000;
const SETTINGS = {
  full: { beforeMs: 3000, outageMs: 5000, afterMs: 5000, seed: 7 },
  ci: { beforeMs: 1000, outageMs: 3000, afterMs: 2000, seed: 7 },
} as const;
const GOALS = { answerShare: 0.99, failingGetP99Ms: 1 };
/** The chart's bins: 100 cached() requests a bin. */
const CHART_BIN_MS = 250;
/** Plain GETs issued this long after the breaker opened are past the moment it opened (steadyFailP99Ms). */
const STEADY_AFTER_MS = 100;

type Settings = (typeof SETTINGS)[keyof typeof SETTINGS];
type Phase = 'before' | 'outage' | 'after';
const PHASES: readonly Phase[] = ['before', 'outage', 'after'];

interface Client {
  request(key: string, load: () => Promise<Row>): Promise<unknown>;
  /** A plain GET of a key that exists. */
  probe(): Promise<unknown>;
  /** Since when the client knows Redis is down (Ballast: its breaker opened), else undefined. */
  knownSince(): number | undefined;
  /** Extra state for the timeline (Ballast). */
  state?(): Record<string, number | string | null>;
  close(): Promise<void>;
}

interface Variant {
  id: string;
  label: string;
  probeLabel: string;
  config: string;
  probeConfig: string;
  make(url: string, onRedisError: (kind: string) => void): Promise<Client>;
}

/** A Ballast variant: `createRedis({ url, timeoutMs? })` and `cached()` with stale-if-error (and `deadlineMs`). */
function ballastVariant(
  id: string,
  label: string,
  timeoutMs: number | undefined,
  deadlineMs: number | undefined,
): Variant {
  const client = timeoutMs === undefined ? {} : { timeoutMs };
  const options = {
    ttlMs: TTL_MS,
    staleIfErrorMs: STALE_IF_ERROR_MS,
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
  };
  const opt = (key: string, value: number | undefined) => (value === undefined ? '' : `, ${key}: ${value}`);
  return {
    id,
    label,
    probeLabel: `${label}: redis.get()`,
    config: `createRedis({ url${opt('timeoutMs', timeoutMs)} }); redis.cached(key, loader, { ttlMs: ${TTL_MS}, staleIfErrorMs: ${STALE_IF_ERROR_MS}${opt('deadlineMs', deadlineMs)} })`,
    probeConfig: `the same client: redis.get(key) (its ${timeoutMs ?? 1000} ms deadline)`,
    async make(url, onRedisError) {
      const redis: BallastRedis = await ballastRedis({ url, ...client });
      let openedAt: number | undefined;
      redis.on('breaker-state-change', (e) => {
        openedAt = e.to === 'open' ? performance.now() : undefined;
      });
      redis.cache.on('store-error', (e) => onRedisError(`${e.op}:${e.code ?? 'error'}`));
      return {
        request: (key, load) => redis.cached(key, load, options),
        probe: () => redis.get(PROBE_KEY),
        knownSince: () => openedAt,
        state: () => ballastState(redis),
        close: () => redis.close(),
      };
    },
  };
}

const VARIANTS: Variant[] = [
  {
    id: 'naive',
    label: 'naive cache-aside (ioredis)',
    probeLabel: `raw ioredis GET (commandTimeout ${RAW_COMMAND_TIMEOUT_MS})`,
    config: `ioredis defaults (offline queue, 20 retries, no command timeout); GET guarded ${GUARD_MS} ms, on a miss or a Redis error the database, then SET PX ${TTL_MS} (not awaited, guarded)`,
    probeConfig: `a second ioredis client with { commandTimeout: ${RAW_COMMAND_TIMEOUT_MS} }: GET`,
    async make(url, onRedisError) {
      const client = await rawRedis(url);
      const probe = await rawRedis(url, { commandTimeout: RAW_COMMAND_TIMEOUT_MS }).catch(
        (error: unknown) => {
          client.disconnect();
          throw error;
        },
      );
      const get = naiveCacheAside(client, {
        ttlMs: TTL_MS,
        guardMs: GUARD_MS,
        onRedisError: (op, error) => onRedisError(`${op}:${errorKind(error)}`),
      });
      return {
        request: get,
        probe: () => probe.get(PROBE_KEY),
        knownSince: () => undefined,
        close: async () => {
          client.disconnect();
          probe.disconnect();
        },
      };
    },
  },
  ballastVariant('ballast', `ballast (timeoutMs ${REDIS_TIMEOUT_MS})`, REDIS_TIMEOUT_MS, undefined),
  ballastVariant('ballast-deadline', `ballast (defaults, deadlineMs ${DEADLINE_MS})`, undefined, DEADLINE_MS),
];

const PROBE_KEY = 'outage:probe';

interface Op {
  t0: number;
  ms: number;
  /** `ok` (answered with the key's value), an error kind, or `wrong value`; undefined while pending. */
  outcome: string | undefined;
  newKey: boolean;
}

interface Probe {
  t0: number;
  ms: number;
  ok: boolean | undefined;
  error?: string;
  /** When the client knew Redis was down (its breaker opened), if it knew when the GET was issued. */
  knownSince: number | undefined;
}

async function runVariant(variant: Variant, server: { url: string; port: number }, settings: Settings) {
  const { proxy, url } = await startProxy(server.url, server.port);
  const redisErrors: { t: number; kind: string }[] = [];
  const db = new SimulatedDb(DB_DELAY_MS);
  const prefix = `outage:${variant.id}:${Date.now().toString(36)}`;
  const hot = Array.from({ length: HOT_KEYS }, (_, i) => `${prefix}:hot:${i}`);
  let close = async () => {};
  try {
    const client = await variant.make(url, (kind) => redisErrors.push({ t: performance.now(), kind }));
    close = () => client.close();
    // the hot keys are cached (in Redis, and in Ballast's near cache) before the traffic starts; 16 at a time, as
    // Ballast's loader limit would queue the rest past their deadline
    await fanOut(HOT_KEYS, 16, async (i) => {
      const key = hot[i] as string;
      await client.request(key, () => db.load(key, 'fill'));
    });
    await sleepMs(200);
    const random = prng(settings.seed);
    const ops: Op[] = [];
    const probes: Probe[] = [];
    let phase: Phase = 'before';
    let n = 0;
    const arrive = () => {
      const newKey = ++n % NEW_KEY_EVERY === 0;
      const key = newKey ? `${prefix}:new:${n}` : (hot[Math.floor(random() * HOT_KEYS)] as string);
      const op: Op = { t0: performance.now(), ms: Number.NaN, outcome: undefined, newKey };
      ops.push(op);
      const tag = phase;
      void timed(() => client.request(key, () => db.load(key, tag))).then((r) => {
        op.ms = r.ms;
        if (r.ok) op.outcome = isRowOf(r.value, key) ? 'ok' : 'wrong value';
        else op.outcome = errorKind(r.error);
      });
    };
    const probe = () => {
      const p: Probe = {
        t0: performance.now(),
        ms: Number.NaN,
        ok: undefined,
        knownSince: client.knownSince(),
      };
      probes.push(p);
      void timed(client.probe).then((r) => {
        p.ms = r.ms;
        p.ok = r.ok;
        if (!r.ok) p.error = errorKind(r.error);
      });
    };
    const start = performance.now();
    const timeline: Record<string, number | string | null>[] = [];
    // every 100 ms: the longest event-loop delay (a late answer may be the process' own backlog) and Ballast's state
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const sampler = setInterval(() => {
      timeline.push({
        tMs: Math.round(performance.now() - start),
        loopDelayMaxMs: round(loop.max / 1e6, 1),
        ...client.state?.(),
      });
      loop.reset();
    }, 100);
    const totalMs = settings.beforeMs + settings.outageMs + settings.afterMs;
    const load = Promise.all([openLoop(RATE, totalMs, arrive), openLoop(PROBE_RATE, totalMs, probe)]);
    await sleepMs(settings.beforeMs);
    // a request issued while the fault is being set counts in the outage; one issued while it is cleared too
    const outageStart = performance.now();
    phase = 'outage';
    await proxy.set({ blackhole: true });
    await sleepMs(settings.outageMs - (performance.now() - outageStart));
    await proxy.clear();
    const outageEnd = performance.now();
    phase = 'after';
    await load;
    // every request is bounded: the naive one by its guards (GET, then a database call), Ballast's by its deadline
    await waitUntil(
      () => ops.every((o) => o.outcome !== undefined) && probes.every((p) => p.ok !== undefined),
      2 * GUARD_MS + 1000,
      20,
    );
    clearInterval(sampler);
    loop.disable();
    return { ops, probes, redisErrors, db, start, outageStart, outageEnd, timeline };
  } finally {
    await close().catch(() => {});
    await proxy.close().catch(() => {});
  }
}

type Run = Awaited<ReturnType<typeof runVariant>>;

function phaseOf(r: Run, t: number): Phase {
  if (t < r.outageStart) return 'before';
  return t < r.outageEnd ? 'outage' : 'after';
}

function phaseMetrics(r: Run, phase: Phase) {
  const ops = r.ops.filter((o) => phaseOf(r, o.t0) === phase);
  const answered = ops.filter((o) => o.outcome === 'ok' && o.ms <= BUDGET_MS).length;
  const lat = p50p99(
    ops.filter((o) => o.outcome !== undefined).map((o) => o.ms),
    1,
  );
  const kinds = ops.map((o) => {
    if (o.outcome === 'ok') return o.ms <= BUDGET_MS ? undefined : `late (> ${BUDGET_MS} ms)`;
    return o.outcome ?? 'unfinished';
  });
  return {
    offered: ops.length,
    newKeyRequests: ops.filter((o) => o.newKey).length,
    answeredShare: round(answered / Math.max(1, ops.length), 4),
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    dbCalls: r.db.callsByTag.get(phase) ?? 0,
    errors: describeCounts(countKinds(kinds)),
    redisErrors: describeCounts(
      countKinds(r.redisErrors.filter((e) => phaseOf(r, e.t) === phase).map((e) => e.kind)),
    ),
  };
}

/** The cached() traffic in 100 ms bins of issue time: `[ms since start, offered, answered in budget, p99 ms]`. */
function bins(r: Run): number[][] {
  const byBin = new Map<number, Op[]>();
  for (const o of r.ops) {
    const bin = Math.floor((o.t0 - r.start) / 100) * 100;
    const ops = byBin.get(bin);
    if (ops === undefined) byBin.set(bin, [o]);
    else ops.push(o);
  }
  return [...byBin].map(([t, ops]) => [
    t,
    ops.length,
    ops.filter((o) => o.outcome === 'ok' && o.ms <= BUDGET_MS).length,
    p50p99(
      ops.map((o) => o.ms),
      1,
    ).p99,
  ]);
}

/** The GETs issued while the breaker was open that took longer than the goal: `[ms after it opened, latency]`. */
function slowOpenGets(r: Run): string {
  const slow = r.probes.filter(
    (p) => phaseOf(r, p.t0) === 'outage' && p.knownSince !== undefined && p.ms > GOALS.failingGetP99Ms,
  );
  if (slow.length === 0) return 'none';
  return slow.map((p) => `[${round(p.t0 - (p.knownSince ?? 0), 0)}, ${round(p.ms, 1)}]`).join(', ');
}

function probeMetrics(r: Run) {
  const during = r.probes.filter((p) => phaseOf(r, p.t0) === 'outage');
  const failed = during.filter((p) => p.ok === false);
  const open = failed.filter((p) => p.knownSince !== undefined);
  const steady = open.filter((p) => p.t0 - (p.knownSince ?? 0) >= STEADY_AFTER_MS);
  const ms = (probes: Probe[]) => probes.map((p) => p.ms);
  const all = p50p99(ms(failed), 3);
  const known = p50p99(ms(open), 3);
  const openedAt = open[0]?.knownSince;
  const back = r.probes.find((p) => p.t0 >= r.outageEnd && p.ok === true);
  return {
    getsDuringOutage: during.length,
    failed: failed.length,
    failP50Ms: all.p50,
    failP99Ms: all.p99,
    breakerOpenAfterS: openedAt === undefined ? null : round((openedAt - r.outageStart) / 1000, 2),
    failedOpen: open.length,
    openFailP50Ms: known.p50,
    openFailP99Ms: known.p99,
    openFailMaxMs: open.length === 0 ? null : round(Math.max(...ms(open)), 3),
    steadyFailP99Ms: p50p99(ms(steady), 3).p99,
    getsBackAfterS: back === undefined ? null : round((back.t0 + back.ms - r.outageEnd) / 1000, 2),
    errors: describeCounts(countKinds(failed.map((p) => p.error))),
  };
}

/** The cached() traffic's answered share and p99 latency by issue time, per variant; the outage shaded. */
function timelineChart(runs: readonly { variant: Variant; r: Run }[], settings: Settings): TimelineChart {
  const bin = { binMs: CHART_BIN_MS, endMs: settings.beforeMs + settings.outageMs + settings.afterMs };
  const series = (reduce: (ops: Op[]) => number) =>
    runs.map(({ variant, r }) => ({
      label: variant.label,
      points: binnedSeries(r.ops, (o) => o.t0 - r.start, bin, reduce),
    }));
  return {
    id: 'timeline',
    title: `redis-outage: ${RATE} cached() requests/s (${HOT_KEYS} hot keys + new keys), Redis blackholed for ${settings.outageMs / 1000} s`,
    faults: [
      {
        fromS: settings.beforeMs / 1000,
        toS: (settings.beforeMs + settings.outageMs) / 1000,
        label: 'Redis blackholed',
      },
    ],
    panels: [
      {
        metric: `requests answered with their value within ${BUDGET_MS} ms, by issue time, ${CHART_BIN_MS} ms bins`,
        unit: '%',
        series: series((ops) =>
          ops.length === 0
            ? Number.NaN
            : (ops.filter((o) => o.outcome === 'ok' && o.ms <= BUDGET_MS).length / ops.length) * 100,
        ),
      },
      {
        metric: 'p99 time to an answer of any kind, by issue time',
        unit: 'ms',
        series: series((ops) => p99(ops.map((o) => o.ms))),
      },
    ],
  };
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting Redis');
  return withRedis(async (server) => {
    await server.command(['SET', PROBE_KEY, 'x']);
    const rows: ResultRow[] = [];
    const probeRows: ResultRow[] = [];
    const runs: Record<string, Run> = {};
    const ran: { variant: Variant; r: Run }[] = [];
    const raw: Record<string, unknown> = {};
    for (const variant of VARIANTS) {
      const total = (settings.beforeMs + settings.outageMs + settings.afterMs) / 1000;
      ctx.progress(`${variant.label} (${total} s, Redis blackholed for ${settings.outageMs / 1000} s)`);
      ctx.gc();
      const r = await runVariant(variant, server, settings);
      runs[variant.id] = r;
      ran.push({ variant, r });
      for (const phase of PHASES)
        rows.push({
          label: `${variant.label}: ${phase}`,
          group: 'cached() traffic by phase',
          metrics: phaseMetrics(r, phase),
        });
      probeRows.push({
        label: variant.probeLabel,
        group: 'plain GETs during the outage',
        metrics: probeMetrics(r),
      });
      const rel = (t: number) => Math.round(t - r.start);
      raw[variant.id] = {
        config: variant.config,
        probeConfig: variant.probeConfig,
        outageStartMs: rel(r.outageStart),
        outageEndMs: rel(r.outageEnd),
        timeline: r.timeline,
        latencyMsPercentiles: Object.fromEntries(
          PHASES.map((phase) => [
            phase,
            percentiles(r.ops.filter((o) => phaseOf(r, o.t0) === phase).map((o) => o.ms)),
          ]),
        ),
        // per 100 ms of issue time: [ms since start, offered, answered within the budget, p99 ms]
        goodput: bins(r),
        // every plain GET: [issued at ms since start, latency ms, ms since the breaker opened or null, error or null]
        gets: r.probes.map((p) => [
          rel(p.t0),
          round(p.ms, 3),
          p.knownSince === undefined ? null : round(p.t0 - p.knownSince, 1),
          p.error ?? null,
        ]),
      };
    }
    rows.push(...probeRows);
    const naive = runs.naive as Run;
    const ballast = runs.ballast as Run;
    const bOutage = phaseMetrics(ballast, 'outage');
    const nOutage = phaseMetrics(naive, 'outage');
    const bProbe = probeMetrics(ballast);
    const nProbe = probeMetrics(naive);
    const deadline = phaseMetrics(runs['ballast-deadline'] as Run, 'outage');
    const dProbe = probeMetrics(runs['ballast-deadline'] as Run);
    const speedup = round(nProbe.failP99Ms / bProbe.openFailP99Ms, 0);
    const bars: Bar[] = [
      {
        name: 'ballast-answer-share-outage',
        value: bOutage.answeredShare,
        bar: GOALS.answerShare,
        op: '>=',
        description: `Ballast cached() requests issued during the outage answered (their own value) within ${BUDGET_MS} ms / offered`,
      },
      {
        name: 'ballast-vs-naive-db-calls-outage',
        value: round(bOutage.dbCalls / Math.max(1, nOutage.dbCalls), 4),
        bar: 2 / NEW_KEY_EVERY,
        op: '<=',
        description:
          "database calls caused by requests issued during the outage: Ballast's / the naive cache-aside's",
      },
      {
        name: 'raw-vs-ballast-failing-get-p99',
        value: speedup,
        bar: RAW_COMMAND_TIMEOUT_MS / GOALS.failingGetP99Ms,
        op: '>=',
        description: `p99 of raw ioredis' failing GETs (commandTimeout ${RAW_COMMAND_TIMEOUT_MS}) / Ballast's while its breaker is open: the ${GOALS.failingGetP99Ms} ms goal`,
      },
      {
        name: 'raw-vs-ballast-failing-get-p99-floor',
        value: speedup,
        bar: RAW_COMMAND_TIMEOUT_MS / REDIS_TIMEOUT_MS,
        op: '>=',
        description: `the same ratio, regression floor: once its breaker is open, no Ballast GET waits out its own ${REDIS_TIMEOUT_MS} ms deadline`,
      },
    ];
    const yes = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const pct = (share: number) => `${round(share * 100, 2)} %`;
    const notes = [
      `Goals (issue 5): cached() keeps answering through a ${settings.outageMs / 1000} s outage — ` +
        `${pct(bOutage.answeredShare)} within ${BUDGET_MS} ms (naive ${pct(nOutage.answeredShare)}), with ` +
        `${bOutage.dbCalls} database calls (naive ${nOutage.dbCalls}); plain commands fail ≤ ` +
        `${GOALS.failingGetP99Ms} ms p99 once the outage is known — ${bProbe.openFailP99Ms} ms ` +
        `(${yes(bProbe.openFailP99Ms <= GOALS.failingGetP99Ms)}; ${bProbe.steadyFailP99Ms} ms from ` +
        `${STEADY_AFTER_MS} ms after the breaker opened; raw ioredis ${nProbe.failP99Ms} ms).`,
      `Load: ${RATE} cached() requests/s open loop: every ${NEW_KEY_EVERY}th a key never seen before, the rest one ` +
        `of ${HOT_KEYS} hot keys at random, cached before the run with ttlMs ${TTL_MS} (so they go stale during ` +
        `the outage); ${PROBE_RATE} plain GETs/s beside it. ${settings.beforeMs / 1000} s healthy, ` +
        `${settings.outageMs / 1000} s with Redis' FaultProxy blackholed (connections stay open, bytes are ` +
        `dropped), ${settings.afterMs / 1000} s after clearing it; each variant on its own proxy and keys, one ` +
        `after the other. The database is simulated (${DB_DELAY_MS} ms a call); dbCalls counts the calls caused ` +
        'by requests issued in the phase (the naive ones start when their GET guard expires, 2 s later).',
      `Database bar: only keys a process does not hold need the database during an outage — here the new keys, ` +
        `1/${NEW_KEY_EVERY} of the requests — while the naive cache-aside asks it for every request whose GET ` +
        `failed. The bar is twice that share (${round(2 / NEW_KEY_EVERY, 3)}).`,
      `Ballast is measured with createRedis({ url, timeoutMs: ${REDIS_TIMEOUT_MS} }) and no caller deadline: a ` +
        `silent Redis costs a cached() call at most ${REDIS_TIMEOUT_MS} ms before it answers from memory or ` +
        `calls the loader. With cached({ deadlineMs: ${DEADLINE_MS} }) (last rows) the Redis read gets the ` +
        "caller's whole deadline (the client's timeoutMs bounds only calls without one, and createRedis does not " +
        `take cached()'s redisTimeoutMs), so until the breaker opened (${dProbe.breakerOpenAfterS} s in: the ` +
        `stall watchdog's 2 s) no new key could be loaded in time: ${pct(deadline.answeredShare)} answered.`,
      `Plain GETs: openFail* are those issued while the breaker was open (it opened ${bProbe.breakerOpenAfterS} s ` +
        'into the outage, when the stall watchdog closed the silent socket). Slower than ' +
        `${GOALS.failingGetP99Ms} ms among them [ms after the breaker opened, latency ms]: ballast ` +
        `${slowOpenGets(ballast)}; defaults ${slowOpenGets(runs['ballast-deadline'] as Run)}. The limiter admits ` +
        "before the breaker rejects: while its permits are still held by the dead socket's commands, new calls " +
        'queue for them (limiterQueued in the raw timeline) and only then meet the open breaker.',
      "FaultProxy's blackhole drops the bytes of connections that stay open; a real partition this short loses " +
        'none (TCP retransmits). ioredis keeps such a connection and pairs every later reply with an older, lost ' +
        "command: GETs may get another key's value (errors: wrong value, SyntaxError) and, after the outage, a naive " +
        'client (and raw GET client) that never answers within its guard again (its "after" rows). Ballast closes ' +
        'such connections (stall watchdog), but its connection attempt caught by the blackhole waits for the ' +
        'watchdog before Redis is used again (getsBackAfterS).',
    ];
    return {
      rows,
      bars,
      notes,
      charts: [timelineChart(ran, settings)],
      config: {
        ...settings,
        ratePerSec: RATE,
        hotKeys: HOT_KEYS,
        newKeyEvery: NEW_KEY_EVERY,
        budgetMs: BUDGET_MS,
        dbDelayMs: DB_DELAY_MS,
        ttlMs: TTL_MS,
        staleIfErrorMs: STALE_IF_ERROR_MS,
        deadlineMs: DEADLINE_MS,
        guardMs: GUARD_MS,
        probeRatePerSec: PROBE_RATE,
        variants: VARIANTS.map((v) => ({ id: v.id, config: v.config, probe: v.probeConfig })),
      },
      raw,
    };
  });
}

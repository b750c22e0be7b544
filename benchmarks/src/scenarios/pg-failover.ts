/**
 * A failover: the primary is killed under steady writes and reads, and a second later its streaming replica is
 * promoted (what an orchestrator such as Patroni does once it has noticed). Raw pg.Pools pointed at each node vs
 * the Ballast cluster client that lists both: how writes fail while there is no primary, when they succeed again,
 * and whether reads go on.
 */

import { isBallastError } from '@ballast/core';
import { openLoop } from '../lib/open-loop.js';
import {
  countKinds,
  describeCounts,
  errorKind,
  p50p99,
  sleepMs,
  waitUntil,
  withPostgres,
} from '../lib/pg-bench.js';
import { type PrimaryFaultVariant, primaryFaultVariants } from '../lib/primary-fault-variants.js';
import { round } from '../lib/stats.js';
import { binnedSeries, p99, perSecond } from '../lib/timeline-series.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult, TimelineChart } from '../lib/types.js';

export const name = 'pg-failover';
export const description =
  'Primary killed under 100 writes/s + 300 eventual reads/s, its replica promoted 1 s later: write failure latency without a primary, time from the promotion to the first successful write, reads — raw pg.Pools vs the Ballast cluster client.';

const TIMEOUT_MS = 2000;
const WRITES_PER_SEC = 100;
const READS_PER_SEC = 300;
/** How long after the kill the replica is promoted (an orchestrator's detection time). */
const PROMOTE_AFTER_MS = 1000;
const CHART_BIN_MS = 250;
const SETTINGS = {
  full: { beforeMs: 2000, afterMs: 5000 },
  ci: { beforeMs: 1000, afterMs: 3000 },
} as const;
type Settings = (typeof SETTINGS)[keyof typeof SETTINGS];

type Variant = PrimaryFaultVariant;

const VARIANTS = primaryFaultVariants('failover', TIMEOUT_MS);

interface Op {
  kind: 'write' | 'read';
  /** ms since the load started. */
  t: number;
  ms: number;
  ok: boolean | undefined;
  error?: string;
}

/** One variant on a cluster of its own (a failover cannot be undone): load, kill, promote, load. */
async function runVariant(variant: Variant, settings: Settings, onAnswer: () => void) {
  return withPostgres([{ replicas: 1 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    const replicaUrl = pgc.replicas[0]?.url;
    if (replicaUrl === undefined) throw new Error('no replica');
    await pgc.query('primary', 'CREATE TABLE failover (id bigserial PRIMARY KEY, v int NOT NULL)');
    await pgc.query('primary', 'INSERT INTO failover (v) VALUES (0)');
    await pgc.waitForReplay(0);
    const client = await variant.make(pgc.primary.url, replicaUrl);
    try {
      for (let i = 0; i < 20; i++) await Promise.all([client.write(-1), client.read()]);
      const ops: Op[] = [];
      let n = 0;
      const t0 = performance.now();
      const load = openLoop(WRITES_PER_SEC + READS_PER_SEC, settings.beforeMs + settings.afterMs, () => {
        const op: Op = {
          kind: n++ % 4 === 0 ? 'write' : 'read',
          t: performance.now() - t0,
          ms: Number.NaN,
          ok: undefined,
        };
        ops.push(op);
        (op.kind === 'write' ? client.write(n) : client.read()).then(
          () => {
            op.ms = performance.now() - t0 - op.t;
            op.ok = true;
            onAnswer();
          },
          (error: unknown) => {
            op.ms = performance.now() - t0 - op.t;
            op.ok = false;
            op.error = isBallastError(error) ? error.code : errorKind(error);
          },
        );
      });
      await sleepMs(settings.beforeMs);
      await pgc.killPrimary();
      const killedAt = performance.now() - t0;
      await sleepMs(PROMOTE_AFTER_MS);
      await pgc.promote(0);
      const promotedAt = performance.now() - t0;
      await load;
      await waitUntil(() => ops.every((o) => o.ok !== undefined), 2 * TIMEOUT_MS + 2000, 20);
      return { ops, killedAt, promotedAt };
    } finally {
      await client.close().catch(() => {});
    }
  });
}

type Run = Awaited<ReturnType<typeof runVariant>>;

function metricsOf(r: Run) {
  const writes = r.ops.filter((o) => o.kind === 'write');
  const reads = r.ops.filter((o) => o.kind === 'read');
  const noPrimary = (o: Op) => o.t >= r.killedAt && o.t < r.promotedAt;
  const afterPromote = (o: Op) => o.t >= r.promotedAt;
  const failedNoPrimary = writes.filter((o) => noPrimary(o) && o.ok === false).map((o) => o.ms);
  const firstOk = writes
    .filter((o) => afterPromote(o) && o.ok === true)
    .map((o) => o.t + o.ms)
    .sort((a, b) => a - b)[0];
  const after = writes.filter(afterPromote);
  const readsFromKill = reads.filter((o) => o.t >= r.killedAt);
  const f = p50p99(failedNoPrimary, 2);
  return {
    writesNoPrimary: writes.filter(noPrimary).length,
    writeFailP50MsNoPrimary: f.p50,
    writeFailP99MsNoPrimary: f.p99,
    writesBackAfterPromoteS: firstOk === undefined ? null : round((firstOk - r.promotedAt) / 1000, 3),
    writesOkShareAfterPromote: round(after.filter((o) => o.ok).length / Math.max(1, after.length), 3),
    readsOkShareFromKill: round(
      readsFromKill.filter((o) => o.ok).length / Math.max(1, readsFromKill.length),
      4,
    ),
    errors: describeCounts(countKinds(r.ops.map((o) => o.error))),
  };
}

function timelineChart(runs: readonly { variant: Variant; r: Run }[], settings: Settings): TimelineChart {
  const bin = { binMs: CHART_BIN_MS, endMs: settings.beforeMs + settings.afterMs };
  const okPerSecond = (kind: Op['kind']) =>
    runs.map(({ variant, r }) => ({
      label: variant.label,
      points: binnedSeries(
        r.ops.filter((o) => o.kind === kind && o.ok === true),
        (o) => o.t + o.ms,
        bin,
        perSecond(CHART_BIN_MS),
      ),
    }));
  const first = runs[0]?.r;
  return {
    id: 'timeline',
    title: `pg-failover: ${WRITES_PER_SEC} writes/s + ${READS_PER_SEC} eventual reads/s; primary killed, replica promoted ${PROMOTE_AFTER_MS / 1000} s later`,
    faults:
      first === undefined
        ? []
        : [
            {
              fromS: round(first.killedAt / 1000, 2),
              toS: round(first.promotedAt / 1000, 2),
              label: 'no primary',
            },
          ],
    panels: [
      { metric: 'writes that succeeded, by answer time', unit: 'writes/s', series: okPerSecond('write') },
      { metric: 'reads that succeeded, by answer time', unit: 'reads/s', series: okPerSecond('read') },
      {
        metric: 'p99 time to a failed write, by issue time',
        unit: 'ms',
        series: runs.map(({ variant, r }) => ({
          label: variant.label,
          points: binnedSeries(
            r.ops.filter((o) => o.kind === 'write' && o.ok === false),
            (o) => o.t,
            bin,
            (xs) => p99(xs.map((o) => o.ms)),
          ),
        })),
      },
    ],
  };
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  const runs: { variant: Variant; r: Run }[] = [];
  for (const variant of VARIANTS) {
    ctx.progress(`${variant.label}: starting a primary + replica, then load, kill, promote`);
    runs.push({ variant, r: await runVariant(variant, settings, ctx.answered) });
  }
  const metrics = Object.fromEntries(runs.map(({ variant, r }) => [variant.id, metricsOf(r)]));
  const rows: ResultRow[] = runs.map(({ variant }) => ({
    label: variant.label,
    metrics: metrics[variant.id] ?? {},
  }));
  const b = metrics.ballast;
  const raw = metrics.raw;
  const bars: Bar[] = [
    {
      name: 'ballast-writes-ok-after-promote',
      value: b?.writesOkShareAfterPromote ?? 0,
      bar: 0.9,
      op: '>=',
      description:
        'share of Ballast writes issued after the promotion that succeeded (on the promoted replica)',
    },
    {
      name: 'ballast-reads-ok-from-kill',
      value: b?.readsOkShareFromKill ?? 0,
      bar: 0.99,
      op: '>=',
      description: 'share of Ballast reads issued from the kill on that succeeded',
    },
    {
      name: 'ballast-writes-back-vs-promote-delay',
      value: round((b?.writesBackAfterPromoteS ?? Number.POSITIVE_INFINITY) / (PROMOTE_AFTER_MS / 1000), 3),
      bar: 1,
      op: '<=',
      description: `time from the promotion to Ballast's first successful write / the ${PROMOTE_AFTER_MS} ms the orchestrator took to promote`,
    },
  ];
  const notes = [
    `Raw pg.Pool: writes succeeded after the promotion ${round((raw?.writesOkShareAfterPromote ?? 0) * 100, 1)} % (its pool knows only the old primary's address); ` +
      `Ballast ${round((b?.writesOkShareAfterPromote ?? 0) * 100, 1)} %, the first ${b?.writesBackAfterPromoteS ?? '–'} s after pg_promote() returned, without a restart or a new URL.`,
    `Without a primary (kill → promote, ${PROMOTE_AFTER_MS} ms): write failures p99 Ballast ${b?.writeFailP99MsNoPrimary ?? '–'} ms, raw ${raw?.writeFailP99MsNoPrimary ?? '–'} ms (a killed server refuses connections at once, so both fail fast here; pg-outage covers a silent primary).`,
    `Each variant runs on a fresh primary + replica (a promotion cannot be undone): ${settings.beforeMs / 1000} s of load, SIGKILL of the primary, pg_promote() on the replica ${PROMOTE_AFTER_MS / 1000} s later, load until ${(settings.beforeMs + settings.afterMs) / 1000} s.`,
  ];
  return {
    rows,
    bars,
    charts: [timelineChart(runs, settings)],
    notes,
    config: {
      ...settings,
      timeoutMs: TIMEOUT_MS,
      writesPerSec: WRITES_PER_SEC,
      readsPerSec: READS_PER_SEC,
      promoteAfterMs: PROMOTE_AFTER_MS,
      variants: VARIANTS.map((v) => ({ id: v.id, config: v.config })),
    },
    raw: Object.fromEntries(
      runs.map(({ variant, r }) => [variant.id, { killedAt: r.killedAt, promotedAt: r.promotedAt }]),
    ),
  };
}

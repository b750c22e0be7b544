/**
 * A primary outage: steady writes (to the primary) and eventual reads (to the replica) while the network to the
 * primary goes silent (a blackholing FaultProxy) for a few seconds. Ballast vs raw pg.Pools with 2 s timeouts.
 */

import { isBallastError } from '@ballast/core';
import { openLoop } from '../lib/open-loop.js';
import {
  countKinds,
  describeCounts,
  errorKind,
  p50p99,
  percentiles,
  sleepMs,
  startProxy,
  waitUntil,
  withPostgres,
} from '../lib/pg-bench.js';
import { type PrimaryFaultVariant, primaryFaultVariants } from '../lib/primary-fault-variants.js';
import { round } from '../lib/stats.js';
import { binnedSeries, p99, perSecond } from '../lib/timeline-series.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult, TimelineChart } from '../lib/types.js';

export const name = 'pg-outage';
export const description =
  'Primary blackholed for a few seconds under 100 writes/s + 300 eventual reads/s (replica reachable): write failure latency, read success, fail-fast and recovery times — Ballast vs raw pg.Pools with 2 s timeouts.';

const TIMEOUT_MS = 2000;
const WRITES_PER_SEC = 100;
const READS_PER_SEC = 300;
/** Writes issued this long after the outage started count as "outage known". */
const KNOWN_AFTER_MS = 1000;
const SETTINGS = {
  full: { beforeMs: 2000, outageMs: 5000, afterMs: 3000 },
  ci: { beforeMs: 1000, outageMs: 3000, afterMs: 2000 },
} as const;
/** The chart's bins: 25 writes and 75 reads a bin. */
const CHART_BIN_MS = 250;
const GOALS = { writeFailP99Ms: 5, readOkShare: 0.999, recoveryMs: 1000, knownWithinMs: 1000 };

type Kind = 'write' | 'read';

type Variant = PrimaryFaultVariant;

const VARIANTS = primaryFaultVariants('outage', TIMEOUT_MS);

interface Op {
  kind: Kind;
  t0: number;
  ms: number;
  ok: boolean | undefined;
  error?: string;
  primaryUnavailable?: boolean;
}

async function runVariant(
  variant: Variant,
  primaryUrl: string,
  primaryPort: number,
  replicaUrl: string,
  settings: Settings,
  onAnswer: () => void,
) {
  const { proxy, url } = await startProxy(primaryUrl, primaryPort);
  const client = await variant.make(url, replicaUrl);
  try {
    // warm the pools up
    for (let i = 0; i < 20; i++) await Promise.all([client.write(-1), client.read()]);
    const ops: Op[] = [];
    let n = 0;
    const arrive = () => {
      const kind: Kind = n++ % 4 === 0 ? 'write' : 'read';
      const op: Op = { kind, t0: performance.now(), ms: Number.NaN, ok: undefined };
      ops.push(op);
      let p: Promise<unknown>;
      try {
        p = kind === 'write' ? client.write(n) : client.read();
      } catch (error) {
        p = Promise.reject(error);
      }
      p.then(
        () => {
          op.ms = performance.now() - op.t0;
          op.ok = true;
          onAnswer();
        },
        (error: unknown) => {
          op.ms = performance.now() - op.t0;
          op.ok = false;
          op.error = errorKind(error);
          op.primaryUnavailable = isBallastError(error, 'BALLAST_PRIMARY_UNAVAILABLE');
        },
      );
    };
    const rate = WRITES_PER_SEC + READS_PER_SEC;
    const start = performance.now();
    const timeline: Record<string, number | string | null>[] = [];
    const sampler =
      client.state === undefined
        ? undefined
        : setInterval(() => {
            timeline.push({ tMs: Math.round(performance.now() - start), ...client.state?.() });
          }, 100);
    let outageStart = Number.NaN;
    let outageEnd = Number.NaN;
    const load = openLoop(rate, settings.beforeMs + settings.outageMs + settings.afterMs, arrive);
    await sleepMs(settings.beforeMs);
    await proxy.set({ blackhole: true });
    outageStart = performance.now();
    await sleepMs(settings.outageMs);
    await proxy.clear();
    outageEnd = performance.now();
    await load;
    // every call is bounded by the 2 s timeouts (plus a connect timeout for the raw pool)
    await waitUntil(() => ops.every((o) => o.ok !== undefined), 2 * TIMEOUT_MS + 1000, 20);
    clearInterval(sampler);
    return { ops, start, outageStart, outageEnd, timeline };
  } finally {
    await client.close().catch(() => {});
    await proxy.close().catch(() => {});
  }
}

type Settings = (typeof SETTINGS)[keyof typeof SETTINGS];
type Run = Awaited<ReturnType<typeof runVariant>>;

function metricsOf(r: Run) {
  const during = (o: Op) => o.t0 >= r.outageStart && o.t0 < r.outageEnd;
  const known = (o: Op) => o.t0 >= r.outageStart + KNOWN_AFTER_MS && o.t0 < r.outageEnd;
  const writes = r.ops.filter((o) => o.kind === 'write');
  const reads = r.ops.filter((o) => o.kind === 'read');
  const outageReads = reads.filter(during);
  const failedKnown = writes.filter((o) => known(o) && o.ok === false).map((o) => o.ms);
  const failedAll = writes.filter((o) => during(o) && o.ok === false).map((o) => o.ms);
  const settledAt = (o: Op) => o.t0 + o.ms;
  // the first fast failure: for Ballast its PRIMARY_UNAVAILABLE; for the raw pool, its first error of any kind
  const firstFail = writes
    .filter((o) => o.ok === false && settledAt(o) >= r.outageStart)
    .map(settledAt)
    .sort((a, b) => a - b)[0];
  const firstFastFail = writes
    .filter((o) => o.ok === false && o.primaryUnavailable === true && settledAt(o) >= r.outageStart)
    .map(settledAt)
    .sort((a, b) => a - b)[0];
  // writes are back: the first write issued after the fault was cleared that succeeded, when it completed
  const firstOkAfter = writes
    .filter((o) => o.ok === true && o.t0 >= r.outageEnd)
    .map(settledAt)
    .sort((a, b) => a - b)[0];
  // informational: writes issued once Ballast itself knew (its first PRIMARY_UNAVAILABLE), until the fault cleared
  const failedOnceFast =
    firstFastFail === undefined
      ? []
      : writes.filter((o) => o.t0 >= firstFastFail && o.t0 < r.outageEnd && o.ok === false).map((o) => o.ms);
  const afterWrites = writes.filter((o) => o.t0 >= r.outageEnd);
  const beforeWrites = writes.filter((o) => o.t0 < r.outageStart);
  const fk = p50p99(failedKnown, 2);
  return {
    writesBeforeOkShare: round(beforeWrites.filter((o) => o.ok).length / Math.max(1, beforeWrites.length), 3),
    writesDuringOutage: writes.filter(during).length,
    writeFailP50MsKnown: fk.p50,
    writeFailP99MsKnown: fk.p99,
    writeFailP99MsAll: p50p99(failedAll, 1).p99,
    writeFailP99MsAfterFailFast: p50p99(failedOnceFast, 2).p99,
    readsDuringOutage: outageReads.length,
    readOkShareOutage: round(outageReads.filter((o) => o.ok).length / Math.max(1, outageReads.length), 4),
    readP99MsOutage: p50p99(
      outageReads.filter((o) => o.ok).map((o) => o.ms),
      1,
    ).p99,
    firstWriteErrorS: firstFail === undefined ? null : round((firstFail - r.outageStart) / 1000, 3),
    failFastAfterS: firstFastFail === undefined ? null : round((firstFastFail - r.outageStart) / 1000, 3),
    writesBackAfterS: firstOkAfter === undefined ? null : round((firstOkAfter - r.outageEnd) / 1000, 3),
    writesAfterOkShare: round(afterWrites.filter((o) => o.ok).length / Math.max(1, afterWrites.length), 3),
    unfinished: r.ops.filter((o) => o.ok === undefined).length,
  };
}

/** Writes and reads answered per second and how long failing writes took, per variant; the blackhole shaded. */
function timelineChart(runs: readonly { variant: Variant; r: Run }[], settings: Settings): TimelineChart {
  const bin = { binMs: CHART_BIN_MS, endMs: settings.beforeMs + settings.outageMs + settings.afterMs };
  const okPerSecond = (kind: Kind) =>
    runs.map(({ variant, r }) => ({
      label: variant.label,
      points: binnedSeries(
        r.ops.filter((o) => o.kind === kind && o.ok === true),
        (o) => o.t0 + o.ms - r.start,
        bin,
        perSecond(CHART_BIN_MS),
      ),
    }));
  return {
    id: 'timeline',
    title: `pg-outage: ${WRITES_PER_SEC} writes/s + ${READS_PER_SEC} eventual reads/s, primary blackholed for ${settings.outageMs / 1000} s`,
    faults: [
      {
        fromS: settings.beforeMs / 1000,
        toS: (settings.beforeMs + settings.outageMs) / 1000,
        label: 'primary blackholed (replica reachable)',
      },
    ],
    panels: [
      {
        metric: `writes that succeeded, by answer time, ${CHART_BIN_MS} ms bins`,
        unit: 'writes/s',
        series: okPerSecond('write'),
      },
      {
        metric: `reads that succeeded, by answer time, ${CHART_BIN_MS} ms bins`,
        unit: 'reads/s',
        series: okPerSecond('read'),
      },
      {
        metric: 'p99 time to a failed write, by issue time; no line: no failure',
        unit: 'ms',
        series: runs.map(({ variant, r }) => ({
          label: variant.label,
          points: binnedSeries(
            r.ops.filter((o) => o.kind === 'write' && o.ok === false),
            (o) => o.t0 - r.start,
            bin,
            (ops) => p99(ops.map((o) => o.ms)),
          ),
        })),
      },
    ],
  };
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting PostgreSQL (primary + replica)');
  return withPostgres([{ replicas: 1 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    const replicaUrl = pgc.replicas[0]?.url;
    if (replicaUrl === undefined) throw new Error('no replica');
    await pgc.query('primary', 'CREATE TABLE outage (id bigserial PRIMARY KEY, v int NOT NULL)');
    await pgc.waitForReplay(0);
    const rows: ResultRow[] = [];
    const errorRows: ResultRow[] = [];
    const metrics: Record<string, ReturnType<typeof metricsOf>> = {};
    const raw: Record<string, unknown> = {};
    const runs: { variant: Variant; r: Run }[] = [];
    for (const variant of VARIANTS) {
      const total = (settings.beforeMs + settings.outageMs + settings.afterMs) / 1000;
      ctx.progress(`${variant.label} (${total} s, primary blackholed for ${settings.outageMs / 1000} s)`);
      ctx.gc();
      const r = await runVariant(
        variant,
        pgc.primary.url,
        pgc.primary.port,
        replicaUrl,
        settings,
        ctx.answered,
      );
      runs.push({ variant, r });
      const m = metricsOf(r);
      metrics[variant.id] = m;
      rows.push({ label: variant.label, group: 'writes', metrics: pick(m, WRITE_COLUMNS) });
      rows.push({ label: variant.label, group: 'reads during the outage', metrics: pick(m, READ_COLUMNS) });
      const during = r.ops.filter((o) => o.t0 >= r.outageStart && o.t0 < r.outageEnd);
      const after = r.ops.filter((o) => o.t0 >= r.outageEnd);
      const kinds = (ops: Op[], kind: Kind) =>
        describeCounts(countKinds(ops.filter((o) => o.kind === kind).map((o) => o.error)));
      errorRows.push({
        label: variant.label,
        group: 'errors by kind',
        metrics: {
          writesDuringOutage: kinds(during, 'write'),
          writesAfterOutage: kinds(after, 'write'),
          readsDuringOutage: kinds(during, 'read'),
        },
      });
      const rel = (o: Op) => o.t0 - r.start;
      raw[variant.id] = {
        config: variant.config,
        outageStartMs: r.outageStart - r.start,
        outageEndMs: r.outageEnd - r.start,
        // every 100 ms (Ballast): primary known, the primary's pool (connections, connecting, busy, waiting), limit
        timeline: r.timeline,
        writeFailMsPercentilesKnown: percentiles(
          r.ops
            .filter(
              (o) =>
                o.kind === 'write' &&
                o.ok === false &&
                o.t0 >= r.outageStart + KNOWN_AFTER_MS &&
                o.t0 < r.outageEnd,
            )
            .map((o) => o.ms),
        ),
        // every write: [issued at ms since start, latency ms, ok]
        writes: r.ops
          .filter((o) => o.kind === 'write')
          .map((o) => [Math.round(rel(o)), round(o.ms, 2), o.ok === true ? 1 : 0]),
      };
    }
    rows.push(...errorRows);
    const b = metrics.ballast;
    const rawM = metrics.raw;
    const outageMs = settings.outageMs;
    const bars: Bar[] = [
      {
        name: 'ballast-read-ok-share-outage',
        value: b?.readOkShareOutage ?? 0,
        bar: GOALS.readOkShare,
        op: '>=',
        description: 'share of Ballast eventual reads issued during the outage that succeeded',
      },
      {
        name: 'ballast-write-fail-p99-vs-raw',
        value: round(
          (Number(b?.writeFailP99MsKnown) || TIMEOUT_MS) / (Number(rawM?.writeFailP99MsKnown) || TIMEOUT_MS),
          4,
        ),
        bar: 0.05,
        op: '<=',
        description: `Ballast write failure p99 / raw pg.Pool's, writes issued ≥ ${KNOWN_AFTER_MS / 1000} s into the outage`,
      },
      {
        name: 'ballast-recovery-vs-outage',
        value: round(((b?.writesBackAfterS ?? Number.POSITIVE_INFINITY) * 1000) / outageMs, 3),
        bar: 0.2,
        op: '<=',
        description: 'time from clearing the fault until a Ballast write succeeds / the outage length',
      },
    ];
    const yes = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const notes = [
      `Goals (informational): writes fail ≤ ${GOALS.writeFailP99Ms} ms p99 once the outage is known — ` +
        `${b?.writeFailP99MsKnown ?? '–'} ms (${yes(Number(b?.writeFailP99MsKnown) <= GOALS.writeFailP99Ms)}), known ` +
        `(first BALLAST_PRIMARY_UNAVAILABLE) ${b?.failFastAfterS ?? '–'} s after the outage began ` +
        `(${yes((b?.failFastAfterS ?? 99) * 1000 <= GOALS.knownWithinMs)}, goal ≤ 1 s); reads ≥ 99.9 % ok — ` +
        `${round((b?.readOkShareOutage ?? 0) * 100, 2)} % (${yes((b?.readOkShareOutage ?? 0) >= GOALS.readOkShare)}); ` +
        `writes back ≤ 1 s after the primary returns — ${b?.writesBackAfterS ?? '–'} s ` +
        `(${yes((b?.writesBackAfterS ?? 99) * 1000 <= GOALS.recoveryMs)}).`,
      `Raw pg.Pool: writes fail after p99 ${rawM?.writeFailP99MsKnown ?? '–'} ms during the outage, first error ` +
        `${rawM?.firstWriteErrorS ?? '–'} s in; writes back ${rawM?.writesBackAfterS ?? '–'} s after the fault cleared.`,
      `Load: ${WRITES_PER_SEC} writes/s + ${READS_PER_SEC} reads/s open loop (every 4th arrival a write); ` +
        `${settings.beforeMs / 1000} s healthy, ${outageMs / 1000} s with the primary's proxy blackholed ` +
        `(connections stay open, bytes are dropped), ${settings.afterMs / 1000} s after clearing it. The replica ` +
        'is reached directly and keeps streaming from the primary.',
      'writeFail*Known: writes issued ≥ 1 s into the outage that failed (latency from the call to the error); ' +
        'firstWriteErrorS: first write error of any kind after the outage began; failFastAfterS: first ' +
        'BALLAST_PRIMARY_UNAVAILABLE; writeFailP99MsAfterFailFast: writes issued after that first ' +
        'BALLAST_PRIMARY_UNAVAILABLE (informational); writesBackAfterS: completion of the first successful write issued after ' +
        'the fault cleared.',
    ];
    return {
      rows,
      bars,
      notes,
      charts: [timelineChart(runs, settings)],
      config: {
        ...settings,
        timeoutMs: TIMEOUT_MS,
        writesPerSec: WRITES_PER_SEC,
        readsPerSec: READS_PER_SEC,
        knownAfterMs: KNOWN_AFTER_MS,
        postgres: pgc.version,
        variants: VARIANTS.map((v) => ({ id: v.id, config: v.config })),
      },
      raw,
    };
  });
}

const WRITE_COLUMNS = [
  'writesBeforeOkShare',
  'writesDuringOutage',
  'writeFailP50MsKnown',
  'writeFailP99MsKnown',
  'writeFailP99MsAll',
  'writeFailP99MsAfterFailFast',
  'firstWriteErrorS',
  'failFastAfterS',
  'writesBackAfterS',
  'writesAfterOkShare',
  'unfinished',
] as const;
const READ_COLUMNS = ['readsDuringOutage', 'readOkShareOutage', 'readP99MsOutage'] as const;

function pick<T extends Record<string, number | string | null>>(
  m: T,
  keys: readonly (keyof T & string)[],
): Record<string, number | string | null> {
  return Object.fromEntries(keys.map((k) => [k, m[k] ?? null]));
}

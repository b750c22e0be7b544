/**
 * A replica lag spike: a primary and a streaming replica under steady eventual reads and write-then-read sessions,
 * while the replica stops replaying for a few seconds. Random replica routing, a Rails-style 2 s primary window and
 * Ballast (`maxReplicaLagMs` 1 s): how old the eventual reads' data gets, stale session reads, where reads ran.
 */

import { createCluster } from '@ballast/pg';
import type { PostgresCluster } from '@ballast/testkit';
import { openLoop } from '../lib/open-loop.js';
import {
  countKinds,
  describeCounts,
  endPool,
  errorKind,
  p50p99,
  rawPool,
  sleepMs,
  waitUntil,
  withPostgres,
} from '../lib/pg-bench.js';
import { quantile, round } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult, TimelineChart } from '../lib/types.js';

export const name = 'replica-lag-spike';
export const description =
  'Primary + streaming replica, 200 eventual reads/s and 40 write-then-read sessions/s; replay paused for a few seconds: random replica, a 2 s primary window (Rails) and Ballast (maxReplicaLagMs 1 s) — data age of eventual reads, stale sessions, reads on the replica.';

/** The staleness the application accepts for eventual reads: Ballast's `routing.maxReplicaLagMs`. */
const BOUND_MS = 1000;
const READS_PER_SEC = 200;
const SESSIONS_PER_SEC = 40;
const HEARTBEAT_MS = 20;
const DEADLINE_MS = 1000;
const WINDOW_MS = 2000;
const BIN_MS = 250;
const SETTINGS = {
  full: { beforeMs: 3000, spikeMs: 5000, afterMs: 3000 },
  ci: { beforeMs: 1500, spikeMs: 2500, afterMs: 1500 },
} as const;

const INSERT = 'INSERT INTO lag_sessions (v) VALUES ($1) RETURNING id';
const SESSION_READ = 'SELECT EXISTS (SELECT 1 FROM lag_sessions WHERE id = $1) AS found';
/** Where the read ran, and how old the heartbeat it saw is (the data's age: the primary writes it every 20 ms). */
const EVENTUAL_READ =
  'SELECT pg_is_in_recovery() AS replica, (EXTRACT(EPOCH FROM clock_timestamp() - ts) * 1000)::float8 AS age_ms FROM lag_heartbeat WHERE id = 1';

interface EventualRow {
  replica: boolean;
  age_ms: number;
}

interface Client {
  eventual(): Promise<EventualRow>;
  /** Writes a row and reads it back; resolves whether the read saw it. */
  session(i: number): Promise<boolean>;
  close(): Promise<void>;
}

interface Variant {
  id: string;
  label: string;
  config: string;
  make(primaryUrl: string, replicaUrl: string): Promise<Client>;
}

const POOL = 16;

/**
 * Two raw pools, writes on the primary and eventual reads on the replica; a session's read-back goes to the replica,
 * or with `sessionReadsOnPrimary` to the primary (a read right after the write is always inside a Rails window).
 */
function rawPools(id: string, label: string, config: string, sessionReadsOnPrimary: boolean): Variant {
  return {
    id,
    label,
    config,
    async make(primaryUrl, replicaUrl) {
      const primary = rawPool({ connectionString: primaryUrl, max: POOL });
      const replica = rawPool({ connectionString: replicaUrl, max: POOL });
      const sessionReads = sessionReadsOnPrimary ? primary : replica;
      return {
        eventual: async () => (await replica.query<EventualRow>(EVENTUAL_READ)).rows[0] as EventualRow,
        async session(i) {
          const { rows } = await primary.query<{ id: string }>(INSERT, [i]);
          const r = await sessionReads.query<{ found: boolean }>(SESSION_READ, [rows[0]?.id]);
          return r.rows[0]?.found === true;
        },
        close: async () => {
          await Promise.all([endPool(primary), endPool(replica)]);
        },
      };
    },
  };
}

const VARIANTS: Variant[] = [
  rawPools(
    'random-replica',
    'random replica (withReplicas)',
    'writes on a primary pg.Pool; every read on a replica pg.Pool (1 replica here), whatever its lag',
    false,
  ),
  rawPools(
    'primary-window',
    '2 s primary window (Rails)',
    `a session's reads go to the primary for ${WINDOW_MS} ms after its write; eventual reads to the replica`,
    true,
  ),
  {
    id: 'ballast',
    label: `ballast (maxReplicaLagMs ${BOUND_MS})`,
    config: `createCluster({ primary, replicas: [replica], pool: { max: ${POOL} }, routing: { maxReplicaLagMs: ${BOUND_MS} } }); db.read(sql, [], { consistency: 'eventual' }); s = db.session(); s.write(); s.read()`,
    async make(primaryUrl, replicaUrl) {
      const db = createCluster({
        primary: primaryUrl,
        replicas: [replicaUrl],
        pool: { max: POOL },
        routing: { maxReplicaLagMs: BOUND_MS },
      });
      // Replicas serve reads once a health check has confirmed them.
      await waitUntil(() => db.stats().hosts.every((h) => h.healthy), 5000, 20);
      const options = { consistency: 'eventual', deadlineMs: DEADLINE_MS } as const;
      return {
        eventual: async () => (await db.read<EventualRow>(EVENTUAL_READ, [], options)).rows[0] as EventualRow,
        async session(i) {
          const s = db.session();
          const { rows } = await s.write<{ id: string }>(INSERT, [i], { deadlineMs: DEADLINE_MS });
          const r = await s.read<{ found: boolean }>(SESSION_READ, [rows[0]?.id], {
            deadlineMs: DEADLINE_MS,
          });
          return r.rows[0]?.found === true;
        },
        close: () => db.close(),
      };
    },
  },
];

type Phase = 'before' | 'spike' | 'after';
const PHASES: readonly Phase[] = ['before', 'spike', 'after'];

interface ReadResult {
  /** ms since the load started, when the read was issued. */
  t: number;
  ms: number;
  ok: boolean;
  replica: boolean;
  ageMs: number;
  error?: string;
}

interface SessionResult {
  t: number;
  ok: boolean;
  stale: boolean;
  error?: string;
}

/** The primary writes the heartbeat every 20 ms for as long as the scenario runs. */
function heartbeat(url: string): { stop(): Promise<void> } {
  const pool = rawPool({ connectionString: url, max: 1 });
  let running = true;
  const done = (async () => {
    while (running) {
      await pool.query('UPDATE lag_heartbeat SET ts = clock_timestamp() WHERE id = 1').catch(() => {});
      await sleepMs(HEARTBEAT_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      await endPool(pool);
    },
  };
}

async function runVariant(
  variant: Variant,
  pgc: PostgresCluster,
  settings: (typeof SETTINGS)[keyof typeof SETTINGS],
  onAnswer: () => void,
): Promise<{ reads: ReadResult[]; sessions: SessionResult[]; spikeAt: number; resumeAt: number }> {
  const replicaUrl = pgc.replicas[0]?.url;
  if (replicaUrl === undefined) throw new Error('no replica');
  const client = await variant.make(pgc.primary.url, replicaUrl);
  const reads: ReadResult[] = [];
  const sessions: SessionResult[] = [];
  const pending: Promise<void>[] = [];
  try {
    // Warm-up: connections open, Ballast's health checks have seen the replica's lag.
    for (let i = 0; i < 20; i++) await Promise.all([client.eventual(), client.session(-1 - i)]);
    const t0 = performance.now();
    const totalMs = settings.beforeMs + settings.spikeMs + settings.afterMs;
    const spikeAt = settings.beforeMs;
    const resumeAt = settings.beforeMs + settings.spikeMs;
    const faults = (async () => {
      await sleepMs(spikeAt);
      await pgc.pauseReplay(0);
      await sleepMs(resumeAt - (performance.now() - t0));
      await pgc.resumeReplay(0);
    })();
    let n = 0;
    const readLoad = openLoop(READS_PER_SEC, totalMs, () => {
      const t = performance.now() - t0;
      pending.push(
        client.eventual().then(
          (row) => {
            onAnswer();
            reads.push({
              t,
              ms: performance.now() - t0 - t,
              ok: true,
              replica: row.replica,
              ageMs: row.age_ms,
            });
          },
          (error: unknown) => {
            reads.push({
              t,
              ms: performance.now() - t0 - t,
              ok: false,
              replica: false,
              ageMs: Number.NaN,
              error: errorKind(error),
            });
          },
        ),
      );
    });
    const sessionLoad = openLoop(SESSIONS_PER_SEC, totalMs, () => {
      const t = performance.now() - t0;
      pending.push(
        client.session(n++).then(
          (found) => {
            sessions.push({ t, ok: true, stale: !found });
          },
          (error: unknown) => {
            sessions.push({ t, ok: false, stale: false, error: errorKind(error) });
          },
        ),
      );
    });
    await Promise.all([readLoad, sessionLoad, faults]);
    await Promise.all(pending);
    // The next variant starts from a caught-up replica.
    await pgc.waitForReplay(0, 15_000);
    return { reads, sessions, spikeAt, resumeAt };
  } finally {
    await pgc.resumeReplay(0).catch(() => {});
    await client.close();
  }
}

function phaseOf(t: number, spikeAt: number, resumeAt: number): Phase {
  if (t < spikeAt) return 'before';
  return t < resumeAt ? 'spike' : 'after';
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting PostgreSQL (primary + streaming replica)');
  return withPostgres([{ replicas: 1 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    await pgc.query('primary', 'CREATE TABLE lag_sessions (id bigserial PRIMARY KEY, v int NOT NULL)');
    await pgc.query('primary', 'CREATE TABLE lag_heartbeat (id int PRIMARY KEY, ts timestamptz NOT NULL)');
    await pgc.query('primary', 'INSERT INTO lag_heartbeat VALUES (1, clock_timestamp())');
    await pgc.waitForReplay(0);
    const beat = heartbeat(pgc.primary.url);
    const rows: ResultRow[] = [];
    const raw: Record<string, unknown> = {};
    const summary: Record<
      string,
      Record<
        Phase,
        { beyondShare: number; ageP99: number; okShare: number; staleSessions: number; replicaShare: number }
      >
    > = {};
    const chart: TimelineChart = {
      id: 'timeline',
      title: `Replica lag spike: replay paused for ${settings.spikeMs / 1000} s (eventual reads ${READS_PER_SEC}/s, sessions ${SESSIONS_PER_SEC}/s)`,
      faults: [],
      panels: [
        { metric: 'age of the data eventual reads saw, p99', unit: 'ms', series: [] },
        { metric: 'eventual reads served by the replica', unit: '%', series: [] },
        { metric: 'stale session reads', unit: 'per 250 ms', series: [] },
      ],
    };
    try {
      for (const variant of VARIANTS) {
        ctx.progress(
          `${variant.label}: ${(settings.beforeMs + settings.spikeMs + settings.afterMs) / 1000} s of load`,
        );
        const r = await runVariant(variant, pgc, settings, ctx.answered);
        if (chart.faults.length === 0) {
          chart.faults.push({ fromS: r.spikeAt / 1000, toS: r.resumeAt / 1000, label: 'replay paused' });
        }
        const perPhase = {} as (typeof summary)[string];
        for (const phase of PHASES) {
          const reads = r.reads.filter((x) => phaseOf(x.t, r.spikeAt, r.resumeAt) === phase);
          const ok = reads.filter((x) => x.ok);
          const sessions = r.sessions.filter((x) => phaseOf(x.t, r.spikeAt, r.resumeAt) === phase);
          const ages = ok.map((x) => x.ageMs);
          const beyond = ok.filter((x) => x.ageMs > BOUND_MS).length;
          const staleSessions = sessions.filter((x) => x.stale).length;
          const lat = p50p99(ok.map((x) => x.ms));
          const s = {
            beyondShare: beyond / Math.max(1, ok.length),
            ageP99: quantile(ages, 0.99),
            okShare: ok.length / Math.max(1, reads.length),
            staleSessions,
            replicaShare: ok.filter((x) => x.replica).length / Math.max(1, ok.length),
          };
          perPhase[phase] = s;
          rows.push({
            label: variant.label,
            group: `phase: ${phase}${phase === 'spike' ? ` (replay paused ${settings.spikeMs / 1000} s)` : ''}`,
            metrics: {
              eventualReads: reads.length,
              okShare: round(s.okShare, 4),
              replicaShare: round(s.replicaShare, 3),
              ageP50Ms: round(quantile(ages, 0.5), 0),
              ageP99Ms: round(s.ageP99, 0),
              beyondBoundShare: round(s.beyondShare, 3),
              readP99Ms: lat.p99,
              sessions: sessions.length,
              staleSessions,
              errors: describeCounts(countKinds([...reads, ...sessions].map((x) => x.error))),
            },
          });
        }
        summary[variant.id] = perPhase;
        // 250 ms bins of issue time for the chart.
        const totalMs = settings.beforeMs + settings.spikeMs + settings.afterMs;
        const bins = Math.ceil(totalMs / BIN_MS);
        const age: [number, number][] = [];
        const onReplica: [number, number][] = [];
        const stale: [number, number][] = [];
        for (let b = 0; b < bins; b++) {
          const inBin = <T extends { t: number }>(xs: T[]) =>
            xs.filter((x) => x.t >= b * BIN_MS && x.t < (b + 1) * BIN_MS);
          const ok = inBin(r.reads).filter((x) => x.ok);
          const t = ((b + 0.5) * BIN_MS) / 1000;
          age.push([
            t,
            ok.length === 0
              ? Number.NaN
              : round(
                  quantile(
                    ok.map((x) => x.ageMs),
                    0.99,
                  ),
                  0,
                ),
          ]);
          onReplica.push([
            t,
            ok.length === 0 ? Number.NaN : round((100 * ok.filter((x) => x.replica).length) / ok.length, 1),
          ]);
          stale.push([t, inBin(r.sessions).filter((x) => x.stale).length]);
        }
        chart.panels[0]?.series.push({ label: variant.label, points: age });
        chart.panels[1]?.series.push({ label: variant.label, points: onReplica });
        chart.panels[2]?.series.push({ label: variant.label, points: stale });
        raw[variant.id] = { spikeAt: r.spikeAt, resumeAt: r.resumeAt, perPhase };
      }
    } finally {
      await beat.stop();
    }
    const b = summary.ballast?.spike;
    const rnd = summary['random-replica']?.spike;
    const bars: Bar[] = [
      {
        name: 'ballast-stale-sessions-spike',
        value: b?.staleSessions ?? Number.NaN,
        bar: 0,
        op: '<=',
        description:
          'Ballast session reads that missed their own write during the lag spike (of the sessions in it)',
      },
      {
        name: 'ballast-eventual-ok-share-spike',
        value: round(b?.okShare ?? 0, 4),
        bar: 0.99,
        op: '>=',
        description:
          'share of Ballast eventual reads answered during the spike (on the primary once the replica lags)',
      },
      {
        name: 'ballast-vs-random-beyond-bound-spike',
        value: round((b?.beyondShare ?? 1) / Math.max(0.001, rnd?.beyondShare ?? 0), 3),
        bar: 0.35,
        op: '<=',
        description: `share of eventual reads whose data was older than ${BOUND_MS} ms during the spike: Ballast's / random replica's`,
      },
    ];
    const pct = (x: number | undefined) => `${round((x ?? Number.NaN) * 100, 1)} %`;
    const notes = [
      `During the spike, eventual reads older than the ${BOUND_MS} ms bound: Ballast ${pct(b?.beyondShare)}, random replica ${pct(rnd?.beyondShare)}; ` +
        `data age p99 Ballast ${round(b?.ageP99 ?? Number.NaN, 0)} ms, random replica ${round(rnd?.ageP99 ?? Number.NaN, 0)} ms. ` +
        `Ballast learns the replica's lag from health checks every 500 ms (routing.healthIntervalMs): reads issued between the lag crossing the bound and the next check still see older data.`,
      `Reads on the replica during the spike: Ballast ${pct(b?.replicaShare)} (the rest on the primary, under its own limit), random replica ${pct(rnd?.replicaShare)}. ` +
        `Stale session reads during the spike: Ballast ${b?.staleSessions ?? '–'}, random replica ${rnd?.staleSessions ?? '–'}, 2 s primary window ${summary['primary-window']?.spike.staleSessions ?? '–'} (its session reads all go to the primary).`,
      `Load: ${READS_PER_SEC} eventual reads/s and ${SESSIONS_PER_SEC} write-then-read sessions/s, open loop; the primary updates a heartbeat row every ${HEARTBEAT_MS} ms and each eventual read returns its age (same machine, same clock). ` +
        `Phases ${settings.beforeMs / 1000} s / ${settings.spikeMs / 1000} s (replay paused on the replica: pg_wal_replay_pause) / ${settings.afterMs / 1000} s; phases by issue time.`,
    ];
    return {
      rows,
      bars,
      charts: [chart],
      notes,
      config: {
        ...settings,
        boundMs: BOUND_MS,
        readsPerSec: READS_PER_SEC,
        sessionsPerSec: SESSIONS_PER_SEC,
        heartbeatMs: HEARTBEAT_MS,
        deadlineMs: DEADLINE_MS,
        postgres: pgc.version,
        variants: VARIANTS.map((v) => ({ id: v.id, config: v.config })),
      },
      raw,
    };
  });
}

/**
 * Read-your-writes on a real primary + streaming replica: sessions that insert a row on the primary and read it
 * straight back. Random replica routing, a Rails-style 2 s primary window and Ballast sessions, under no injected
 * lag, asynchronous commit, and replay paused at random.
 */

import { createCluster } from '@ballast/pg';
import type { PostgresCluster } from '@ballast/testkit';
import {
  countKinds,
  describeCounts,
  endPool,
  errorKind,
  fanOut,
  p50p99,
  percentiles,
  rawPool,
  sleepMs,
  waitUntil,
  withPostgres,
} from '../lib/pg-bench.js';
import { prng, round } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'pg-ryw';
export const description =
  'Write-then-read sessions on a primary + streaming replica: random replica, a 2 s primary window (Rails) and Ballast sessions — stale reads, replica share, latency; no lag, async commit, replay paused at random.';

const CONCURRENCY = 16;
const WINDOW_MS = 2000;
const SETTINGS = {
  full: { sessions: 10_000, warmup: 200 },
  ci: { sessions: 1000, warmup: 100 },
} as const;

const INSERT = 'INSERT INTO ryw (v) VALUES ($1) RETURNING id';
const READ = 'SELECT pg_is_in_recovery() AS replica, EXISTS (SELECT 1 FROM ryw WHERE id = $1) AS found';

interface ReadRow {
  replica: boolean;
  found: boolean;
}

/** One write-then-read session: resolves with where the read ran and whether it saw the row. */
type SessionFn = (i: number) => Promise<ReadRow & { readMs: number }>;

interface Strategy {
  id: string;
  label: string;
  config: string;
  make(primaryUrl: string, replicaUrl: string): Promise<{ session: SessionFn; close(): Promise<void> }>;
}

const STRATEGIES: Strategy[] = [
  {
    id: 'random-replica',
    label: 'random replica (withReplicas)',
    config: 'writes on a primary pg.Pool; every read on a replica pg.Pool picked at random (1 replica here)',
    async make(primaryUrl, replicaUrl) {
      const primary = rawPool({ connectionString: primaryUrl, max: CONCURRENCY });
      const replicas = [rawPool({ connectionString: replicaUrl, max: CONCURRENCY })];
      return {
        async session(i) {
          const { rows } = await primary.query<{ id: string }>(INSERT, [i]);
          const replica = replicas[Math.floor(Math.random() * replicas.length)] ?? primary;
          const t = performance.now();
          const r = await replica.query<ReadRow>(READ, [rows[0]?.id]);
          return { ...(r.rows[0] as ReadRow), readMs: performance.now() - t };
        },
        close: async () => {
          await Promise.all([endPool(primary), ...replicas.map((p) => endPool(p))]);
        },
      };
    },
  },
  {
    id: 'primary-window',
    label: '2 s primary window (Rails)',
    config: `reads go to the primary for ${WINDOW_MS} ms after the session's last write, else to a replica`,
    async make(primaryUrl, replicaUrl) {
      const primary = rawPool({ connectionString: primaryUrl, max: CONCURRENCY });
      const replica = rawPool({ connectionString: replicaUrl, max: CONCURRENCY });
      return {
        async session(i) {
          const { rows } = await primary.query<{ id: string }>(INSERT, [i]);
          const lastWriteAt = performance.now();
          const t = performance.now();
          const pool = t - lastWriteAt < WINDOW_MS ? primary : replica;
          const r = await pool.query<ReadRow>(READ, [rows[0]?.id]);
          return { ...(r.rows[0] as ReadRow), readMs: performance.now() - t };
        },
        close: async () => {
          await Promise.all([endPool(primary), endPool(replica)]);
        },
      };
    },
  },
  {
    id: 'ballast',
    label: 'ballast session',
    config: `createCluster({ primary, replicas: [replica], pool: { max: ${CONCURRENCY} } }); s = db.session(); s.write(); s.read()`,
    async make(primaryUrl, replicaUrl) {
      const db = createCluster({ primary: primaryUrl, replicas: [replicaUrl], pool: { max: CONCURRENCY } });
      // health checks have to have seen both hosts before replicas can serve session reads
      await waitUntil(() => db.stats().hosts.every((h) => h.healthy), 5000, 20);
      return {
        async session(i) {
          const s = db.session();
          const { rows } = await s.write<{ id: string }>(INSERT, [i]);
          const t = performance.now();
          const r = await s.read<ReadRow>(READ, [rows[0]?.id]);
          return { ...(r.rows[0] as ReadRow), readMs: performance.now() - t };
        },
        close: () => db.close(),
      };
    },
  },
];

interface Condition {
  id: 'no-lag' | 'async-commit' | 'replay-paused';
  label: string;
  /** Which started cluster: 0 = default synchronous_commit, 1 = synchronous_commit=off. */
  cluster: 0 | 1;
  /** Pauses and resumes replay at random while the strategy runs. */
  toggleReplay: boolean;
}

const CONDITIONS: Condition[] = [
  { id: 'no-lag', label: '(a) no injected lag', cluster: 0, toggleReplay: false },
  { id: 'async-commit', label: '(b) synchronous_commit=off', cluster: 1, toggleReplay: false },
  { id: 'replay-paused', label: '(c) replay paused at random', cluster: 0, toggleReplay: true },
];

/** Pauses/resumes replay on replica 0 every 50–200 ms until `stop()`; leaves replay running. */
function replayToggler(pgc: PostgresCluster, random: () => number) {
  let running = true;
  let paused = false;
  let toggles = 0;
  const done = (async () => {
    while (running) {
      await sleepMs(50 + random() * 150);
      if (!running) break;
      paused = !paused;
      toggles++;
      await (paused ? pgc.pauseReplay(0) : pgc.resumeReplay(0)).catch(() => {});
    }
    if (paused) await pgc.resumeReplay(0).catch(() => {});
  })();
  return {
    async stop(): Promise<number> {
      running = false;
      await done;
      return toggles;
    },
  };
}

interface SessionResult {
  ok: boolean;
  found: boolean;
  replica: boolean;
  ms: number;
  readMs: number;
  error?: string;
}

async function runStrategy(
  strategy: Strategy,
  condition: Condition,
  pgc: PostgresCluster,
  sessions: number,
  warmup: number,
  random: () => number,
): Promise<{ results: SessionResult[]; toggles: number; ms: number }> {
  const replicaUrl = pgc.replicas[0]?.url;
  if (replicaUrl === undefined) throw new Error('no replica');
  const client = await strategy.make(pgc.primary.url, replicaUrl);
  try {
    await fanOut(warmup, CONCURRENCY, async (i) => {
      await client.session(-1 - i);
    });
    const toggler = condition.toggleReplay ? replayToggler(pgc, random) : undefined;
    const results: SessionResult[] = [];
    const t0 = performance.now();
    let toggles = 0;
    try {
      await fanOut(sessions, CONCURRENCY, async (i) => {
        const t = performance.now();
        try {
          const r = await client.session(i);
          results.push({
            ok: true,
            found: r.found,
            replica: r.replica,
            ms: performance.now() - t,
            readMs: r.readMs,
          });
        } catch (error) {
          const ms = performance.now() - t;
          results.push({
            ok: false,
            found: false,
            replica: false,
            ms,
            readMs: Number.NaN,
            error: errorKind(error),
          });
        }
      });
    } finally {
      toggles = (await toggler?.stop()) ?? 0;
    }
    const ms = performance.now() - t0;
    // the next strategy starts from a caught-up replica
    await pgc.waitForReplay(0, 15_000);
    return { results, toggles, ms };
  } finally {
    await client.close();
  }
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  const seed = 0x5e5510;
  const random = prng(seed);
  ctx.progress('starting two PostgreSQL clusters (default and synchronous_commit=off)');
  return withPostgres([{ replicas: 1 }, { replicas: 1, synchronousCommit: 'off' }], async (clusters) => {
    for (const pgc of clusters) {
      await pgc.query('primary', 'CREATE TABLE ryw (id bigserial PRIMARY KEY, v int NOT NULL)');
      await pgc.waitForReplay(0);
    }
    const rows: ResultRow[] = [];
    const raw: Record<string, unknown> = {};
    const bars: Bar[] = [];
    const byKey: Record<string, { staleShare: number; replicaShare: number }> = {};
    for (const condition of CONDITIONS) {
      const pgc = clusters[condition.cluster];
      if (pgc === undefined) throw new Error('cluster missing');
      for (const strategy of STRATEGIES) {
        ctx.progress(`${condition.label}: ${strategy.label} (${settings.sessions} sessions)`);
        const r = await runStrategy(strategy, condition, pgc, settings.sessions, settings.warmup, random);
        const okResults = r.results.filter((x) => x.ok);
        const stale = okResults.filter((x) => !x.found).length;
        const onReplica = okResults.filter((x) => x.replica).length;
        const session = p50p99(okResults.map((x) => x.ms));
        const read = p50p99(okResults.map((x) => x.readMs));
        const staleShare = stale / Math.max(1, okResults.length);
        const replicaShare = onReplica / Math.max(1, okResults.length);
        byKey[`${condition.id}/${strategy.id}`] = { staleShare, replicaShare };
        rows.push({
          label: strategy.label,
          group: condition.label,
          metrics: {
            sessions: r.results.length,
            stale,
            staleShare: round(staleShare, 4),
            replicaShare: round(replicaShare, 3),
            sessionP50Ms: session.p50,
            sessionP99Ms: session.p99,
            readP50Ms: read.p50,
            readP99Ms: read.p99,
            sessionsPerSec: round((r.results.length / r.ms) * 1000, 0),
            errors: describeCounts(countKinds(r.results.map((x) => x.error))),
          },
        });
        raw[`${condition.id}/${strategy.id}`] = {
          replayToggles: r.toggles,
          ms: r.ms,
          sessionMsPercentiles: percentiles(okResults.map((x) => x.ms)),
          readMsPercentiles: percentiles(okResults.map((x) => x.readMs)),
        };
      }
      const b = byKey[`${condition.id}/ballast`];
      bars.push({
        name: `ballast-stale-share-${condition.id}`,
        value: round(b?.staleShare ?? 1, 4),
        bar: 0,
        op: '<=',
        description: `${condition.label}: share of Ballast session reads that missed the session's own write`,
      });
      if (condition.id === 'no-lag') {
        bars.push({
          name: 'ballast-replica-share-no-lag',
          value: round(b?.replicaShare ?? 0, 3),
          bar: 0.9,
          op: '>=',
          description: `${condition.label}: share of Ballast session reads served by the replica`,
        });
      }
    }
    const pct = (x: number | undefined) => `${round((x ?? Number.NaN) * 100, 1)} %`;
    const k = (c: string, s: string) => byKey[`${c}/${s}`];
    const notes = [
      `Goals (informational): Ballast 0 stale reads — ${CONDITIONS.map((c) => `${c.id} ${pct(k(c.id, 'ballast')?.staleShare)}`).join(', ')}; ` +
        `≥ 90 % of reads on replicas with no injected lag — ${pct(k('no-lag', 'ballast')?.replicaShare)}.`,
      `Random replica routing is stale ${pct(k('no-lag', 'random-replica')?.staleShare)} with no injected lag, ` +
        `${pct(k('async-commit', 'random-replica')?.staleShare)} with synchronous_commit=off and ` +
        `${pct(k('replay-paused', 'random-replica')?.staleShare)} with replay paused at random (informational; ` +
        'DESIGN.md measured 12 % and 100 %).',
      `The 2 s primary window is never stale but reads right after a write always go to the primary ` +
        `(replica share ${pct(k('no-lag', 'primary-window')?.replicaShare)}): the replicas are wasted.`,
      `Each session inserts a row on the primary and reads it back (${READ}); stale = the row was not found. ` +
        `${CONCURRENCY} sessions at once, ${settings.warmup} warm-up sessions per strategy not counted. ` +
        'Condition (c) pauses/resumes replay on the replica every 50–200 ms (seeded) while the strategy runs.',
      'sessionP50/P99Ms is the whole write-then-read; readP50/P99Ms the read alone (for Ballast it includes waiting ' +
        'for the replica to replay the session position, bounded by routing.sessionWaitMaxMs, 250 ms by default).',
    ];
    return {
      rows,
      bars,
      notes,
      config: {
        ...settings,
        concurrency: CONCURRENCY,
        seed,
        replicas: 1,
        windowMs: WINDOW_MS,
        postgres: clusters[0]?.version,
        conditions: CONDITIONS,
        strategies: STRATEGIES.map((s) => ({ id: s.id, config: s.config })),
      },
      raw,
    };
  });
}

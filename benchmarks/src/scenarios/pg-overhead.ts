/**
 * What @ballast/pg costs per statement over a raw pg.Pool: `SELECT 1` on a real loopback PostgreSQL with 32
 * statements in flight, in interleaved rounds. Throughput and client CPU (user + system) per query.
 */

import { createCluster } from '@ballast/pg';
import type pg from 'pg';
import { measureOverhead, type OverheadVariant } from '../lib/overhead.js';
import { endPool, rawPool, withPostgres } from '../lib/pg-bench.js';
import { median, round } from '../lib/stats.js';
import type { Bar, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'pg-overhead';
export const description =
  'SELECT 1 on a real loopback PostgreSQL, 32 in flight: raw pg.Pool vs the Ballast cluster client (default policies, with and without deadlineMs): throughput and client CPU per query.';

const IN_FLIGHT = 32;
const DEADLINE_MS = 1000;
/** The goal for Ballast CPU per query over raw pg.Pool (informational; the CI bar is looser). */
const GOAL_CPU_RATIO = 1.03;
const SETTINGS = {
  // per variant: rounds × roundMs of measured load (12 s full, 2.4 s ci). One round's ratio between two identical
  // raw pools spreads 0.7–1.35 on this shared 2-core machine: the median needs many rounds.
  full: { rounds: 60, roundMs: 200, warmupMs: 1000 },
  ci: { rounds: 20, roundMs: 200, warmupMs: 1500 },
} as const;

function buildVariants(url: string): OverheadVariant[] {
  const pool = rawPool({ connectionString: url, max: IN_FLIGHT });
  const pool2 = rawPool({ connectionString: url, max: IN_FLIGHT });
  const db = createCluster({ primary: url, pool: { max: IN_FLIGHT } });
  const dbDeadline = createCluster({ primary: url, pool: { max: IN_FLIGHT } });
  const deadline = { deadlineMs: DEADLINE_MS };
  return [
    {
      id: 'raw',
      label: 'raw pg.Pool',
      config: `new pg.Pool({ max: ${IN_FLIGHT} }); pool.query('SELECT 1')`,
      call: () => pool.query('SELECT 1'),
      close: () => endPool(pool),
    },
    {
      id: 'raw-2',
      label: 'raw pg.Pool, a second pool (noise)',
      config:
        'the same as raw pg.Pool, another instance: its ratio to the first is the noise of the measurement',
      call: () => pool2.query('SELECT 1'),
      close: () => endPool(pool2),
    },
    {
      id: 'ballast',
      label: 'ballast cluster (defaults)',
      config: `createCluster({ primary, pool: { max: ${IN_FLIGHT} } }); db.query('SELECT 1')`,
      call: () => db.query('SELECT 1'),
      close: () => db.close(),
    },
    {
      id: 'ballast-deadline',
      label: `ballast + deadlineMs ${DEADLINE_MS}`,
      config: `createCluster({ primary, pool: { max: ${IN_FLIGHT} } }); db.query('SELECT 1', [], { deadlineMs: ${DEADLINE_MS} })`,
      call: () => dbDeadline.query('SELECT 1', [], deadline),
      close: () => dbDeadline.close(),
    },
  ];
}

async function check(variants: OverheadVariant[]): Promise<void> {
  for (const v of variants) {
    const result = (await v.call()) as pg.QueryResult;
    if (result.rows.length !== 1) throw new Error(`${v.id}: SELECT 1 returned ${result.rows.length} rows`);
  }
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  const seed = 0x9e0e11;
  ctx.progress('starting PostgreSQL');
  return withPostgres([{ replicas: 0 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    const variants = buildVariants(pgc.primary.url);
    try {
      await check(variants);
      const m = await measureOverhead(ctx, variants, {
        ...settings,
        inFlight: IN_FLIGHT,
        seed,
        baselines: ['raw', 'raw-2'],
      });
      const paired = m.paired;
      const cpu = (id: string) => median((m.samples[id] ?? []).map((s) => s.cpuUsPerOp));
      const rows = m.rows('queriesPerSec', 'cpuUsPerQuery');
      const bars: Bar[] = [];
      for (const id of ['ballast', 'ballast-deadline'] as const) {
        const label = variants.find((v) => v.id === id)?.label ?? id;
        bars.push(
          {
            name: `${id}-cpu-per-query-vs-raw`,
            value: round(paired(id, 'cpuUsPerOp'), 3),
            // A regression bar: the goal (≤ 1.03x) is for full runs. Short runs read 1.02–1.08x alone and up to
            // 1.16x while other jobs load both cores.
            bar: 1.2,
            op: '<=',
            description: `${label}: client CPU per query / raw pg.Pool's (goal ${GOAL_CPU_RATIO} in full runs)`,
          },
          {
            name: `${id}-throughput-vs-raw`,
            value: round(paired(id, 'opsPerSec'), 3),
            bar: 0.85,
            op: '>=',
            description: `${label}: queries/s / raw pg.Pool's, ${IN_FLIGHT} in flight`,
          },
        );
      }
      const ratio = paired('ballast', 'cpuUsPerOp');
      const noise = m.between('raw-2', 'raw', 'cpuUsPerOp');
      const notes = [
        `Goal (informational): Ballast CPU per query ≤ ${GOAL_CPU_RATIO}x raw pg.Pool — measured ${round(ratio, 3)}x ` +
          `(${ratio <= GOAL_CPU_RATIO ? 'met' : 'NOT met'}; ${round(cpu('ballast') - cpu('raw'), 1)} µs a query), ` +
          `with deadlineMs ${round(paired('ballast-deadline', 'cpuUsPerOp'), 3)}x. The baseline is the per-round mean ` +
          `of two identical raw pools; the second measured ${round(noise, 3)}x the first: differences of that size ` +
          'are noise.',
        'Without the server (pg.Client#query answering at once, `packages/pg/bench/wrapper-cost.ts`), Ballast costs ' +
          '0.65–0.85x the CPU of pg.Pool per call and creates 2 promises per query (pg.Pool: 3; 16 before the callback path).',
        'CPU is the benchmark process only (process.cpuUsage user + system over the round / queries completed); the ' +
          'PostgreSQL server shares the same cores, so queries/s is bounded by both and moves with the client cost.',
        `Each round runs every variant for ${settings.roundMs} ms (${IN_FLIGHT} closed-loop callers), in a seeded ` +
          "shuffled order. Ratios are the median over rounds of each round's ratio to the two raw pools' mean in that round.",
      ];
      return {
        rows,
        bars,
        notes,
        config: {
          ...settings,
          inFlight: IN_FLIGHT,
          deadlineMs: DEADLINE_MS,
          seed,
          statement: 'SELECT 1',
          postgres: pgc.version,
          variants: variants.map((v) => ({ id: v.id, config: v.config })),
        },
        raw: { samples: m.samples },
      };
    } finally {
      for (const v of variants) await v.close();
    }
  });
}

/**
 * Four instances of a service, each its own process, sharing one primary (behind a link adding 25 ms each way)
 * and one replica, offered twice what the primary's connections can carry: bare pg.Pools vs the Ballast cluster
 * client. Aggregate goodput, the fairness between the instances, and the connections the servers saw.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startProxy, waitUntil, withPostgres } from '../lib/pg-bench.js';
import { round } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'multi-instance';
export const description =
  'Four service processes sharing one primary (25 ms each way) and one replica, offered 2x what the primary carries, 1 s deadlines: bare pg.Pools vs Ballast — aggregate goodput, fairness between instances, peak server connections.';

const INSTANCES = 4;
const POOL_MAX = 5;
const LATENCY_MS = 25;
const DEADLINE_MS = 1000;
/** Per instance; half writes. The primary carries 4 × 5 connections / 50 ms = ~400 writes/s: 800 are offered. */
const RATE_PER_SEC = 400;
const WRITE_SHARE = 0.5;
const SETTINGS = { full: { loadMs: 6000 }, ci: { loadMs: 3000 } } as const;
const WORKER = fileURLToPath(new URL('../workers/multi-instance-worker.ts', import.meta.url));

interface WorkerResult {
  offered: number;
  ok: number;
  failed: number;
  kinds: Record<string, number>;
  p99Ms: number;
}

type Mode = 'bare' | 'ballast';
const MODES: { id: Mode; label: string; config: string }[] = [
  {
    id: 'bare',
    label: `bare pg.Pools (max ${POOL_MAX} per node, 1 s client timeout)`,
    config: `per process: new pg.Pool({ max: ${POOL_MAX} }) for the primary and the replica; Promise.race with a 1 s timer`,
  },
  {
    id: 'ballast',
    label: `ballast cluster (pool.max ${POOL_MAX}, deadlineMs 1000)`,
    config: `per process: createCluster({ primary, replicas: [replica], pool: { max: ${POOL_MAX} } }); db.write / db.read with { deadlineMs: 1000 }`,
  },
];

/** Starts the instances, lets them warm up, starts their load at the same moment, and collects their results. */
async function runInstances(
  mode: Mode,
  primaryUrl: string,
  replicaUrl: string,
  loadMs: number,
  sampleConnections: () => Promise<number>,
): Promise<{ results: WorkerResult[]; peakConnections: number }> {
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<WorkerResult>[] = [];
  try {
    for (let i = 0; i < INSTANCES; i++) {
      const settings = {
        mode,
        primaryUrl,
        replicaUrl,
        ratePerSec: RATE_PER_SEC,
        writeShare: WRITE_SHARE,
        loadMs,
        deadlineMs: DEADLINE_MS,
        poolMax: POOL_MAX,
      };
      const child = fork(WORKER, [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, BALLAST_WORKER: JSON.stringify(settings) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      ready.push(
        new Promise((resolve, reject) => {
          child.once('message', (m: { ready?: boolean; error?: string }) =>
            m.ready === true ? resolve() : reject(new Error(`instance ${i}: ${m.error}`)),
          );
          child.once('exit', (code) =>
            reject(new Error(`instance ${i} exited (${code}) before it was ready`)),
          );
        }),
      );
    }
    await Promise.all(ready);
    for (const [i, child] of children.entries()) {
      done.push(
        new Promise((resolve, reject) => {
          child.on('message', (m: { result?: WorkerResult; error?: string }) => {
            if (m.result !== undefined) resolve(m.result);
            else if (m.error !== undefined) reject(new Error(`instance ${i}: ${m.error}`));
          });
        }),
      );
      child.send('go');
    }
    let peakConnections = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakConnections = Math.max(peakConnections, await sampleConnections().catch(() => 0));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const results = await Promise.all(done);
    sampling = false;
    await sampler;
    return { results, peakConnections };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting PostgreSQL (primary + replica)');
  return withPostgres([{ replicas: 1 }], async ([pgc]) => {
    if (pgc === undefined) throw new Error('no cluster');
    const replicaUrl = pgc.replicas[0]?.url;
    if (replicaUrl === undefined) throw new Error('no replica');
    await pgc.query('primary', 'CREATE TABLE multi (id bigserial PRIMARY KEY, v int NOT NULL)');
    await pgc.query('primary', 'INSERT INTO multi (v) SELECT 1 FROM generate_series(1, 100)');
    await pgc.waitForReplay(0);
    const { proxy, url } = await startProxy(pgc.primary.url, pgc.primary.port);
    await proxy.set({ latencyMs: LATENCY_MS });
    // Client backends on the primary (the sampling connection itself excluded).
    const connections = async () => {
      const rows = await pgc.query<{ n: number }>(
        'primary',
        "SELECT count(*)::int - 1 AS n FROM pg_stat_activity WHERE backend_type = 'client backend'",
      );
      return rows[0]?.n ?? 0;
    };
    const rows: ResultRow[] = [];
    const summary: Record<string, { goodput: number; fairness: number; peak: number }> = {};
    const raw: Record<string, unknown> = {};
    try {
      for (const mode of MODES) {
        ctx.progress(`${mode.label}: ${INSTANCES} processes, ${settings.loadMs / 1000} s of load`);
        const r = await runInstances(mode.id, url, replicaUrl, settings.loadMs, connections);
        // Let the primary's backends of this mode go before the next one is counted.
        await waitUntil(async () => (await connections()) <= 1, 10_000, 100).catch(() => {});
        const perInstance = r.results.map((x) => (x.ok / settings.loadMs) * 1000);
        const goodput = perInstance.reduce((a, b) => a + b, 0);
        const fairness = Math.min(...perInstance) / Math.max(...perInstance);
        summary[mode.id] = { goodput, fairness, peak: r.peakConnections };
        const kinds: Record<string, number> = {};
        for (const x of r.results)
          for (const [k, v] of Object.entries(x.kinds)) kinds[k] = (kinds[k] ?? 0) + v;
        rows.push({
          label: mode.label,
          metrics: {
            offeredPerSec: INSTANCES * RATE_PER_SEC,
            goodputPerSec: round(goodput, 0),
            perInstanceGoodput: perInstance.map((g) => round(g, 0)).join(' / '),
            fairnessMinOverMax: round(fairness, 3),
            p99MsWorst: Math.max(...r.results.map((x) => x.p99Ms)),
            peakPrimaryConnections: r.peakConnections,
            errors: Object.entries(kinds)
              .map(([k, v]) => `${k} ${v}`)
              .join(', '),
          },
        });
        raw[mode.id] = r.results;
      }
    } finally {
      await proxy.close().catch(() => {});
    }
    const b = summary.ballast;
    const bare = summary.bare;
    const bars: Bar[] = [
      {
        name: 'ballast-fairness',
        value: round(b?.fairness ?? 0, 3),
        bar: 0.8,
        op: '>=',
        description:
          "the least served instance's goodput / the most served one's, Ballast (fair share within 20 %)",
      },
      {
        name: 'ballast-goodput-vs-bare',
        value: round((b?.goodput ?? 0) / Math.max(1, bare?.goodput ?? 0), 3),
        bar: 1,
        op: '>=',
        description: "aggregate goodput (answers within 1 s) of the four Ballast instances / the bare pools'",
      },
      {
        name: 'ballast-peak-connections-vs-max',
        value: round((b?.peak ?? Number.POSITIVE_INFINITY) / (INSTANCES * (POOL_MAX + 1)), 3),
        bar: 1,
        op: '<=',
        description: `peak client connections on the primary with Ballast / ${INSTANCES} × (${POOL_MAX} pooled + 1 for health checks): bounded`,
      },
    ];
    const notes = [
      `Aggregate goodput: Ballast ${round(b?.goodput ?? 0, 0)}/s, bare pools ${round(bare?.goodput ?? 0, 0)}/s, of ${INSTANCES * RATE_PER_SEC}/s offered (half writes to the primary, whose ${INSTANCES * POOL_MAX} connections carry ~${(INSTANCES * POOL_MAX * 1000) / (2 * LATENCY_MS)} statements/s through the link). ` +
        `Fairness (least / most served instance): Ballast ${round(b?.fairness ?? 0, 3)}, bare ${round(bare?.fairness ?? 0, 3)}. Peak primary connections: Ballast ${b?.peak ?? '–'}, bare ${bare?.peak ?? '–'}.`,
      "Ballast's bound per process and host is pool.max + 1: its health checks keep a connection of their own.",
      'Each instance is its own Node process (the worker in src/workers/), with its own pools and limiter; they warm up, then start their open loops at the same moment on a message from the runner.',
    ];
    return {
      rows,
      bars,
      notes,
      config: {
        ...settings,
        instances: INSTANCES,
        poolMax: POOL_MAX,
        latencyMs: LATENCY_MS,
        deadlineMs: DEADLINE_MS,
        ratePerSecPerInstance: RATE_PER_SEC,
        writeShare: WRITE_SHARE,
        modes: MODES.map((m) => ({ id: m.id, config: m.config })),
      },
      raw,
    };
  });
}

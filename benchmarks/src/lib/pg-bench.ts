/**
 * Shared pieces of the PostgreSQL scenarios (`pg-*`): servers that are always stopped, error classification,
 * latency summaries and small waiting helpers.
 */
import { isBallastError } from '@ballast/core';
import { FaultProxy, type PostgresCluster, type PostgresOptions, startPostgres } from '@ballast/testkit';
import pg from 'pg';
import { quantile, round } from './stats.js';

/**
 * Starts one PostgreSQL cluster per entry of `options` (in parallel), runs `fn`, and stops every server even when
 * `fn` or one of the starts throws.
 */
export async function withPostgres<T>(
  options: PostgresOptions[],
  fn: (clusters: PostgresCluster[]) => Promise<T>,
): Promise<T> {
  const started = await Promise.allSettled(options.map((o) => startPostgres(o)));
  const clusters = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return await fn(clusters);
  } finally {
    await Promise.allSettled(clusters.map((c) => c.stop()));
  }
}

/** A FaultProxy in front of `port`, listening; `url` is `baseUrl` with its port replaced by the proxy's. */
export async function startProxy(baseUrl: string, port: number): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = new FaultProxy({ port });
  const proxyPort = await proxy.listen();
  const u = new URL(baseUrl);
  u.port = String(proxyPort);
  return { proxy, url: u.toString() };
}

/** A pg.Pool whose idle-client errors (a reset or blackholed connection) never crash the process. */
export function rawPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on('error', () => {});
  return pool;
}

/** Closes a pg.Pool without waiting forever for a client stuck on a dead socket. */
export async function endPool(pool: pg.Pool, waitMs = 2000): Promise<void> {
  await Promise.race([pool.end().catch(() => {}), sleepMs(waitMs)]);
}

/** The error's kind for reports: a Ballast code (and shed reason), else the error's name or pg's SQLSTATE. */
export function errorKind(error: unknown): string {
  if (isBallastError(error)) return error.reason === undefined ? error.code : `${error.code}:${error.reason}`;
  if (!(error instanceof Error)) return typeof error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return `${error.name}:${code}`;
  if (error.name !== 'Error') return error.name;
  return error.constructor.name === 'Error' ? error.message.slice(0, 40) : error.constructor.name;
}

/** Every percentile 0..100 of `values` (a CDF to plot without keeping every sample). */
export function percentiles(values: readonly number[], digits = 3): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return Array.from({ length: 101 }, (_, i) => round(quantile(sorted, i / 100), digits));
}

/** p50/p99 (ms, rounded) of `values`; NaN when empty. */
export function p50p99(values: readonly number[], digits = 1): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(quantile(sorted, 0.5), digits), p99: round(quantile(sorted, 0.99), digits) };
}

/** Counts of each kind in `kinds`, as `kind n, kind n` for a table cell. */
export function countKinds(kinds: readonly (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of kinds) if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  return out;
}

export function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '–' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done()` every `intervalMs` until it is true or `timeoutMs` passed; resolves with the ms waited or `undefined`. */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 5,
): Promise<number | undefined> {
  const start = performance.now();
  for (;;) {
    if (await done()) return performance.now() - start;
    if (performance.now() - start >= timeoutMs) return undefined;
    await sleepMs(intervalMs);
  }
}

/** Runs `call` from `workers` closed-loop callers until `durationMs` passed; resolves with the calls completed. */
export async function closedLoop(
  workers: number,
  durationMs: number,
  call: () => Promise<unknown>,
): Promise<{ done: number; errors: number; ms: number }> {
  const start = performance.now();
  const end = start + durationMs;
  let done = 0;
  let errors = 0;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        await call();
        done++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return { done, errors, ms: performance.now() - start };
}

/** Runs `count` tasks with at most `concurrency` at once (a fixed fan-out for load generation). */
export async function fanOut(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/**
 * What `poolSize` closed-loop callers of `SELECT 1` get through a FaultProxy adding `latencyMs` each way in front of
 * `baseUrl`: the capacity a scenario offers its multiple of, measured in the same run (per second).
 */
export async function capacityThroughProxy(
  baseUrl: string,
  port: number,
  latencyMs: number,
  poolSize: number,
  ms: number,
): Promise<number> {
  const { proxy, url } = await startProxy(baseUrl, port);
  const pool = rawPool({ connectionString: url, max: poolSize });
  try {
    await proxy.set({ latencyMs });
    await closedLoop(poolSize, 600, () => pool.query('SELECT 1')); // opens the connections
    const r = await closedLoop(poolSize, ms, () => pool.query('SELECT 1'));
    return (r.done / r.ms) * 1000;
  } finally {
    await endPool(pool);
    await proxy.close();
  }
}

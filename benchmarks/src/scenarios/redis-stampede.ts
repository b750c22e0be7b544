/**
 * A cache stampede: 1,000 concurrent requests for one hot key that has just expired (absent from Redis, held in no
 * near cache), whose value comes from a 20 ms database call. A naive cache-aside over ioredis vs Ballast's
 * `cached()`, and `cached()` with stale-while-revalidate while the stale value is still in Redis.
 */

import { preciseClock } from '@ballast/core';
import type { BallastRedis } from '@ballast/redis';
import type { Redis } from 'ioredis';
import { countKinds, describeCounts, errorKind, p50p99, percentiles, sleepMs } from '../lib/pg-bench.js';
import {
  ballastRedis,
  isRowOf,
  naiveCacheAside,
  type Row,
  rawRedis,
  SimulatedDb,
  timed,
  withRedis,
} from '../lib/redis-bench.js';
import { median, prng, round, shuffle } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'redis-stampede';
export const description =
  '1,000 concurrent requests for one just-expired hot key (20 ms database call), several waves: database calls per wave, peak database concurrency, latency — naive cache-aside over ioredis vs Ballast cached() (and with stale-while-revalidate).';

const REQUESTS = 1000;
const DB_DELAY_MS = 20;
const TTL_MS = 60_000;
/** Freshness of the stale value the stale-while-revalidate row finds in Redis. */
const SEED_FRESH_MS = 30;
const SETTINGS = {
  full: { waves: 30, seed: 5 },
  ci: { waves: 10, seed: 5 },
} as const;
/** The seed value's `call`: an answer carrying it is the stale value, not a load. */
const STALE_CALL = -1;

interface Variant {
  id: string;
  label: string;
  config: string;
  /** Makes `key` what this variant's wave starts from (default: absent from Redis, as after its expiry). */
  prepare?(key: string): Promise<void>;
  request(key: string, load: () => Promise<Row>): Promise<unknown>;
  /** Redis reads made so far (naive: a GET per request; Ballast: one per flight), for the per-wave difference. */
  redisReads(): number;
}

interface Wave {
  loaderCalls: number;
  redisReads: number;
  latencyMs: number[];
  answered: number;
  stale: number;
  distinctLoads: number;
  errors: (string | undefined)[];
}

function variants(naive: Redis, ballast: BallastRedis, seeder: BallastRedis): Variant[] {
  const get = naiveCacheAside(naive, { ttlMs: TTL_MS });
  const swr = { ttlMs: TTL_MS, staleWhileRevalidateMs: TTL_MS };
  const reads = () => ballast.cache.stats().counts.redisReads;
  let gets = 0;
  return [
    {
      id: 'naive',
      label: 'naive cache-aside (ioredis)',
      config: `GET; on a miss the database, then SET PX ${TTL_MS} (not awaited); ioredis defaults`,
      request(key, load) {
        gets++;
        return get(key, load);
      },
      redisReads: () => gets,
    },
    {
      id: 'ballast',
      label: 'ballast cached()',
      config: `createRedis({ url }); redis.cached(key, loader, { ttlMs: ${TTL_MS} })`,
      request: (key, load) => ballast.cached(key, load, { ttlMs: TTL_MS }),
      redisReads: reads,
    },
    {
      id: 'ballast-swr',
      label: 'ballast cached(), stale in Redis + SWR',
      config: `the same client; { ttlMs: ${TTL_MS}, staleWhileRevalidateMs: ${TTL_MS} }; the key in Redis is ${SEED_FRESH_MS} ms past its freshness, written by another client`,
      async prepare(key) {
        const old: Row = { key, call: STALE_CALL };
        await seeder.cached(key, () => old, { ...swr, ttlMs: SEED_FRESH_MS, jitter: 0 });
        const seeded = performance.now();
        // the seeder writes in the background: wait for the value to be in Redis, then for it to go stale
        while ((await naive.exists(key)) === 0) await sleepMs(1);
        await sleepMs(Math.max(0, SEED_FRESH_MS + 10 - (performance.now() - seeded)));
      },
      request: (key, load) => ballast.cached(key, load, swr),
      redisReads: reads,
    },
  ];
}

async function runWave(variant: Variant, db: SimulatedDb, key: string, tag: string): Promise<Wave> {
  await variant.prepare?.(key);
  const reads0 = variant.redisReads();
  const results = await Promise.all(
    Array.from({ length: REQUESTS }, () => timed(() => variant.request(key, () => db.load(key, tag)))),
  );
  await db.idle(); // a background refresh counts in its wave
  const values = results.flatMap((r) => (r.ok && isRowOf(r.value, key) ? [r.value as Row] : []));
  return {
    loaderCalls: db.callsByTag.get(tag) ?? 0,
    redisReads: variant.redisReads() - reads0,
    latencyMs: results.map((r) => r.ms),
    answered: values.length,
    stale: values.filter((v) => v.call === STALE_CALL).length,
    distinctLoads: new Set(values.filter((v) => v.call !== STALE_CALL).map((v) => v.call)).size,
    errors: results.map((r) => {
      if (!r.ok) return errorKind(r.error);
      return isRowOf(r.value, key) ? undefined : 'wrong value';
    }),
  };
}

function metricsOf(waves: Wave[], db: SimulatedDb) {
  const calls = waves.map((w) => w.loaderCalls);
  const reads = waves.map((w) => w.redisReads);
  const lat = p50p99(
    waves.flatMap((w) => w.latencyMs),
    1,
  );
  const offered = waves.length * REQUESTS;
  return {
    waves: waves.length,
    requestsPerWave: REQUESTS,
    loaderCallsPerWave: median(calls),
    loaderCallsMaxWave: Math.max(...calls),
    loaderCallsTotal: calls.reduce((a, b) => a + b, 0),
    peakLoaderConcurrency: db.peakInflight,
    redisReadsPerWave: median(reads),
    answeredShare: round(waves.reduce((a, w) => a + w.answered, 0) / offered, 4),
    staleShare: round(waves.reduce((a, w) => a + w.stale, 0) / offered, 4),
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    maxMs: round(Math.max(...waves.flatMap((w) => w.latencyMs)), 1),
    errors: describeCounts(countKinds(waves.flatMap((w) => w.errors))),
  };
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  ctx.progress('starting Redis');
  return withRedis(async (server) => {
    const closers: (() => Promise<void> | void)[] = [];
    try {
      const naive = await rawRedis(server.url);
      closers.push(() => naive.disconnect());
      const ballast = await ballastRedis({ url: server.url });
      closers.push(() => ballast.close());
      // preciseClock: with the default clock, a cache-aside made late in a busy event-loop turn stamps its values
      // that many ms too late (see the notes), and the seeded value would still look fresh when the wave starts
      const seeder = await ballastRedis({ url: server.url, name: 'seeder', clock: preciseClock });
      closers.push(() => seeder.close());
      const all = variants(naive, ballast, seeder);
      const dbs = new Map(all.map((v) => [v.id, new SimulatedDb(DB_DELAY_MS)]));
      const waves = new Map<string, Wave[]>(all.map((v) => [v.id, []]));
      const random = prng(settings.seed);
      const runId = Date.now().toString(36);
      ctx.gc();
      for (let w = 0; w < settings.waves; w++) {
        ctx.progress(`wave ${w + 1}/${settings.waves}`);
        for (const v of shuffle([...all], random)) {
          const db = dbs.get(v.id) as SimulatedDb;
          waves.get(v.id)?.push(await runWave(v, db, `stampede:${runId}:${v.id}:${w}`, String(w)));
        }
      }
      const metrics = Object.fromEntries(
        all.map((v) => [v.id, metricsOf(waves.get(v.id) ?? [], dbs.get(v.id) as SimulatedDb)]),
      );
      const rows: ResultRow[] = all.map((v) => ({ label: v.label, metrics: metrics[v.id] ?? {} }));
      const m = (id: string) => metrics[id] as ReturnType<typeof metricsOf>;
      const b = m('ballast');
      const swr = m('ballast-swr');
      const n = m('naive');
      const bars: Bar[] = [
        {
          name: 'ballast-loader-calls-per-wave',
          value: Math.max(b.loaderCallsMaxWave, swr.loaderCallsMaxWave),
          bar: 1,
          op: '<=',
          description: `most database calls Ballast made in one wave of ${REQUESTS.toLocaleString('en-US')} (either row; a count, goal 1)`,
        },
        {
          name: 'ballast-vs-naive-loader-calls',
          value: round(b.loaderCallsTotal / Math.max(1, n.loaderCallsTotal), 5),
          bar: 0.01,
          op: '<=',
          description: "Ballast cached()'s database calls / the naive cache-aside's, same waves",
        },
        {
          name: 'ballast-swr-refreshes-per-wave',
          value: Math.min(...(waves.get('ballast-swr') ?? []).map((w) => w.loaderCalls)),
          bar: 1,
          op: '>=',
          description: 'fewest background refreshes in a stale-while-revalidate wave (a count, goal 1)',
        },
        {
          name: 'ballast-swr-stale-share',
          value: swr.staleShare,
          bar: 1,
          op: '>=',
          description:
            'share of the stale-while-revalidate requests answered with the stale value (none waited for the database)',
        },
      ];
      const notes = [
        `Goal (issue 5): 1 database call for ${REQUESTS.toLocaleString('en-US')} concurrent requests of one expired key — Ballast made ` +
          `${b.loaderCallsPerWave} per wave (max ${b.loaderCallsMaxWave}) with ${b.redisReadsPerWave} Redis read(s); ` +
          `the naive cache-aside ${n.loaderCallsPerWave} (peak ${n.peakLoaderConcurrency} database calls at once).`,
        `Each wave sends ${REQUESTS.toLocaleString('en-US')} requests for a key in the same tick (no await between them): ${settings.waves} ` +
          'waves, each variant once per wave in a seeded shuffled order, each wave on a new key — absent from Redis ' +
          "(as after its PX expiry) and never held by the client's near cache. The database is simulated: " +
          `${DB_DELAY_MS} ms per call, calls counted by the wave whose request caused them.`,
        `Stale-while-revalidate row: before each wave another client stores the value with ttlMs ${SEED_FRESH_MS} ms ` +
          `(Redis keeps it ${TTL_MS / 1000} s more for revalidation); the wave starts once it is stale. Every ` +
          `request was answered with it (staleShare ${swr.staleShare}) and ${swr.loaderCallsPerWave} refresh ran ` +
          'in the background per wave (its database call, awaited before the next wave).',
        "That seeding client runs on core's preciseClock. With the default clock (read once per event-loop turn) a " +
          "cache-aside made by the first cached() late in a busy turn folds the turn's elapsed time into its epoch " +
          'offset and stamps every value it writes that much too fresh, for its lifetime (+32 ms after a 30 ms ' +
          'turn): in a run without it the seeded value still looked fresh to the reader in 28 of 30 waves (no refresh).',
        'Latency is from each request to its answer. The naive p50 includes its database call; Ballast answers its ' +
          'callers when the one database call returns (the Redis write is not awaited by either).',
      ];
      const raw = Object.fromEntries(
        all.map((v) => {
          const ws = waves.get(v.id) ?? [];
          return [
            v.id,
            {
              config: v.config,
              loaderCallsPerWave: ws.map((w) => w.loaderCalls),
              redisReadsPerWave: ws.map((w) => w.redisReads),
              distinctLoadsAnsweredPerWave: ws.map((w) => w.distinctLoads),
              latencyMsPercentiles: percentiles(ws.flatMap((w) => w.latencyMs)),
              p99MsPerWave: ws.map((w) => p50p99(w.latencyMs, 2).p99),
            },
          ];
        }),
      );
      return {
        rows,
        bars,
        notes,
        config: {
          ...settings,
          requests: REQUESTS,
          dbDelayMs: DB_DELAY_MS,
          ttlMs: TTL_MS,
          seedFreshMs: SEED_FRESH_MS,
          variants: all.map((v) => ({ id: v.id, config: v.config })),
        },
        raw,
      };
    } finally {
      await Promise.allSettled(closers.map((close) => close()));
    }
  });
}

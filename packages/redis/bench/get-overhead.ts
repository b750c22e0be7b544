/**
 * What @ballast/redis costs per GET over raw ioredis, and what ioredis + opossum costs: GET of a 64-byte value on
 * a real loopback Redis with 32 calls in flight, every variant once per round in a seeded shuffled order
 * (benchmarks/src/lib/overhead.ts: throughput, client CPU per GET, ratios paired per round against raw ioredis).
 * Then, for the auto-pipelining decision, GET latency (p50/p99) at 1 and 32 in flight with and without it.
 *
 *   benchmarks/node_modules/.bin/tsx packages/redis/bench/get-overhead.ts [--rounds 25] [--round-ms 300]
 *
 * opossum is loaded from benchmarks/node_modules (it is not a dependency of @ballast/redis).
 */
import { createRequire } from 'node:module';
import { startRedis } from '@ballast/testkit';
import { Redis } from 'ioredis';
import { measureOverhead, type OverheadVariant } from '../../../benchmarks/src/lib/overhead.js';
import { quantile, round } from '../../../benchmarks/src/lib/stats.js';
import { IOREDIS_SAFE_OPTIONS } from '../src/ioredis-options.js';
import { nodePolicy } from '../src/node-policy.js';
import { type RedisClientOptions, resolveRedisClientOptions } from '../src/options.js';
import { createRedis } from '../src/redis.js';

/** The part of opossum's CircuitBreaker used here (its types live in benchmarks/node_modules too). */
type OpossumBreaker = { fire(key: string): Promise<unknown>; shutdown(): void };
const CircuitBreaker = createRequire(new URL('../../../benchmarks/package.json', import.meta.url))(
  'opossum',
) as new (
  action: (key: string) => Promise<unknown>,
  options: { timeout: number },
) => OpossumBreaker;

const KEY = 'bench:get';
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const SETTINGS = {
  rounds: arg('--rounds', 25),
  roundMs: arg('--round-ms', 300),
  warmupMs: 1000,
  inFlight: 32,
  seed: 0x7ed15,
};
const ctx = { ci: false, progress: () => {}, gc: () => (globalThis as { gc?: () => void }).gc?.() };

function variants(url: string): OverheadVariant[] {
  const ioredis = (
    id: string,
    label: string,
    options: { enableAutoPipelining?: boolean } = {},
  ): OverheadVariant => {
    const client = new Redis(url, options);
    return {
      id,
      label,
      config: `new Redis(url, ${JSON.stringify(options)})`,
      call: () => client.get(KEY),
      close: async () => client.disconnect(),
    };
  };
  const ballast = (id: string, label: string, options: Partial<RedisClientOptions> = {}): OverheadVariant => {
    const redis = createRedis({ url, name: id, ...options });
    return {
      id,
      label,
      config: `createRedis({ url, ${JSON.stringify(options)} })`,
      call: () => redis.get(KEY),
      close: () => redis.close(),
    };
  };
  const forOpossum = new Redis(url);
  const breaker = new CircuitBreaker((key: string) => forOpossum.get(key), { timeout: 1000 });
  return [
    ioredis('raw', 'raw ioredis'),
    ballast('ballast', 'ballast (defaults: 1000 ms deadline, breaker, gradient2, retry)'),
    ballast('ballast-separate', 'ballast, coalesceWrites: false', { coalesceWrites: false }),
    ballast('ballast-no-deadline', 'ballast, timeoutMs: Infinity', { timeoutMs: Number.POSITIVE_INFINITY }),
    corePolicyOnly(url),
    {
      id: 'opossum',
      label: 'ioredis + opossum (timeout 1000)',
      config: 'new CircuitBreaker((key) => redis.get(key), { timeout: 1000 }).fire(key)',
      call: () => breaker.fire(KEY),
      close: async () => {
        breaker.shutdown();
        forOpossum.disconnect();
      },
    },
    ioredis('raw-ap', 'raw ioredis, enableAutoPipelining', { enableAutoPipelining: true }),
    ballast('ballast-ap', 'ballast, autoPipelining: true', { autoPipelining: true }),
  ];
}

/** The policy createRedis builds, around a raw ioredis GET: what the wrapper adds beyond core's policy. */
function corePolicyOnly(url: string): OverheadVariant {
  const client = new Redis(url, { ...IOREDIS_SAFE_OPTIONS });
  const policy = nodePolicy(resolveRedisClientOptions({ url }), 'core-only');
  const read = { idempotent: true };
  return {
    id: 'core-only',
    label: "core policy only (createRedis' policy around ioredis GET)",
    config: 'nodePolicy(defaults).execute(() => client.get(key), { idempotent: true })',
    call: () => policy.execute(() => client.get(KEY), read),
    close: async () => client.disconnect(),
  };
}

/** p50 / p99 of single GETs, `inFlight` callers for `ms`. */
async function latency(call: () => Promise<unknown>, inFlight: number, ms: number): Promise<string> {
  const samples: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await call();
        samples.push(performance.now() - t0);
      }
    }),
  );
  return `p50 ${round(quantile(samples, 0.5), 3)} ms, p99 ${round(quantile(samples, 0.99), 3)} ms`;
}

async function main(): Promise<void> {
  const server = await startRedis({ password: false });
  const all = variants(server.url);
  try {
    await server.command(['SET', KEY, 'x'.repeat(64)]);
    for (const v of all) await v.call();
    const result = await measureOverhead(ctx, all, SETTINGS);
    console.table(result.rows('getsPerSec', 'cpuUsPerGet').map((r) => ({ variant: r.label, ...r.metrics })));
    console.log(
      `${SETTINGS.rounds} rounds × ${SETTINGS.roundMs} ms per variant, ${SETTINGS.inFlight} in flight, Node ` +
        `${process.version}; redis-server on loopback shares the machine's cores`,
    );
    for (const id of ['raw', 'raw-ap', 'ballast', 'ballast-separate', 'ballast-ap']) {
      const v = all.find((x) => x.id === id) as OverheadVariant;
      console.log(
        `${v.label}: 1 in flight ${await latency(v.call, 1, 1000)}; 32 in flight ${await latency(v.call, 32, 1000)}`,
      );
    }
  } finally {
    for (const v of all) await v.close();
    await server.stop();
  }
}

await main();

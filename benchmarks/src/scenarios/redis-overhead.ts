/**
 * What @ballast/redis costs per GET over raw ioredis, and what ioredis + opossum costs: GET of a 64-byte value
 * on a real loopback Redis with 32 calls in flight, every variant once per round in a seeded shuffled order.
 * Throughput and client CPU per GET, ratios paired per round against raw ioredis (lib/overhead.ts).
 */
import { createRedis } from '@ballast/redis';
import { startRedis } from '@ballast/testkit';
import { Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
import { measureOverhead, type OverheadVariant } from '../lib/overhead.js';
import { round } from '../lib/stats.js';
import type { Bar, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'redis-overhead';
export const description =
  'GET of a 64-byte value on a real loopback Redis, 32 in flight: raw ioredis vs ioredis + opossum vs the Ballast client (defaults): throughput and client CPU per GET.';

const IN_FLIGHT = 32;
const KEY = 'bench:get';
/** The goal for Ballast GET throughput over raw ioredis (informational; the CI bar is looser). */
const GOAL_THROUGHPUT = 0.97;
const SETTINGS = {
  // One round's ratio between two identical raw clients spreads widely on this shared 2-core machine: the
  // median needs many rounds, and the warm-up must let the longer path be optimised first.
  full: { rounds: 60, roundMs: 200, warmupMs: 1000 },
  ci: { rounds: 20, roundMs: 200, warmupMs: 1500 },
} as const;

function buildVariants(url: string): OverheadVariant[] {
  const raw = new Redis(url);
  const raw2 = new Redis(url);
  const redis = createRedis({ url, name: 'bench' });
  const separate = createRedis({ url, name: 'bench-separate', coalesceWrites: false });
  const forOpossum = new Redis(url);
  const breaker = new CircuitBreaker((key: string) => forOpossum.get(key), { timeout: 1000 });
  return [
    {
      id: 'raw',
      label: 'raw ioredis',
      config: 'new Redis(url); redis.get(key)',
      call: () => raw.get(KEY),
      close: async () => raw.disconnect(),
    },
    {
      id: 'raw-2',
      label: 'raw ioredis, a second client (noise)',
      config:
        'the same as raw ioredis, another client: its ratio to the first is the noise of the measurement',
      call: () => raw2.get(KEY),
      close: async () => raw2.disconnect(),
    },
    {
      id: 'ballast',
      label: 'ballast (defaults: 1000 ms deadline, breaker, gradient2, retry)',
      config: 'createRedis({ url }); redis.get(key)',
      call: () => redis.get(KEY),
      close: () => redis.close(),
    },
    {
      id: 'ballast-separate',
      label: 'ballast, coalesceWrites: false (one write per command, as ioredis)',
      config: 'createRedis({ url, coalesceWrites: false }); redis.get(key)',
      call: () => separate.get(KEY),
      close: () => separate.close(),
    },
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
  ];
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  const seed = 0x7ed15;
  ctx.progress('starting Redis');
  const server = await startRedis({ password: false });
  const variants = buildVariants(server.url);
  try {
    await server.command(['SET', KEY, 'x'.repeat(64)]);
    for (const v of variants) {
      if ((await v.call()) !== 'x'.repeat(64)) throw new Error(`${v.id}: GET returned something else`);
    }
    const m = await measureOverhead(ctx, variants, {
      ...settings,
      inFlight: IN_FLIGHT,
      seed,
      baselines: ['raw', 'raw-2'],
    });
    const noise = m.between('raw-2', 'raw', 'opsPerSec');
    const throughput = m.paired('ballast', 'opsPerSec');
    const bars: Bar[] = [
      {
        name: 'ballast-throughput-vs-raw',
        value: round(throughput, 3),
        bar: GOAL_THROUGHPUT,
        op: '>=',
        description: `ballast: GETs/s / raw ioredis', ${IN_FLIGHT} in flight (goal ${GOAL_THROUGHPUT})`,
      },
      {
        name: 'ballast-throughput-vs-raw-floor',
        value: round(throughput, 3),
        bar: 1.1,
        op: '>=',
        description: "ballast: GETs/s / raw ioredis' (regression floor: 1.42–1.46 measured)",
      },
      {
        name: 'ballast-throughput-vs-opossum',
        value: round(throughput / m.paired('opossum', 'opsPerSec'), 3),
        bar: 1.2,
        op: '>=',
        description: "ballast: GETs/s / ioredis + opossum's (regression floor: 1.6–1.7 measured)",
      },
    ];
    return {
      rows: m.rows('getsPerSec', 'cpuUsPerGet'),
      bars,
      notes: [
        `Goal (informational): Ballast GET throughput ≥ ${GOAL_THROUGHPUT}x raw ioredis — measured ${round(throughput, 3)}x ` +
          `(${throughput >= GOAL_THROUGHPUT ? 'met' : 'NOT met'}); opossum ${round(m.paired('opossum', 'opsPerSec'), 3)}x. ` +
          `The baseline is the per-round mean of two identical raw clients; the second measured ${round(noise, 3)}x ` +
          'the first: differences of that size are noise. ' +
          `Without coalesced writes (one socket write per command, as ioredis) Ballast measured ` +
          `${round(m.paired('ballast-separate', 'opsPerSec'), 3)}x: the policy's own cost; coalescing the ` +
          'commands of a tick into one write saves more than that.',
        'CPU is the benchmark process only (process.cpuUsage user + system); redis-server shares the two cores.',
        `Each round runs every variant for ${settings.roundMs} ms (${IN_FLIGHT} closed-loop callers) in a seeded ` +
          "shuffled order. Ratios are the median over rounds of each round's ratio to the two raw clients' mean in that round.",
      ],
      config: {
        ...settings,
        inFlight: IN_FLIGHT,
        seed,
        valueBytes: 64,
        variants: variants.map((v) => ({ id: v.id, config: v.config })),
      },
      raw: { samples: m.samples },
    };
  } finally {
    for (const v of variants) await v.close();
    await server.stop();
  }
}

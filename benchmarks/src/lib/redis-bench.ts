/**
 * Shared pieces of the Redis scenarios (`redis-*`): a Redis that is always stopped, raw ioredis clients that never
 * crash the process, a simulated database behind the cache, and the naive cache-aside every Ballast figure is
 * compared with.
 */
import { type BallastRedis, createRedis, type RedisOptions } from '@ballast/redis';
import { type RedisServer, startRedis } from '@ballast/testkit';
import { type RedisOptions as IoredisOptions, Redis } from 'ioredis';
import { sleepMs, waitUntil } from './pg-bench.js';

/** Starts one Redis, runs `fn`, and stops the server even when `fn` throws. */
export async function withRedis<T>(fn: (server: RedisServer) => Promise<T>): Promise<T> {
  const server = await startRedis();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** A raw ioredis client (its `options` on top of ioredis' defaults) whose `error` events never crash the process. */
export async function rawRedis(
  url: string,
  options: Pick<IoredisOptions, 'commandTimeout'> = {},
): Promise<Redis> {
  const client = new Redis(url, options);
  client.on('error', () => {});
  try {
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/** A Ballast client, connected (one GET answered) before it is measured. */
export async function ballastRedis(options: RedisOptions): Promise<BallastRedis> {
  const redis = createRedis(options);
  try {
    await redis.get('bench:warm-up');
  } catch (error) {
    await redis.close();
    throw error;
  }
  return redis;
}

/** A Ballast client's state for a timeline: its connection, breaker and limiter, and its cache's loads in flight. */
export function ballastState(redis: BallastRedis): Record<string, number | string | null> {
  const node = redis.stats().nodes[0];
  const limiter = node?.policy.limiter;
  const cache = redis.cache.stats();
  return {
    status: node?.status ?? null,
    breaker: node?.policy.breaker?.state ?? null,
    limit: limiter?.limit ?? null,
    limiterInflight: limiter?.inflight ?? null,
    limiterQueued: limiter?.queued ?? null,
    loaderInflight: cache.loader.limiter?.inflight ?? null,
    flights: cache.inflight,
  };
}

/** Runs `call` and resolves (never rejects) with how long it took and what it settled with. */
export async function timed(call: () => Promise<unknown>) {
  const t0 = performance.now();
  try {
    const value = await call();
    return { ms: performance.now() - t0, ok: true as const, value };
  } catch (error) {
    return { ms: performance.now() - t0, ok: false as const, error };
  }
}

/** The value the simulated database returns: which key, and which of its calls produced it. */
export interface Row {
  key: string;
  call: number;
}

/** True when `value` is the database's row for `key` (a cache must never answer another key's value). */
export function isRowOf(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && (value as Partial<Row>).key === key;
}

/**
 * The database behind the cache: each call takes `delayMs` and is counted, in all and by `tag` (the phase or wave
 * of the request that caused it), with the peak number of calls in flight.
 */
export class SimulatedDb {
  calls = 0;
  inflight = 0;
  peakInflight = 0;
  readonly callsByTag = new Map<string, number>();

  constructor(readonly delayMs: number) {}

  async load(key: string, tag = ''): Promise<Row> {
    const call = ++this.calls;
    this.callsByTag.set(tag, (this.callsByTag.get(tag) ?? 0) + 1);
    this.inflight++;
    this.peakInflight = Math.max(this.peakInflight, this.inflight);
    try {
      await sleepMs(this.delayMs);
      return { key, call };
    } finally {
      this.inflight--;
    }
  }

  /** Resolves once no call is in flight (or after `timeoutMs`). */
  async idle(timeoutMs = 5000): Promise<void> {
    await waitUntil(() => this.inflight === 0, timeoutMs);
  }
}

/** The error of a Redis command that did not settle within the naive cache-aside's guard. */
export class GuardTimeout extends Error {
  override name = 'GuardTimeout';
}

/** `promise`, or a {@link GuardTimeout} after `ms` (`Infinity`: no guard). */
export function guard<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GuardTimeout(`no reply within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** How the naive cache-aside is set up. */
export interface NaiveOptions {
  ttlMs: number;
  /** Each Redis command is abandoned after this long. @default Infinity */
  guardMs?: number | undefined;
  /** Called with each failed Redis command (the cache-aside itself carries on as on a miss). */
  onRedisError?: ((op: 'get' | 'set', error: unknown) => void) | undefined;
}

/**
 * The cache-aside most code has: `GET`; on a miss (or when Redis fails) ask the database and `SET … PX` the value
 * without waiting for the write. No coalescing, no stale values, no bound on database calls.
 */
export function naiveCacheAside(client: Redis, options: NaiveOptions) {
  const { ttlMs, guardMs = Number.POSITIVE_INFINITY, onRedisError } = options;
  return async <T>(key: string, loader: () => Promise<T>): Promise<T> => {
    let hit: string | null = null;
    try {
      hit = await guard(client.get(key), guardMs);
    } catch (error) {
      onRedisError?.('get', error);
    }
    if (hit !== null) return JSON.parse(hit) as T;
    const value = await loader();
    guard(client.set(key, JSON.stringify(value), 'PX', ttlMs), guardMs).catch((error: unknown) =>
      onRedisError?.('set', error),
    );
    return value;
  };
}

import { isBallastError } from '@ballast/core';
import { type Cluster, createCluster, type Session } from '@ballast/pg';
import { type BallastRedis, createRedis } from '@ballast/redis';
import type { Config } from '../config.js';
import { BadRequestError } from '../errors.js';
import type { Registry } from '../metrics.js';
import type { ServiceMetrics } from '../service-metrics.js';
import { PROMPT_CACHE_TTL_MS, promptCacheKey } from './prompt-cache.js';
import {
  historyOf,
  INSERT_MESSAGE,
  insertedId,
  RECENT_MESSAGES,
  type RecentRow,
  SET_EMBEDDING,
  UNEMBEDDED_MESSAGES,
} from './sql.js';
import type { CacheResult, DataLayer, Readiness, RequestData, RequestInfo } from './types.js';

/** A cached completion; `createdAt` (epoch ms) tells a stale answer from a fresh one. */
interface CachedCompletion {
  reply: string;
  createdAt: number;
}

/** Through a Redis or model outage, an old completion beats an error. */
const STALE_IF_ERROR_MS = 10 * 60_000;

/**
 * A cache read slower than this is not worth waiting for: the model answers in tens of ms. `cached()` also
 * gives Redis at most half of what is left of the request.
 */
const REDIS_TIMEOUT_MS = 250;

/** Model calls in flight per instance; more wait in the loader's queue (and are shed when it is full). */
const MODEL_CONCURRENCY = 64;

/**
 * The data layer on Ballast: one cluster client (a pool, a breaker and an adaptive limit per host, read-your-
 * writes sessions), one Redis client with a cache-aside, and every call bounded by what is left of the request.
 */
export function createBallastData(config: Config, metrics: ServiceMetrics): DataLayer {
  const db = createCluster({
    primary: config.pgPrimaryUrl,
    replicas: config.pgReplicaUrls,
    timeoutMs: config.requestDeadlineMs,
    pool: { max: config.pgPoolMax },
  });
  const redis = createRedis({
    url: config.redisUrl,
    timeoutMs: REDIS_TIMEOUT_MS,
    nearCache: { max: 10_000, ttlMs: 5_000 },
    loaderPolicy: { limiter: { limit: MODEL_CONCURRENCY } },
  });
  db.on('session-wait', () => metrics.rywWaits.inc());
  db.on('fallback-to-primary', (e) => {
    if (e.consistency === 'session') metrics.rywFallbacks.inc();
  });
  exportGauges(metrics.registry, db, redis);

  return {
    mode: 'ballast',
    run(request, work) {
      return work(requestData(db, redis, request));
    },
    async readiness() {
      return readinessOf(db, redis);
    },
    async close() {
      await Promise.all([db.close(), redis.close()]);
    },
  };
}

function requestData(db: Cluster, redis: BallastRedis, request: RequestInfo): RequestData {
  const deadlineAt = performance.now() + request.budgetMs;
  // Every call gets what is left of the request's budget: a request that spent it on the model does not start
  // a write it cannot finish, and one whose client left stops (the cluster cancels its statement on the server).
  const call = () => ({
    deadlineMs: deadlineAt - performance.now(),
    priority: request.priority,
    signal: request.signal,
  });
  const session = sessionOf(db, request.sessionToken);

  return {
    async appendMessage(conversationId, role, content) {
      const result = await session.write<{ id: string }>(
        INSERT_MESSAGE,
        [conversationId, role, content],
        call(),
      );
      return insertedId(result.rows);
    },

    async recentMessages(conversationId, limit, consistency) {
      const values = [conversationId, limit];
      const result =
        consistency === 'session'
          ? await session.read<RecentRow>(RECENT_MESSAGES, values, call())
          : await db.read<RecentRow>(RECENT_MESSAGES, values, { ...call(), consistency: 'eventual' });
      return historyOf(result.rows);
    },

    async completion(prompt, generate) {
      let generated = false;
      const entry = await redis.cached<CachedCompletion>(
        promptCacheKey('ballast', prompt),
        async ({ signal }) => {
          generated = true;
          return { reply: await generate(signal), createdAt: Date.now() };
        },
        { ttlMs: PROMPT_CACHE_TTL_MS, staleIfErrorMs: STALE_IF_ERROR_MS, ...call() },
      );
      let cache: CacheResult = 'hit';
      if (generated) cache = 'miss';
      else if (Date.now() - entry.createdAt > PROMPT_CACHE_TTL_MS) cache = 'stale';
      return { reply: entry.reply, cache };
    },

    async unembeddedMessages(limit) {
      // On the primary: a replica may not show the embeddings the last backfill stored yet.
      const result = await db.query<{ id: string; content: string }>(UNEMBEDDED_MESSAGES, [limit], call());
      return result.rows.map((row) => ({ id: Number(row.id), content: row.content }));
    },

    async setEmbedding(id, embedding) {
      // Storing the same embedding twice is harmless: Ballast may retry it after an ambiguous failure.
      await db.query(SET_EMBEDDING, [id, embedding], { ...call(), idempotent: true });
    },

    sessionToken() {
      return session.token();
    },
  };
}

/** The session of the client's token; a token that is not one is the client's mistake (400). */
function sessionOf(db: Cluster, token: string | undefined): Session {
  try {
    return db.session(token);
  } catch (error) {
    if (isBallastError(error, 'BALLAST_INVALID_ARGUMENT'))
      throw new BadRequestError('x-ballast-session is not a session token');
    throw error;
  }
}

/** Ready when a writable primary is known and its breaker is not open; Redis is a cache and does not count. */
function readinessOf(db: Cluster, redis: BallastRedis): Readiness {
  const stats = db.stats();
  const breakers = Object.fromEntries(stats.hosts.map((h) => [h.name, h.policy.breaker?.state ?? 'closed']));
  const primary = stats.hosts.find((h) => h.name === stats.primary);
  const ready = primary !== undefined && primary.policy.breaker?.state !== 'open';
  const redisState = redis.stats().nodes[0]?.policy.breaker?.state ?? 'closed';
  return {
    ready,
    primary: ready ? 'ok' : 'unavailable',
    breakers,
    redis: redisState === 'closed' ? 'ok' : redisState,
  };
}

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** Breaker, limit and pool gauges, sampled from the clients' stats() at each scrape. */
function exportGauges(registry: Registry, db: Cluster, redis: BallastRedis): void {
  const breaker = registry.gauge(
    'ballast_breaker_state',
    'Breaker state of each PostgreSQL host (1 = current).',
    ['host', 'state'],
  );
  const limit = registry.gauge(
    'ballast_limiter_limit',
    'Adaptive concurrency limit of each PostgreSQL host.',
    ['host'],
  );
  const connections = registry.gauge(
    'ballast_pool_connections',
    'Pooled connections of each PostgreSQL host.',
    ['host', 'state'],
  );
  const redisBreaker = registry.gauge(
    'ballast_redis_breaker_state',
    'Breaker state of Redis (1 = current).',
    ['state'],
  );
  registry.onCollect(() => {
    // Host names are `host:port/db`: never credentials.
    for (const host of db.stats().hosts) {
      for (const state of BREAKER_STATES)
        breaker.set({ host: host.name, state }, host.policy.breaker?.state === state ? 1 : 0);
      limit.set({ host: host.name }, host.policy.limiter?.limit ?? 0);
      connections.set({ host: host.name, state: 'busy' }, host.pool.busy);
      connections.set({ host: host.name, state: 'idle' }, host.pool.idle);
    }
    const state = redis.stats().nodes[0]?.policy.breaker?.state;
    for (const s of BREAKER_STATES) redisBreaker.set({ state: s }, state === s ? 1 : 0);
  });
}

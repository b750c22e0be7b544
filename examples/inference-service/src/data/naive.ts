import { Redis } from 'ioredis';
import pg from 'pg';
import type { Config } from '../config.js';
import { RequestTimeoutError } from '../errors.js';
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
import type { DataLayer, RequestData } from './types.js';

/** How long `GET /readyz` waits for `SELECT 1` on the primary. */
const READY_TIMEOUT_MS = 500;

/**
 * The baseline: what services are commonly built on today. A `pg.Pool` for the primary and one per replica
 * with reads spread at random over the replicas (Prisma's read-replicas extension, Drizzle's `withReplicas`),
 * ioredis with its defaults, cache-aside with GET and SET, and a request timeout from `Promise.race`: the
 * request answers 504 when its budget is spent, while its queries and model call run on.
 */
export function createNaiveData(config: Config): DataLayer {
  const primary = new pg.Pool({ connectionString: config.pgPrimaryUrl, max: config.pgPoolMax });
  const replicas = config.pgReplicaUrls.map(
    (url) => new pg.Pool({ connectionString: url, max: config.pgPoolMax }),
  );
  // pg.Pool emits 'error' when an idle connection dies; without a listener that would crash the process.
  for (const pool of [primary, ...replicas]) pool.on('error', () => {});
  const redis = new Redis(config.redisUrl);
  // ioredis reconnects by itself; without a listener it prints every failed attempt.
  redis.on('error', () => {});

  const readPool = () => replicas[Math.floor(Math.random() * replicas.length)] ?? primary;

  const data: RequestData = {
    async appendMessage(conversationId, role, content) {
      const result = await primary.query<{ id: string }>(INSERT_MESSAGE, [conversationId, role, content]);
      return insertedId(result.rows);
    },

    async recentMessages(conversationId, limit) {
      // Session or eventual, a read goes to a random replica: nothing here knows what the replica has replayed.
      const result = await readPool().query<RecentRow>(RECENT_MESSAGES, [conversationId, limit]);
      return historyOf(result.rows);
    },

    async completion(prompt, generate) {
      const key = promptCacheKey('naive', prompt);
      let cached: string | null;
      try {
        cached = await redis.get(key);
      } catch {
        // The cache is down: answer without it.
        return { reply: await generate(undefined), cache: 'bypass' };
      }
      if (cached !== null) return { reply: cached, cache: 'hit' };
      const reply = await generate(undefined);
      // Best effort: a failed SET only costs the next asker a model call.
      redis.set(key, reply, 'PX', PROMPT_CACHE_TTL_MS).catch(() => {});
      return { reply, cache: 'miss' };
    },

    async unembeddedMessages(limit) {
      const result = await primary.query<{ id: string; content: string }>(UNEMBEDDED_MESSAGES, [limit]);
      return result.rows.map((row) => ({ id: Number(row.id), content: row.content }));
    },

    async setEmbedding(id, embedding) {
      await primary.query(SET_EMBEDDING, [id, embedding]);
    },

    sessionToken() {
      return undefined;
    },
  };

  return {
    mode: 'naive',
    run(request, work) {
      return withTimeout(
        work(data),
        request.budgetMs,
        () => new RequestTimeoutError(`no answer within ${request.budgetMs} ms`),
      );
    },
    async readiness() {
      const ok = await withTimeout(
        primary.query('SELECT 1').then(() => true),
        READY_TIMEOUT_MS,
        () => new RequestTimeoutError('SELECT 1 timed out'),
      ).catch(() => false);
      return {
        ready: ok,
        primary: ok ? 'ok' : 'unavailable',
        breakers: {},
        redis: redis.status === 'ready' ? 'ok' : redis.status,
      };
    },
    async close() {
      redis.disconnect();
      await Promise.all([primary, ...replicas].map((pool) => pool.end()));
    },
  };
}

/** `promise`, or `timeoutError()` after `ms`; the work behind `promise` is not stopped. */
function withTimeout<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

import { startPostgres } from './postgres.js';
import { startRedis } from './redis.js';

/** What the global setup provides to tests through vitest's `inject()`. */
export interface TestkitProvided {
  /** Superuser URL of the primary (credentials included) and of each streaming replica. */
  postgres: { primaryUrl: string; replicaUrls: string[] };
  redis: { url: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    ballast: TestkitProvided;
  }
}

interface ProvideTarget {
  provide(key: 'ballast', value: TestkitProvided): void;
}

/**
 * A vitest `globalSetup`: starts one PostgreSQL primary with a streaming replica and one Redis for the whole
 * run, provides their URLs as `inject('ballast')`, and stops them when the run ends (the kit's exit handlers
 * and orphan sweep cover a run that is killed). Replica lag is controlled in SQL on the replica
 * (`SELECT pg_wal_replay_pause()`), as the URLs are superuser URLs.
 * @example
 * // vitest.config.ts
 * export default defineProject({ test: { globalSetup: ['@ballast/testkit/vitest'] } });
 * // a test
 * const { postgres } = inject('ballast');
 */
export default async function setup(project: ProvideTarget): Promise<() => Promise<void>> {
  const replicas = Number(process.env.BALLAST_TESTKIT_REPLICAS ?? 1);
  const [pgResult, redisResult] = await Promise.allSettled([
    startPostgres({ replicas, superuser: true }),
    startRedis(),
  ]);
  const pg = pgResult.status === 'fulfilled' ? pgResult.value : undefined;
  const redis = redisResult.status === 'fulfilled' ? redisResult.value : undefined;
  if (pg === undefined || redis === undefined) {
    // Stop whichever did come up before reporting the one that did not.
    await Promise.allSettled([pg?.stop(), redis?.stop()]);
    throw pgResult.status === 'rejected' ? pgResult.reason : (redisResult as PromiseRejectedResult).reason;
  }
  project.provide('ballast', {
    postgres: { primaryUrl: pg.primary.url, replicaUrls: pg.replicas.map((r) => r.url) },
    redis: { url: redis.url },
  });
  return async () => {
    await Promise.allSettled([pg?.stop(), redis?.stop()]);
  };
}

/**
 * The servers of the demo, started through @ballast/testkit: a PostgreSQL primary with one streaming replica,
 * Redis, and a FaultProxy in front of each, which the instances connect through (so faults reach them).
 */
import {
  FaultProxy,
  type PostgresCluster,
  type RedisServer,
  startPostgres,
  startRedis,
} from '@ballast/testkit';
import { ensureSchema } from '../src/schema.js';
import type { Dependency } from './metrics.js';
import type { FaultTargets } from './story.js';

/** What the demo runs against. */
export interface DemoServers {
  pgc: PostgresCluster;
  redis: RedisServer;
  /** The URLs the instances get: every one goes through its proxy. */
  urls: { primary: string; replica: string; redis: string };
  faults: FaultTargets;
  /** Which dependency a `host:port/db` label of the service's metrics names (by the proxy port). */
  dependencyOf(host: string): Dependency | undefined;
  /** The same starting state for each mode: no messages, an empty prompt cache, the replica caught up. */
  resetData(): Promise<void>;
  /** Closes the proxies and stops the servers. Safe to call twice. */
  stop(): Promise<void>;
}

function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

/** Starts everything (≈ 2 s) and creates the service's schema. */
export async function startServers(): Promise<DemoServers> {
  const [pgc, redis] = await Promise.all([startPostgres({ replicas: 1 }), startRedis()]);
  const replica = pgc.replicas[0];
  if (replica === undefined) throw new Error('startPostgres({ replicas: 1 }) returned no replica');
  const proxies = {
    primary: new FaultProxy({ port: pgc.primary.port }),
    replica: new FaultProxy({ port: replica.port }),
    redis: new FaultProxy({ port: redis.port }),
  };
  const [primaryPort, replicaPort, redisPort] = await Promise.all([
    proxies.primary.listen(),
    proxies.replica.listen(),
    proxies.redis.listen(),
  ]);
  await ensureSchema(pgc.primary.url);
  let stopped: Promise<void> | undefined;
  return {
    pgc,
    redis,
    urls: {
      primary: viaProxy(pgc.primary.url, primaryPort),
      replica: viaProxy(replica.url, replicaPort),
      redis: viaProxy(redis.url, redisPort),
    },
    faults: { pgc, ...proxies },
    dependencyOf(host) {
      const port = /:(\d+)(\/|$)/.exec(host)?.[1];
      if (port === String(primaryPort)) return 'primary';
      if (port === String(replicaPort)) return 'replica';
      return undefined;
    },
    async resetData() {
      await pgc.query('primary', 'TRUNCATE messages RESTART IDENTITY');
      await redis.command(['FLUSHALL']);
      await pgc.waitForReplay(0);
    },
    stop() {
      stopped ??= (async () => {
        await Promise.allSettled(Object.values(proxies).map((p) => p.close()));
        await Promise.allSettled([pgc.stop(), redis.stop()]);
      })();
      return stopped;
    },
  };
}

/**
 * The clients of the primary-fault scenarios (`pg-outage`, `pg-failover`): raw pg.Pools pointed at each node, and
 * the Ballast cluster client that lists both. Writes go to the primary, reads (eventual) to the replica.
 */
import { createCluster } from '@ballast/pg';
import { endPool, rawPool, waitUntil } from './pg-bench.js';
import { round } from './stats.js';

export interface PrimaryFaultClient {
  write(i: number): Promise<unknown>;
  read(): Promise<unknown>;
  /** The primary's pool and limiter, for the timeline (Ballast only). */
  state?(): Record<string, number | string | null>;
  close(): Promise<void>;
}

export interface PrimaryFaultVariant {
  id: string;
  label: string;
  config: string;
  make(primaryUrl: string, replicaUrl: string): Promise<PrimaryFaultClient>;
}

/** Both variants, writing to and reading from `table` (`id bigserial`, `v int`), with `timeoutMs` deadlines. */
export function primaryFaultVariants(table: string, timeoutMs: number): PrimaryFaultVariant[] {
  const write = `INSERT INTO ${table} (v) VALUES ($1)`;
  const read = `SELECT v FROM ${table} ORDER BY id DESC LIMIT 1`;
  return [
    {
      id: 'raw',
      label: `raw pg.Pool ×2 (${timeoutMs / 1000} s timeouts)`,
      config: `new pg.Pool({ max: 10, connectionTimeoutMillis: ${timeoutMs}, query_timeout: ${timeoutMs} }) for the primary and one for the replica`,
      async make(primaryUrl, replicaUrl) {
        const options = { max: 10, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs };
        const primary = rawPool({ connectionString: primaryUrl, ...options });
        const replica = rawPool({ connectionString: replicaUrl, ...options });
        return {
          write: (i) => primary.query(write, [i]),
          read: () => replica.query(read),
          close: async () => {
            await Promise.all([endPool(primary), endPool(replica)]);
          },
        };
      },
    },
    {
      id: 'ballast',
      label: 'ballast cluster',
      config: `createCluster({ primary, replicas: [replica], timeoutMs: ${timeoutMs}, pool: { max: 10 } }); db.write(); db.read() (eventual)`,
      async make(primaryUrl, replicaUrl) {
        const db = createCluster({
          primary: primaryUrl,
          replicas: [replicaUrl],
          timeoutMs,
          pool: { max: 10 },
        });
        await waitUntil(() => db.stats().hosts.every((h) => h.healthy), 5000, 20);
        return {
          write: (i) => db.write(write, [i]),
          read: () => db.read(read),
          state() {
            const stats = db.stats();
            const h = stats.hosts[0];
            return {
              primaryKnown: stats.primary === undefined ? 0 : 1,
              connections: h?.pool.total ?? null,
              connecting: h?.pool.connecting ?? null,
              busy: h?.pool.busy ?? null,
              waiting: h?.pool.waiting ?? null,
              limit: round(Number(h?.policy.limiter?.limit ?? Number.NaN), 1),
              breaker: String(h?.policy.breaker?.state ?? '–'),
            };
          },
          close: () => db.close(),
        };
      },
    },
  ];
}

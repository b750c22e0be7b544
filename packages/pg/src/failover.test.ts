import { isBallastError } from '@ballast/core';
import { FaultProxy, type PostgresCluster, startPostgres } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster } from './cluster.js';
import { waitFor } from './test-helpers.js';

/** Failover on real servers: the primary behind a fault proxy is blackholed, then a listed replica is promoted. */
describe('failover', () => {
  let pgc: PostgresCluster;
  let proxy: FaultProxy;
  let db: Cluster;

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 1 });
    proxy = new FaultProxy({ port: pgc.primary.port });
    const port = await proxy.listen();
    const viaProxy = new URL(pgc.primary.url);
    viaProxy.port = String(port);
    db = createCluster({
      primary: viaProxy.toString(),
      replicas: pgc.replicas.map((r) => r.url),
      timeoutMs: 2_000,
      routing: { healthIntervalMs: 200, healthTimeoutMs: 300 },
    });
    await db.query('CREATE TABLE events (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
    await waitFor(() => db.stats().hosts[1]?.role, 'replica');
  });
  afterAll(async () => {
    await db?.close();
    await proxy?.close();
    await pgc?.stop();
  });

  it('writes fail fast with BALLAST_PRIMARY_UNAVAILABLE while the primary is blackholed; reads go on', async () => {
    await proxy.set({ blackhole: true });
    // The first write finds out (its deadline, or the health check within ~300 ms).
    await db.query('INSERT INTO events DEFAULT VALUES', [], { deadlineMs: 500 }).catch(() => {});
    await expect.poll(() => db.stats().primary, { timeout: 4_000 }).toBeUndefined();
    const timings: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const error = await db.query('INSERT INTO events DEFAULT VALUES').catch((e: unknown) => e);
      timings.push(performance.now() - t0);
      expect(isBallastError(error, 'BALLAST_PRIMARY_UNAVAILABLE')).toBe(true);
    }
    expect(Math.max(...timings)).toBeLessThan(50);
    const r = await db.read<{ n: number }>('SELECT count(*)::int AS n FROM events');
    expect(r.rowCount).toBe(1);
    await proxy.clear();
    await expect.poll(() => db.stats().primary, { timeout: 3_000 }).toBeDefined();
    await expect(db.query('INSERT INTO events DEFAULT VALUES')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('after the primary dies and a listed replica is promoted, writes go to the new primary without a restart', async () => {
    await proxy.set({ reset: true, refuse: true });
    await pgc.killPrimary();
    await pgc.promote(0);
    await expect
      .poll(
        async () =>
          (await db.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec').catch(() => undefined))
            ?.rows[0]?.rec,
        {
          timeout: 10_000,
          interval: 100,
        },
      )
      .toBe(false);
    expect(db.stats().primary).toBe(db.stats().hosts[1]?.name);
    await expect(db.query('INSERT INTO events DEFAULT VALUES')).resolves.toMatchObject({ rowCount: 1 });
  });
});

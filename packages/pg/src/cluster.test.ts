import { isBallastError } from '@ballast/core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createCluster } from './cluster.js';

const { postgres } = inject('ballast');
const password = new URL(postgres.primaryUrl).password;

describe('createCluster against the shared primary and replica', () => {
  const db = createCluster({ primary: postgres.primaryUrl, replicas: postgres.replicaUrls });
  afterAll(() => db.close());

  it('query runs on the primary and returns pg result shapes', async () => {
    const r = await db.query<{ rec: boolean; n: number }>(
      'SELECT pg_is_in_recovery() AS rec, $1::int AS n',
      [7],
    );
    expect(r.rows).toEqual([{ rec: false, n: 7 }]);
    expect(r.command).toBe('SELECT');
    expect(r.rowCount).toBe(1);
    expect(r.fields.map((f) => f.name)).toEqual(['rec', 'n']);
  });

  it('an eventual read goes to a replica once health checks know it', async () => {
    await expect.poll(() => db.stats().hosts[1]?.role, { timeout: 5_000 }).toBe('replica');
    const r = await db.read<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    expect(r.rows[0]?.rec).toBe(true);
  });

  it('a write sent as an eventual read runs on the primary and leaves the replica in rotation', async () => {
    await expect.poll(() => db.stats().hosts[1]?.role, { timeout: 5_000 }).toBe('replica');
    const downs: string[] = [];
    const off = db.on('host-down', (e) => downs.push(e.host));
    await db.query('CREATE TABLE IF NOT EXISTS disguised_writes (id int)');
    // The replica must know the table, or it answers 42P01 before it could refuse the write.
    await expect
      .poll(
        async () => (await db.read("SELECT 1 FROM pg_class WHERE relname = 'disguised_writes'")).rowCount,
        {
          timeout: 5_000,
        },
      )
      .toBe(1);
    const r = await db.read('INSERT INTO disguised_writes VALUES (1) RETURNING id');
    off();
    expect(r.rowCount).toBe(1);
    expect(downs).toEqual([]);
    expect(db.stats().hosts[1]?.role).toBe('replica');
  });

  it('a strong read goes to the primary', async () => {
    const r = await db.read<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], {
      consistency: 'strong',
    });
    expect(r.rows[0]?.rec).toBe(false);
  });

  it("a statement error is pg's DatabaseError, unchanged, with its SQLSTATE", async () => {
    const error = await db.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '42P01', name: 'error' });
  });

  it('a deadline stops a long statement and the server forgets it quickly', async () => {
    const t0 = performance.now();
    const error = await db
      .query("SELECT pg_sleep(5), 'ballast-deadline-probe'", [], { deadlineMs: 200 })
      .catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2_000);
    await expect
      .poll(
        async () =>
          (
            await db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%ballast-deadline-probe%' AND pid <> pg_backend_pid()",
            )
          ).rows[0]?.n,
        { timeout: 2_000, interval: 50 },
      )
      .toBe(0);
  });

  it('stats name every host without credentials', () => {
    const text = JSON.stringify(db.stats(), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(text).not.toContain(password);
    expect(db.stats().hosts).toHaveLength(1 + postgres.replicaUrls.length);
  });

  it('rejects invalid options naming the option and never echoing a URL', () => {
    const bad = `postgres://u:${password}@127.0.0.1:1/db`;
    expect(() => createCluster({ primary: 'mysql://x' })).toThrow('cluster.primary');
    expect(() => createCluster({ primary: bad, pool: { max: 0 } })).toThrow('pool.max');
    try {
      createCluster({ primary: bad, routing: { sessionWaitShare: 2 } });
    } catch (error) {
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).not.toContain(password);
    }
  });
});

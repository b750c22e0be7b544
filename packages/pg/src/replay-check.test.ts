import { FaultProxy, type PostgresCluster, startPostgres } from '@ballast/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseInsertLsn, parseLsn } from './lsn.js';
import { canPipeline } from './pipelined-query.js';
import { ReplayCheckedQuery } from './replay-check.js';

/** A read with its replica check in the same round trip, on a real primary + streaming replica. */
describe('ReplayCheckedQuery', () => {
  let pgc: PostgresCluster;
  let primary: pg.Client;
  let replica: pg.Client;

  /** The primary's position now (what a session captures after a write). */
  async function position(): Promise<bigint> {
    const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return normaliseInsertLsn(parseLsn((rows[0] as { lsn: string }).lsn));
  }

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 1 });
    primary = new pg.Client({ connectionString: pgc.primary.url });
    replica = new pg.Client({ connectionString: (pgc.replicas[0] as { url: string }).url });
    await Promise.all([primary.connect(), replica.connect()]);
    await primary.query('CREATE TABLE rc (id int PRIMARY KEY, note text, big bigint)');
    await pgc.waitForReplay(0);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([primary?.end(), replica?.end()]);
    await pgc?.stop();
  });

  it('reads and proves the replica caught up, in one request, with parameters (extended protocol)', async () => {
    await primary.query("INSERT INTO rc VALUES (1, 'one', 9007199254740993)");
    const need = await position();
    await pgc.waitForReplay(0);
    const q = new ReplayCheckedQuery<{ id: number; note: string; big: string }>(
      'SELECT id, note, big FROM rc WHERE id = $1',
      [1],
      need,
    );
    const result = await replica.query(q);
    expect(q.check?.caughtUp).toBe(true);
    expect(q.check?.lsn).toBeGreaterThanOrEqual(need);
    expect(q.check?.paused).toBe(false);
    // Exactly what pg gives for the same statement: rows parsed with pg's types, fields, command.
    const plain = await replica.query('SELECT id, note, big FROM rc WHERE id = $1', [1]);
    expect(result.rows).toEqual(plain.rows);
    expect(result.rows).toEqual([{ id: 1, note: 'one', big: '9007199254740993' }]);
    expect(result.fields.map((f) => f.name)).toEqual(['id', 'note', 'big']);
    expect(result.command).toBe('SELECT');
    expect(result.rowCount).toBe(1);
  });

  it('costs one round trip, not two (replica behind a proxy adding 40 ms each way)', async () => {
    const proxy = new FaultProxy({ port: (pgc.replicas[0] as { port: number }).port });
    const url = new URL((pgc.replicas[0] as { url: string }).url);
    url.port = String(await proxy.listen());
    const slow = new pg.Client({ connectionString: url.toString() });
    try {
      await slow.connect();
      await proxy.set({ latencyMs: 40 });
      const need = await position();
      await pgc.waitForReplay(0);
      for (const values of [[1], undefined]) {
        const text =
          values === undefined ? 'SELECT id FROM rc WHERE id = 1' : 'SELECT id FROM rc WHERE id = $1';
        const start = performance.now();
        const q = new ReplayCheckedQuery(text, values, need);
        const result = await slow.query(q);
        const tookMs = performance.now() - start;
        expect(q.check?.caughtUp).toBe(true);
        expect(result.rows).toEqual([{ id: 1 }]);
        // One round trip is >= 80 ms here; a separate check would be a second one (>= 160 ms).
        expect(tookMs).toBeGreaterThanOrEqual(75);
        expect(tookMs).toBeLessThan(150);
      }
    } finally {
      await slow.end().catch(() => {});
      await proxy.close();
    }
  });

  it('works without parameters (simple protocol), with rowMode array too', async () => {
    const need = await position();
    await pgc.waitForReplay(0);
    const q = new ReplayCheckedQuery('SELECT id, note FROM rc ORDER BY id', undefined, need);
    const result = await replica.query(q);
    expect(q.check?.caughtUp).toBe(true);
    expect(result.rows).toEqual([{ id: 1, note: 'one' }]);
    const arrays = new ReplayCheckedQuery(
      { text: 'SELECT id, note FROM rc WHERE id = $1', values: [1], rowMode: 'array' } as pg.QueryConfig,
      undefined,
      need,
    );
    expect((await replica.query(arrays)).rows).toEqual([[1, 'one']]);
  });

  it('says not caught up while replay is paused, with the replica position and what it received', async () => {
    await pgc.pauseReplay(0);
    try {
      await primary.query("INSERT INTO rc VALUES (2, 'two', 2)");
      const need = await position();
      // Wait until the WAL reached the replica (received, not replayed).
      let q: ReplayCheckedQuery<{ id: number }>;
      for (;;) {
        q = new ReplayCheckedQuery<{ id: number }>('SELECT id FROM rc WHERE id = $1', [2], need);
        await replica.query(q);
        if ((q.check?.received ?? -1n) >= need) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      q = new ReplayCheckedQuery<{ id: number }>('SELECT id FROM rc WHERE id = $1', [2], need);
      const result = await replica.query(q);
      expect(q.check?.caughtUp).toBe(false);
      expect(q.check?.lsn).toBeLessThan(need);
      expect(q.check?.received).toBeGreaterThanOrEqual(need);
      // Replay is paused, and the check says so: waiting for this replica cannot pay off.
      expect(q.check?.paused).toBe(true);
      // The stale answer the check protects against: the row is not there yet.
      expect(result.rows).toEqual([]);
    } finally {
      await pgc.resumeReplay(0);
    }
  });

  it('a read that fails only because the replica is behind does not throw: the error is as stale as a row', async () => {
    await pgc.pauseReplay(0);
    try {
      await primary.query('CREATE TABLE rc_new (id int)');
      const need = await position();
      for (const values of [[1], undefined]) {
        const text = values === undefined ? 'SELECT * FROM rc_new' : 'SELECT * FROM rc_new WHERE id = $1';
        const q = new ReplayCheckedQuery(text, values, need);
        await expect(replica.query(q)).resolves.toBeUndefined();
        expect(q.check?.caughtUp).toBe(false);
        expect(q.staleError).toMatchObject({ code: '42P01' });
      }
    } finally {
      await pgc.resumeReplay(0);
    }
    await pgc.waitForReplay(0);
    const q = new ReplayCheckedQuery('SELECT count(*)::int AS n FROM rc_new', undefined, await position());
    expect((await replica.query(q)).rows).toEqual([{ n: 0 }]);
  });

  it('on a primary the check never passes (it is not a standby)', async () => {
    const q = new ReplayCheckedQuery('SELECT 1 AS one', [], 0n);
    expect((await primary.query(q)).rows).toEqual([{ one: 1 }]);
    expect(q.check).toEqual({ caughtUp: false, lsn: -1n, received: -1n, paused: false });
  });

  it("passes the read's error with its SQLSTATE and leaves the connection usable", async () => {
    const q = new ReplayCheckedQuery('SELECT * FROM no_such_table WHERE id = $1', [1], 0n);
    await expect(replica.query(q)).rejects.toMatchObject({ code: '42P01' });
    const simple = new ReplayCheckedQuery('SELECT 1/0', undefined, 0n);
    await expect(replica.query(simple)).rejects.toMatchObject({ code: '22012' });
    const bad = new ReplayCheckedQuery('SELECT $1::int AS n', ['x'], 0n);
    await expect(replica.query(bad)).rejects.toMatchObject({ code: '22P02' });
    expect((await replica.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('accepts plain statements only', () => {
    expect(canPipeline('SELECT 1', undefined)).toBe(true);
    expect(canPipeline({ text: 'SELECT $1', values: [1] }, undefined)).toBe(true);
    expect(canPipeline('  ', undefined)).toBe(false);
    expect(canPipeline({ text: 'SELECT 1', name: 'named' }, undefined)).toBe(false);
    expect(canPipeline({ text: 'SELECT 1', queryMode: 'simple' } as pg.QueryConfig, undefined)).toBe(false);
  });
});

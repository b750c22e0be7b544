import { FaultProxy } from '@ballast/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CapturedWrite } from './captured-write.js';
import { parseLsn } from './lsn.js';

const { primaryUrl } = inject('ballast').postgres;

/** A write with its position capture pipelined behind it, on a real primary. */
describe('CapturedWrite', () => {
  let client: pg.Client;
  const clientErrors: Error[] = [];

  async function run<R extends pg.QueryResultRow>(
    w: CapturedWrite<R>,
    on = client,
  ): Promise<pg.QueryResult<R>> {
    w.attach(on);
    return await on.query(w);
  }

  beforeAll(async () => {
    client = new pg.Client({ connectionString: primaryUrl });
    client.on('error', (e) => clientErrors.push(e));
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS cw (id int PRIMARY KEY, note text)');
    await client.query('TRUNCATE cw');
  });
  afterAll(async () => {
    await client?.end();
    expect(clientErrors).toEqual([]);
  });

  it("returns the write's result and a position past its commit record", async () => {
    const w = new CapturedWrite<{ before: string }>(
      'INSERT INTO cw VALUES ($1, $2) RETURNING pg_current_wal_insert_lsn()::text AS before',
      [1, 'one'],
    );
    const result = await run(w);
    expect(result.command).toBe('INSERT');
    expect(result.rowCount).toBe(1);
    const before = parseLsn((result.rows[0] as { before: string }).before);
    // Inside the transaction the position is before the commit record; the capture ran after the commit.
    expect(w.lsn).toBeGreaterThan(before);
  });

  it('works without parameters (simple protocol)', async () => {
    const w = new CapturedWrite("UPDATE cw SET note = 'uno' WHERE id = 1", undefined);
    expect((await run(w)).rowCount).toBe(1);
    expect(w.lsn).toBeDefined();
  });

  it("rejects with the write's error and leaves the connection in step", async () => {
    const dup = new CapturedWrite('INSERT INTO cw VALUES ($1, $2)', [1, 'again']);
    await expect(run(dup)).rejects.toMatchObject({ code: '23505' });
    const syntax = new CapturedWrite('INSERT INTO cw VALUES (', undefined);
    await expect(run(syntax)).rejects.toMatchObject({ code: '42601' });
    // A value pg cannot serialize fails while binding, before the server saw the statement.
    const unbindable = new CapturedWrite('INSERT INTO cw VALUES ($1, $2)', [
      2,
      {
        toPostgres() {
          throw new Error('cannot serialize');
        },
      },
    ]);
    await expect(run(unbindable)).rejects.toThrow('cannot serialize');
    // The connection answers the next statements in order, with nothing left over from the captures.
    expect((await client.query('SELECT count(*)::int AS n FROM cw')).rows).toEqual([{ n: 1 }]);
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('a retry copy reports its position through the original', async () => {
    const w = new CapturedWrite('INSERT INTO cw VALUES (3, $1)', ['three']);
    const copy = w.renew();
    await run(copy);
    expect(w.lsn).toEqual(copy.lsn);
    expect(w.lsn).toBeDefined();
  });

  it('costs one round trip, not two (primary behind a proxy adding 40 ms each way)', async () => {
    const url = new URL(primaryUrl);
    const proxy = new FaultProxy({ port: Number(url.port) });
    url.port = String(await proxy.listen());
    const slow = new pg.Client({ connectionString: url.toString() });
    try {
      await slow.connect();
      await proxy.set({ latencyMs: 40 });
      const start = performance.now();
      const w = new CapturedWrite('INSERT INTO cw VALUES (4, $1)', ['four']);
      await run(w, slow);
      const tookMs = performance.now() - start;
      expect(w.lsn).toBeDefined();
      // One round trip is >= 80 ms here; the capture as its own statement would be a second one.
      expect(tookMs).toBeGreaterThanOrEqual(75);
      expect(tookMs).toBeLessThan(150);
    } finally {
      await slow.end().catch(() => {});
      await proxy.close();
    }
  });
});

import { isBallastError } from '@ballast/core';
import pg, { Pool as NamedPool } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCluster } from './cluster.js';

const { postgres } = inject('ballast');
const table = `facade_${process.pid}_${Date.now().toString(36)}`;

type Callback<T> = (err: Error | undefined, result: T) => void;
function viaCallback<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, r) => (err ? reject(err) : resolve(r))));
}

describe('cluster.asPool() against the shared primary and replica', () => {
  const db = createCluster({ primary: postgres.primaryUrl, replicas: postgres.replicaUrls });
  const pool = db.asPool();
  beforeAll(() => db.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, v int NOT NULL)`));
  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
    await db.close();
  });

  it('is instanceof pg.Pool', () => {
    expect(pool).toBeInstanceOf(pg.Pool);
    expect(pool).toBeInstanceOf(NamedPool);
    expect(pool.totalCount).toBeGreaterThanOrEqual(0);
    expect(pool.expiredCount).toBe(0);
  });

  it("query with promise, callback and config objects (rowMode array) returns pg's result shape", async () => {
    const r = await pool.query<{ n: number }>('SELECT $1::int AS n', [7]);
    expect(r.rows).toEqual([{ n: 7 }]);
    expect(r.command).toBe('SELECT');
    expect(r.rowCount).toBe(1);
    expect(r.fields.map((f) => f.name)).toEqual(['n']);

    const cb = await viaCallback<pg.QueryResult>((done) => pool.query('SELECT $1::text AS s', ['x'], done));
    expect(cb.rows).toEqual([{ s: 'x' }]);
    const cbNoValues = await viaCallback<pg.QueryResult>((done) => pool.query('SELECT 2 AS n', done));
    expect(cbNoValues.rows).toEqual([{ n: 2 }]);

    const arr = await pool.query({
      text: 'SELECT $1::int AS a, $2::text AS b',
      values: [1, 'y'],
      rowMode: 'array',
    });
    expect(arr.rows).toEqual([[1, 'y']]);
    const named = await pool.query({ name: `${table}_named`, text: 'SELECT $1::int + 1 AS n', values: [41] });
    expect(named.rows).toEqual([{ n: 42 }]);
    const typed = await pool.query({
      text: 'SELECT 5::int AS n',
      types: { getTypeParser: () => (v: string) => `parsed:${v}` },
    } as pg.QueryConfig);
    expect(typed.rows).toEqual([{ n: 'parsed:5' }]);

    const failed = await pool.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: '42P01' });
    const cbError = await viaCallback((done) => pool.query('SELECT * FROM no_such_table', done)).catch(
      (e: unknown) => e,
    );
    expect(cbError).toMatchObject({ code: '42P01' });
  });

  it('refuses a lone BEGIN through pool.query (it would leak an open transaction)', async () => {
    const error = await pool.query('BEGIN').catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
  });

  it('connect pins one backend for BEGIN..COMMIT and release returns it', async () => {
    const events: string[] = [];
    pool.on('acquire', () => events.push('acquire'));
    pool.on('release', () => events.push('release'));
    const client = await pool.connect();
    const pids = new Set<number>();
    const pid = async (): Promise<void> => {
      const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      pids.add(r.rows[0]?.pid as number);
    };
    await client.query('BEGIN');
    await pid();
    await client.query(`INSERT INTO ${table} (v) VALUES ($1)`, [1]);
    await pid();
    const inside = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE v = 1`);
    expect(inside.rows[0]?.n).toBe(1);
    await client.query('COMMIT');
    await pid();
    expect(pids.size).toBe(1);
    expect((client as unknown as { processID: number }).processID).toBe([...pids][0]);
    const before = db.stats().hosts[0]?.pool.idle ?? 0;
    client.release();
    expect(db.stats().hosts[0]?.pool.idle).toBe(before + 1);
    client.release(); // lenient: a second release is a no-op
    await expect(client.query('SELECT 1')).rejects.toThrow('released');
    expect(events).toEqual(['acquire', 'release']);

    // The callback form hands out a client and a done function, like pg.
    const again = await viaCallback<pg.PoolClient>((done) =>
      pool.connect((err, c) => done(err, c as pg.PoolClient)),
    );
    const r = await again.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(r.rows[0]?.pid).toBe([...pids][0]); // the same connection, reused
    again.release();
  });

  it('a client released with a transaction still open is closed, never pooled', async () => {
    const client = await pool.connect();
    await client.query('BEGIN');
    const removed = new Promise<void>((resolve) => pool.once('remove', () => resolve()));
    const destroyedBefore = db.stats().hosts[0]?.pool.destroyed ?? 0;
    client.release();
    await removed;
    expect(db.stats().hosts[0]?.pool.destroyed).toBe(destroyedBefore + 1);
    const status = await pool.query<{ tx: string }>('SELECT now() = statement_timestamp() AS tx');
    expect(status.rows).toHaveLength(1);
  });

  it("reads: 'eventual' sends a SELECT to a replica (pg_is_in_recovery() true) and an INSERT to the primary", async () => {
    await expect.poll(() => db.stats().hosts[1]?.role, { timeout: 5_000 }).toBe('replica');
    const reads = db.asPool({ reads: 'eventual' });
    // Until the cluster has measured the replica's lag, an eventual read may still fall back to the primary.
    await expect
      .poll(
        async () => (await reads.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')).rows[0]?.rec,
        {
          timeout: 5_000,
        },
      )
      .toBe(true);
    const w = await reads.query<{ rec: boolean }>(
      `INSERT INTO ${table} (v) VALUES (2) RETURNING pg_is_in_recovery() AS rec`,
    );
    expect(w.rows[0]?.rec).toBe(false);
    const locked = await reads.query<{ rec: boolean }>(
      `SELECT pg_is_in_recovery() AS rec FROM ${table} LIMIT 1 FOR UPDATE`,
    );
    expect(locked.rows[0]?.rec).toBe(false);
    await reads.end();
  });

  it("a session facade reads its own writes (reads: 'session')", async () => {
    const session = db.session();
    const facade = db.asPool({ session });
    await facade.query(`INSERT INTO ${table} (v) VALUES (3)`);
    expect(session.token()).not.toBe('');
    const r = await facade.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE v = 3`);
    expect(r.rows[0]?.n).toBe(1);
    // A write on a connect() client moves the session too, before the facade's next statement runs.
    const before = session.token();
    const client = await facade.connect();
    await client.query(`INSERT INTO ${table} (v) VALUES (4)`);
    client.release();
    const after = await facade.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE v = 4`);
    expect(after.rows[0]?.n).toBe(1);
    expect(session.token()).not.toBe(before);
    await facade.end();
  });

  it('end() detaches by default, rejects a second call and refuses new work', async () => {
    const facade = db.asPool();
    await facade.end();
    expect(facade.ended).toBe(true);
    await expect(facade.end()).rejects.toThrow('more than once');
    await expect(facade.query('SELECT 1')).rejects.toThrow('after calling end');
    expect((await db.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]); // the cluster is still open
  });

  it('rejects invalid options naming the option', () => {
    expect(() => db.asPool({ reads: 'nearest' as never })).toThrow('asPool.reads');
    expect(() => db.asPool({ deadlineMs: 0 })).toThrow('asPool.deadlineMs');
  });
});

describe('cluster.asPool(): errors and admission', () => {
  it("an idle connection error with no 'error' listener does not crash the process", async () => {
    const db = createCluster({ primary: postgres.primaryUrl });
    const silent = db.asPool();
    const listening = db.asPool();
    const heard: Error[] = [];
    listening.on('error', (e) => heard.push(e));
    try {
      const client = await silent.connect();
      const pid = (client as unknown as { processID: number }).processID;
      client.release(); // idle in the primary's pool now
      const killer = new pg.Client({ connectionString: postgres.primaryUrl });
      await killer.connect();
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);
      await killer.end();
      await expect.poll(() => db.stats().hosts[0]?.pool.idleErrors, { timeout: 5_000 }).toBe(1);
      expect(silent.listenerCount('error')).toBe(0);
      expect(heard).toHaveLength(1);
      expect((heard[0] as Error & { code?: string }).code).toBe('57P01');
      // The pool carries on with a fresh connection.
      expect((await silent.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await silent.end();
      await listening.end();
      await db.close();
    }
  });

  it('connect() is subject to admission control: with pool max 1 the second connect waits, then sheds', async () => {
    const db = createCluster({ primary: postgres.primaryUrl, pool: { max: 1, maxWaiting: 1 } });
    const pool = db.asPool({ deadlineMs: 5_000, endClosesCluster: true });
    const impatient = db.asPool({ deadlineMs: 200 });
    const first = await pool.connect();
    try {
      // One connection, held: the next connect() queues for admission and is shed when its deadline passes,
      // before anything reaches the server.
      const shed = await impatient.connect().catch((e: unknown) => e);
      expect(isBallastError(shed, 'BALLAST_SHED')).toBe(true);
      let second: pg.PoolClient | undefined;
      const waiting = pool.connect().then((c) => {
        second = c;
        return c;
      });
      await expect.poll(() => pool.waitingCount).toBe(1);
      expect(second).toBeUndefined();
      first.release();
      const got = await waiting;
      expect((await got.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
      got.release();
      expect(pool.totalCount).toBe(1);
      expect(pool.waitingCount).toBe(0);
    } finally {
      first.release();
      await impatient.end();
      await pool.end();
    }
    // endClosesCluster: the cluster is closed too.
    await expect(db.query('SELECT 1')).rejects.toThrow();
  });

  it('connect() fails fast with BALLAST_PRIMARY_UNAVAILABLE when no primary is known', async () => {
    const db = createCluster({
      primary: 'postgres://nobody:secret@127.0.0.1:1/none',
      routing: { healthFastIntervalMs: 20, healthTimeoutMs: 100 },
    });
    const pool = db.asPool({ endClosesCluster: true });
    try {
      await expect.poll(() => db.stats().primary, { timeout: 5_000 }).toBeUndefined();
      const error = await pool.connect().catch((e: unknown) => e);
      expect(isBallastError(error, 'BALLAST_PRIMARY_UNAVAILABLE')).toBe(true);
    } finally {
      await pool.end();
    }
  });
});

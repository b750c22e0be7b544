import { type Pgbouncer, type PostgresCluster, startPgbouncer, startPostgres } from '@ballast/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCancelRequest } from './cancel.js';
import { type Cluster, createCluster } from './cluster.js';
import { sessionRoundsWithRandomPauses, waitFor } from './test-helpers.js';

/**
 * The cluster client behind PgBouncer in transaction pooling, one bouncer in front of the primary and one in front
 * of the replica: consecutive statements of one pooled connection may run on different server backends.
 */
describe('through PgBouncer (transaction pooling)', () => {
  let pgc: PostgresCluster;
  let bouncerPrimary: Pgbouncer;
  let bouncerReplica: Pgbouncer;
  let db: Cluster;

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 1 });
    const replica = pgc.replicas[0];
    if (replica === undefined) throw new Error('no replica');
    [bouncerPrimary, bouncerReplica] = await Promise.all([
      startPgbouncer({ target: pgc.primary.url }),
      startPgbouncer({ target: replica.url }),
    ]);
    db = createCluster({
      primary: bouncerPrimary.url,
      replicas: [bouncerReplica.url],
      routing: { healthIntervalMs: 100 },
      // Transaction pooling: deadlines rest on cancel requests, no session-level SET.
      pool: { serverTimeouts: false },
    });
    await db.query('CREATE TABLE notes (id serial PRIMARY KEY, session int, body text)');
    await waitFor(() => db.stats().hosts[1]?.role, 'replica');
  });
  afterAll(async () => {
    await db?.close();
    await Promise.allSettled([bouncerPrimary?.stop(), bouncerReplica?.stop()]);
    await pgc?.stop();
  });

  it('zero stale session reads while replay is paused and resumed at random', async () => {
    const { stale, onReplica } = await sessionRoundsWithRandomPauses(db, pgc, 100);
    expect(stale).toBe(0);
    // Some reads must have been served by the replica (the rest waited out a pause on the primary).
    expect(onReplica).toBeGreaterThan(0);
  });

  it("health checks through PgBouncer know the replica's role and replay position", async () => {
    await pgc.waitForReplay(0);
    await waitFor(() => db.stats().hosts[1]?.healthy, true);
    const [primary, replica] = db.stats().hosts;
    expect(primary?.role).toBe('primary');
    expect(replica?.role).toBe('replica');
    expect(replica?.lsn).toBeDefined();
  });

  // Today the server-side statement_timeout the pool SETs ends the statement here (with one client, PgBouncer
  // hands the SET and the statement the same server connection); the CancelRequest is dropped by PgBouncer 1.18
  // (see the known issues below).
  it('a deadline cancels a long statement through PgBouncer, and the backend stops', async () => {
    const t0 = performance.now();
    const error = await db
      .query('SELECT pg_sleep(5)', [], { deadlineMs: 300 })
      .catch((e: unknown) => e as { code?: string; cause?: { code?: string; message?: string } });
    expect(error).toMatchObject({ code: 'BALLAST_DEADLINE_EXCEEDED' });
    expect(performance.now() - t0).toBeLessThan(2_000);
    const active = () =>
      pgc
        .query<{ n: number }>(
          'primary',
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(5)'",
        )
        .then((rows) => rows[0]?.n);
    await waitFor(active, 0, 1_000, 20);
  });
});

/** Two things that broke behind PgBouncer in transaction mode, and stay fixed. */
describe('behind PgBouncer in transaction mode', () => {
  let pgc: PostgresCluster;

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 0 });
  });
  afterAll(async () => {
    await pgc?.stop();
  });

  // With server timeouts on, the pool would SET statement_timeout before a statement; in transaction pooling that
  // SET stays on whichever server connection ran it, for the next client. `serverTimeouts: false` turns it off.
  it("with serverTimeouts off, a statement's deadline does not change statement_timeout for other clients", async () => {
    const bouncer = await startPgbouncer({ target: pgc.primary.url, defaultPoolSize: 1 });
    const db = createCluster({ primary: bouncer.url, pool: { serverTimeouts: false } });
    const other = new pg.Client(bouncer.url);
    try {
      await db.query('SELECT 1', [], { deadlineMs: 1_000 });
      await other.connect();
      const { rows } = await other.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(rows[0]?.statement_timeout).toBe('0');
    } finally {
      await other.end().catch(() => {});
      await db.close();
      await bouncer.stop();
    }
  });

  // A cancel request written with a half-close (socket.end(message)) was dropped by PgBouncer 1.18 ("client
  // unexpected eof") or crashed it (pgbouncer/pgbouncer#801). Written as libpq does, it works every time.
  it('sendCancelRequest cancels a statement through PgBouncer, which keeps running', async () => {
    const bouncer = await startPgbouncer({ target: pgc.primary.url });
    try {
      for (let i = 0; i < 3; i++) {
        const client = new pg.Client(bouncer.url);
        client.on('error', () => {});
        await client.connect();
        const outcome = client.query('SELECT pg_sleep(1)').then(
          () => 'completed',
          (e: { code?: string }) => e.code,
        );
        await new Promise((r) => setTimeout(r, 100));
        const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
        await sendCancelRequest({ host: bouncer.host, port: bouncer.port, processID, secretKey });
        expect(await outcome).toBe('57014');
        await client.end();
        await new Promise((r) => setTimeout(r, 50));
        expect(bouncer.pid).toBeDefined();
      }
    } finally {
      await bouncer.stop();
    }
  });
});

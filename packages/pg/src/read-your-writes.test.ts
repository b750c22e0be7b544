import { type PostgresCluster, startPostgres } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster } from './cluster.js';
import { sessionRoundsWithRandomPauses, waitFor } from './test-helpers.js';
import { decodeToken, encodeToken } from './token.js';

/**
 * Read-your-writes on a real primary + replica whose replay is paused and resumed at random: a session read must
 * never miss the session's own write, and most of them should still be served by the replica.
 */
describe('read-your-writes sessions', () => {
  let pgc: PostgresCluster;
  let db: Cluster;

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 1 });
    db = createCluster({
      primary: pgc.primary.url,
      replicas: pgc.replicas.map((r) => r.url),
      routing: { healthIntervalMs: 100 },
    });
    await db.query('CREATE TABLE notes (id serial PRIMARY KEY, session int, body text)');
    await waitFor(() => db.stats().hosts[1]?.role, 'replica');
  });
  afterAll(async () => {
    await db?.close();
    await pgc?.stop();
  });

  it('zero stale session reads while replay is paused and resumed at random', async () => {
    const { stale, onReplica } = await sessionRoundsWithRandomPauses(db, pgc, 120);
    expect(stale).toBe(0);
    // Some reads must have been served by the replica (the rest waited out a pause on the primary).
    expect(onReplica).toBeGreaterThan(0);
  });

  it('a token carried to a second cluster object (another instance) is honoured', async () => {
    const other = createCluster({ primary: pgc.primary.url, replicas: pgc.replicas.map((r) => r.url) });
    try {
      await pgc.pauseReplay(0);
      const s = db.session();
      await s.write('INSERT INTO notes (session, body) VALUES (-1, $1)', ['carried']);
      const token = s.token();
      expect(token).not.toBe('');
      const r = await other
        .session(token)
        .read<{ n: number }>("SELECT count(*)::int AS n FROM notes WHERE body = 'carried'");
      expect(r.rows[0]?.n).toBe(1);
    } finally {
      await pgc.resumeReplay(0);
      await other.close();
    }
  });

  it('a session read behind a paused replica goes to the primary at once instead of waiting out its budget', async () => {
    // Waiting on the replica ends with a session-wait event (its wait, caught up or not); going to the primary at
    // once after the check in front of the read emits none.
    const waits: { waitedMs: number; caughtUp: boolean }[] = [];
    const off = db.on('session-wait', (e) => waits.push({ waitedMs: e.waitedMs, caughtUp: e.caughtUp }));
    try {
      await pgc.pauseReplay(0);
      const s = db.session();
      await s.write("INSERT INTO notes (session, body) VALUES (-2, 'paused')");
      // Budget to wait for the replica: min(sessionWaitMaxMs 250, 25 % of 2 s) = 250 ms.
      const r = await s.read<{ rec: boolean; n: number }>(
        "SELECT pg_is_in_recovery() AS rec, count(*)::int AS n FROM notes WHERE body = 'paused'",
        [],
        { deadlineMs: 2_000 },
      );
      expect(r.rows[0]).toEqual({ rec: false, n: 1 });
      expect(waits).toEqual([]);
    } finally {
      off();
      await pgc.resumeReplay(0);
    }
  });

  it('a token from another cluster is refused: the read goes to the primary', async () => {
    const s = db.session();
    await s.write('SELECT 1');
    const pos = decodeToken(s.token());
    const foreign = encodeToken({ ...pos, systemId: '12345' });
    const refused: string[] = [];
    const off = db.on('fallback-to-primary', (e) => refused.push(e.reason));
    const r = await db.session(foreign).read<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    off();
    expect(r.rows[0]?.rec).toBe(false);
    expect(refused).toContain('token-refused');
  });

  it('a token ahead of the primary is clamped instead of waiting for a position that does not exist', async () => {
    const s = db.session();
    await s.write('SELECT 1');
    const pos = decodeToken(s.token());
    const ahead = encodeToken({ ...pos, lsn: pos.lsn + 10n ** 9n });
    const t0 = performance.now();
    const r = await db.session(ahead).read<{ one: number }>('SELECT 1 AS one');
    expect(r.rows[0]?.one).toBe(1);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});

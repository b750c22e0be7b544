import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, expectTypeOf, inject, it } from 'vitest';
import { checkHealth, type HealthCheckRow, type HealthQueryable, toHostHealth } from './health.js';
import { normaliseInsertLsn, parseLsn } from './lsn.js';
import { parseReplayCheck, type ReplayCheck, replayCheckSql } from './replay-check.js';
import type { HostHealth } from './types.js';

const { primaryUrl, replicaUrls } = inject('ballast').postgres;

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** The replica check the session sends in front of a read, on its own. */
async function replayCheck(client: pg.Client, lsn: bigint): Promise<ReplayCheck> {
  const { rows } = await client.query(replayCheckSql(lsn));
  const row = rows[0] as { caught_up: boolean; lsn: string | null; recv: string | null; paused: boolean };
  return parseReplayCheck(row.caught_up, row.lsn, row.recv, row.paused);
}

async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || performance.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('checkHealth against a real primary and streaming replica', () => {
  let primary: pg.Client;
  let replica: pg.Client;

  beforeAll(async () => {
    [primary, replica] = await Promise.all([connect(primaryUrl), connect(replicaUrls[0] as string)]);
    await primary.query('CREATE TABLE IF NOT EXISTS ballast_health_test (id bigserial PRIMARY KEY)');
  });
  afterAll(async () => {
    await Promise.allSettled([primary.end(), replica.end()]);
  });

  it('reports the primary: not in recovery, its system id, timeline and normalised insert position', async () => {
    const health = await checkHealth(primary, 123);
    const { rows } = await primary.query<{ sysid: string; lsn: string }>(
      'SELECT (SELECT system_identifier::text FROM pg_control_system()) AS sysid, pg_current_wal_insert_lsn()::text AS lsn',
    );
    const row = rows[0] as { sysid: string; lsn: string };
    expect(health.at).toBe(123);
    expect(health.inRecovery).toBe(false);
    expect(health.replayPaused).toBe(false);
    expect(health.systemId).toBe(row.sysid);
    expect(health.systemId).toMatch(/^\d+$/);
    expect(health.timeline).toBeGreaterThanOrEqual(1);
    expect(health.lsn).toBeLessThanOrEqual(normaliseInsertLsn(parseLsn(row.lsn)));
    expect(health.lsn % 8192n === 24n).toBe(false);
  });

  it('reports the replica: in recovery, the same cluster and timeline, its replay position', async () => {
    const [p, r] = [await checkHealth(primary, 1), await checkHealth(replica, 2)];
    expect(r.inRecovery).toBe(true);
    expect(r.systemId).toBe(p.systemId);
    expect(r.timeline).toBe(p.timeline);
    expect(r.lsn).toBeGreaterThan(0n);
    expect(r.lsn).toBeLessThanOrEqual(p.lsn + 1_000_000n); // it cannot be far past a primary read just before
  });

  it('a replica that replayed a write reports a position at or past the primary position after it', async () => {
    await primary.query('INSERT INTO ballast_health_test DEFAULT VALUES');
    const written = (await checkHealth(primary, 0)).lsn;
    const r = await waitFor(
      () => checkHealth(replica, 0),
      (h) => h.lsn >= written,
    );
    expect(r.lsn).toBeGreaterThanOrEqual(written);
  });

  it('reports replay paused, and running again after resume', async () => {
    try {
      await replica.query('SELECT pg_wal_replay_pause()');
      const paused = await waitFor(
        () => checkHealth(replica, 0),
        (h) => h.replayPaused,
      );
      expect(paused.replayPaused).toBe(true);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    expect((await checkHealth(replica, 0)).replayPaused).toBe(false);
  });

  it('works for a login that is only a member of pg_monitor', async () => {
    const role = `ballast_health_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(18).toString('base64url');
    await primary.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_monitor`);
    const clients: pg.Client[] = [];
    try {
      // The role reaches the replica through replication.
      const created = (await checkHealth(primary, 0)).lsn;
      await waitFor(
        () => checkHealth(replica, 0),
        (h) => h.lsn >= created,
      );
      const asRole = (url: string) => {
        const u = new URL(url);
        u.username = role;
        u.password = password;
        return u.toString();
      };
      const [p, r] = await Promise.all([
        connect(asRole(primaryUrl)),
        connect(asRole(replicaUrls[0] as string)),
      ]);
      clients.push(p, r);
      const { rows } = await p.query<{ rolsuper: boolean }>(
        'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
      );
      expect(rows[0]?.rolsuper).toBe(false);
      const [ph, rh] = [await checkHealth(p, 0), await checkHealth(r, 0)];
      expect(ph.inRecovery).toBe(false);
      expect(rh.inRecovery).toBe(true);
      expect(rh.timeline).toBe(ph.timeline);
      expect(rh.systemId).toBe(ph.systemId);
      expect((await replayCheck(r, 0n)).caughtUp).toBe(true);
    } finally {
      await Promise.allSettled(clients.map((c) => c.end()));
      await primary.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('the replica check says caught up for a position the replica has replayed, and returns its replay position', async () => {
    const r = await checkHealth(replica, 0);
    const probe = await replayCheck(replica, r.lsn);
    expect(probe.caughtUp).toBe(true);
    expect(probe.lsn).toBeGreaterThanOrEqual(r.lsn);
  });

  it('the replica check says not caught up for a position past its replay', async () => {
    const r = await checkHealth(replica, 0);
    expect((await replayCheck(replica, r.lsn + (1n << 40n))).caughtUp).toBe(false);
  });

  it('the replica check catches up once a write is replayed', async () => {
    await primary.query('INSERT INTO ballast_health_test DEFAULT VALUES');
    const p = await checkHealth(primary, 0);
    const probe = await waitFor(
      () => replayCheck(replica, p.lsn),
      (x) => x.caughtUp,
    );
    expect(probe.caughtUp).toBe(true);
    expect(probe.lsn).toBeGreaterThanOrEqual(p.lsn);
  });

  it('the replica check is never caught up on a primary', async () => {
    expect((await replayCheck(primary, 0n)).caughtUp).toBe(false);
  });
  it('accepts a pg.Client and a pg.Pool as the queryable', () => {
    expectTypeOf<pg.Client>().toExtend<HealthQueryable>();
    expectTypeOf<pg.Pool>().toExtend<HealthQueryable>();
  });
});

describe('toHostHealth fallbacks', () => {
  const row = (over: Partial<HealthCheckRow>): HealthCheckRow => ({
    rec: true,
    sysid: '7301234567890123456',
    lsn: '0/3000028',
    wr_tli: 3,
    ckpt_tli: 2,
    lag_ms: 0,
    paused: false,
    ...over,
  });
  const previous: HostHealth = {
    at: 0,
    inRecovery: true,
    lsn: 0n,
    systemId: '7301234567890123456',
    timeline: 4,
    replayPaused: false,
    replayLagMs: 0,
  };

  it("takes a standby's timeline from its walreceiver", () => {
    expect(toHostHealth(row({}), 5, previous).timeline).toBe(3);
  });

  it('without a walreceiver, keeps the larger of the restartpoint timeline and the previous one', () => {
    expect(toHostHealth(row({ wr_tli: null }), 5, previous).timeline).toBe(4);
    expect(toHostHealth(row({ wr_tli: null, ckpt_tli: 6 }), 5, previous).timeline).toBe(6);
    expect(toHostHealth(row({ wr_tli: null }), 5).timeline).toBe(2);
    expect(toHostHealth(row({ wr_tli: null }), 5, { ...previous, systemId: '1' }).timeline).toBe(2);
  });

  it('normalises a primary position, never a standby replay position', () => {
    expect(toHostHealth(row({ rec: false, paused: false }), 0).lsn).toBe(0x3000000n);
    expect(toHostHealth(row({}), 0).lsn).toBe(0x3000028n);
  });

  it('reports a standby that has replayed nothing at position 0', () => {
    expect(toHostHealth(row({ lsn: null }), 0).lsn).toBe(0n);
  });

  it('fails on an empty result', () => {
    expect(() => toHostHealth(undefined, 0)).toThrow(/no row/);
  });
});

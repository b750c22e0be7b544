import { type PostgresCluster, startPostgres } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster } from './cluster.js';
import { waitFor } from './test-helpers.js';

/**
 * Outlier ejection on a real primary + 2 streaming replicas. Replica 0 passes its health checks but fails the
 * reads (a server error of class XX, the host's trouble): the reads go elsewhere, the replica is ejected after
 * `consecutiveFailures`, takes no reads while ejected, and comes back when its ejection ends.
 */
describe('outlier ejection of a replica that fails reads', () => {
  let pgc: PostgresCluster;
  let db: Cluster;
  let badPort: number;
  const downs: string[] = [];

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 2 });
    badPort = (pgc.replicas[0] as { port: number }).port;
    db = createCluster({
      primary: pgc.primary.url,
      replicas: pgc.replicas.map((r) => r.url),
      routing: {
        healthIntervalMs: 100,
        ejection: { consecutiveFailures: 3, baseEjectionMs: 1500, maxEjectedFraction: 0.5 },
      },
    });
    db.on('host-down', (e) => downs.push(e.reason));
    // Fails on the bad replica only, while `ballast_fail` says so: an internal error (XX000), not a statement error.
    await db.query(`CREATE TABLE ballast_fail (on_port int)`);
    await db.query(`INSERT INTO ballast_fail VALUES (${badPort})`);
    await db.query(`CREATE FUNCTION where_am_i() RETURNS int LANGUAGE plpgsql AS $$
      BEGIN
        IF inet_server_port() IN (SELECT on_port FROM ballast_fail) THEN
          RAISE EXCEPTION 'disk trouble' USING ERRCODE = 'XX000';
        END IF;
        RETURN inet_server_port();
      END $$`);
    await Promise.all([pgc.waitForReplay(0), pgc.waitForReplay(1)]);
    await waitFor(() => db.stats().hosts.filter((h) => h.role === 'replica').length, 2);
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await pgc?.stop();
  });

  it('answers every read, ejects the replica once, keeps reads off it, and takes it back later', async () => {
    const ports = new Map<number, number>();
    const read = async () => {
      const { rows } = await db.read<{ port: number }>('SELECT where_am_i() AS port');
      const port = (rows[0] as { port: number }).port;
      ports.set(port, (ports.get(port) ?? 0) + 1);
    };
    // Every read succeeds although a third of the hosts fails them: each failure is retried elsewhere.
    for (let i = 0; i < 60; i++) await read();
    expect(ports.has(badPort)).toBe(false);
    expect(downs.filter((r) => r.startsWith('ejected:'))).toHaveLength(1);
    expect(downs[0]).toContain('disk trouble');
    // While ejected the bad replica takes no reads at all: its failure count stops growing.
    const failed = () => db.stats().hosts.find((h) => h.name.includes(`:${badPort}/`))?.policy.counts;
    const before = JSON.stringify(failed());
    for (let i = 0; i < 60; i++) await read();
    expect(JSON.stringify(failed())).toBe(before);
    // Healed: after the ejection ends, reads come back to it.
    await db.query('TRUNCATE ballast_fail');
    await pgc.waitForReplay(0);
    await new Promise((r) => setTimeout(r, 1600));
    ports.clear();
    for (let i = 0; i < 60; i++) await read();
    expect(ports.get(badPort) ?? 0).toBeGreaterThan(0);
  }, 30_000);

  it("a caller's bad parameter is the caller's error: no ejection, no open breaker, writes go on", async () => {
    const before = downs.length;
    const bad = {
      toPostgres() {
        throw new Error('cannot serialize this value');
      },
    };
    for (let i = 0; i < 12; i++)
      await expect(db.read('SELECT $1::text AS v', [bad])).rejects.toThrow('cannot serialize this value');
    expect(downs.length).toBe(before);
    expect(db.stats().hosts.map((h) => h.policy.breaker?.state)).toEqual(['closed', 'closed', 'closed']);
    await expect(db.write('INSERT INTO ballast_fail VALUES (0)')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('names the option when ejection options are invalid', () => {
    expect(() =>
      createCluster({ primary: pgc.primary.url, routing: { ejection: { consecutiveFailures: 0 } } }),
    ).toThrow(/routing\.ejection\.consecutiveFailures/);
    expect(() =>
      createCluster({ primary: pgc.primary.url, routing: { ejection: { maxEjectedFraction: 2 } } }),
    ).toThrow(/routing\.ejection\.maxEjectedFraction/);
  });
});

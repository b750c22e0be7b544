import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_BINDIR_ENV } from './binaries.js';
import { type PostgresCluster, startPostgres } from './postgres.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it is true; returns the ms it took. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(25);
  }
  return performance.now() - start;
}

async function hasRow(pgc: PostgresCluster, target: 'primary' | number, id: number): Promise<boolean> {
  const rows = await pgc.query(target, 'SELECT 1 FROM items WHERE id = $1', [id]);
  return rows.length === 1;
}

/** True once replica 0 has received (not necessarily replayed) everything the primary has written. */
async function received(pgc: PostgresCluster): Promise<boolean> {
  const [p] = await pgc.query<{ lsn: string }>('primary', 'SELECT pg_current_wal_lsn()::text AS lsn');
  const [r] = await pgc.query<{ ok: boolean }>(0, 'SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS ok', [
    p?.lsn,
  ]);
  return r?.ok === true;
}

/** Pids of the postmasters and every process they forked. */
function serverPids(pgc: PostgresCluster): number[] {
  const postmasters = [pgc.primary, ...pgc.replicas]
    .map((n) => n.pid)
    .filter((p): p is number => p !== undefined);
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return postmasters.includes(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        return false;
      }
    })
    .map(Number);
  return [...postmasters, ...children];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a primary with one streaming replica', () => {
  let pgc: PostgresCluster;

  beforeAll(async () => {
    const start = performance.now();
    pgc = await startPostgres({ replicas: 1 });
    const ms = Math.round(performance.now() - start);
    console.log(`startPostgres({ replicas: 1 }) took ${ms} ms (PostgreSQL ${pgc.version})`);
    await pgc.query('primary', 'CREATE TABLE items (id int PRIMARY KEY)');
    await pgc.waitForReplay(0);
  });

  afterAll(async () => {
    await pgc?.stop();
  });

  it('gives URLs that log in over SCRAM as a non-superuser owning the database', async () => {
    expect(pgc.primary.url).toBe(`postgres://ballast:${pgc.password}@127.0.0.1:${pgc.primary.port}/ballast`);
    const [row] = await pgc.query<{ user: string; su: boolean }>(
      0,
      "SELECT current_user AS user, current_setting('is_superuser')::bool AS su",
    );
    expect(row).toEqual({ user: 'ballast', su: false });
    const wrong = pgc.primary.url.replace(pgc.password, 'wrong-password');
    await expect(pgc.query(wrong, 'SELECT 1')).rejects.toMatchObject({ code: '28P01' });
  });

  it('hides a row written while replay is paused until replay resumes', async () => {
    await pgc.pauseReplay(0);
    try {
      await pgc.query('primary', 'INSERT INTO items VALUES (1)');
      // The WAL reached the replica; only applying it is held back.
      await until(() => received(pgc), 10_000);
      await sleep(200);
      expect(await hasRow(pgc, 0, 1)).toBe(false);
      expect(await pgc.replicaLagBytes(0)).toBeGreaterThan(0);
      await expect(pgc.waitForReplay(0, 300)).rejects.toThrow(/replica 0 replayed/);
    } finally {
      await pgc.resumeReplay(0);
    }
    await pgc.waitForReplay(0);
    expect(await hasRow(pgc, 0, 1)).toBe(true);
    expect(await pgc.replicaLagBytes(0)).toBe(0);
  });

  it('delays visibility on the replica by the apply delay', async () => {
    const delayMs = 2_000;
    await pgc.setApplyDelay(0, delayMs);
    try {
      const start = performance.now();
      await pgc.query('primary', 'INSERT INTO items VALUES (2)');
      await until(() => received(pgc), 10_000);
      await sleep(Math.max(0, delayMs / 2 - (performance.now() - start)));
      expect(await hasRow(pgc, 0, 2)).toBe(false);
      await until(() => hasRow(pgc, 0, 2), delayMs + 10_000);
      expect(performance.now() - start).toBeGreaterThanOrEqual(delayMs / 2);
    } finally {
      await pgc.setApplyDelay(0, 0);
    }
    await pgc.query('primary', 'INSERT INTO items VALUES (3)');
    await pgc.waitForReplay(0, 5_000);
    expect(await hasRow(pgc, 0, 3)).toBe(true);
  });

  it('restartReplica brings the replica back streaming', async () => {
    const before = pgc.replicas[0]?.pid;
    await pgc.restartReplica(0);
    expect(pgc.replicas[0]?.pid).not.toBe(before);
    await pgc.query('primary', 'INSERT INTO items VALUES (4)');
    await pgc.waitForReplay(0);
    expect(await hasRow(pgc, 0, 4)).toBe(true);
  });
});

describe('failover control', () => {
  let pgc: PostgresCluster;

  beforeAll(async () => {
    pgc = await startPostgres({ replicas: 1 });
    await pgc.query('primary', 'CREATE TABLE items (id int PRIMARY KEY)');
    await pgc.query('primary', 'INSERT INTO items VALUES (1)');
  });

  afterAll(async () => {
    await pgc?.stop();
  });

  it('a killed primary refuses connections and startPrimary brings it back with its data', async () => {
    const oldPid = pgc.primary.pid;
    await pgc.killPrimary();
    expect(pgc.primary.pid).toBeUndefined();
    expect(isAlive(oldPid ?? 0)).toBe(false);
    const client = new pg.Client({ connectionString: pgc.primary.url });
    await expect(client.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await pgc.startPrimary();
    expect(await hasRow(pgc, 'primary', 1)).toBe(true);
    await pgc.query('primary', 'INSERT INTO items VALUES (2)');
    await pgc.waitForReplay(0);
    expect(await hasRow(pgc, 0, 2)).toBe(true);
  });

  it('promote makes the replica writable', async () => {
    await expect(pgc.query(0, 'INSERT INTO items VALUES (10)')).rejects.toMatchObject({ code: '25006' });
    await pgc.promote(0);
    await pgc.query(0, 'INSERT INTO items VALUES (10)');
    expect(await hasRow(pgc, 0, 10)).toBe(true);
    expect(pgc.primary.pid).toBeDefined();
  });

  it('stop() leaves no process and no directory', async () => {
    const pids = serverPids(pgc);
    expect(pids.length).toBeGreaterThan(2);
    const dirs = [pgc.baseDir, pgc.primary.dataDir, ...pgc.replicas.map((r) => r.dataDir)];
    await pgc.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(dirs.filter((dir) => existsSync(dir))).toEqual([]);
  });
});

describe('startup failures', () => {
  it('names what to install when the server binaries are missing', async () => {
    const saved = process.env[PG_BINDIR_ENV];
    process.env[PG_BINDIR_ENV] = '/nonexistent';
    try {
      await expect(startPostgres({ replicas: 0 })).rejects.toThrow(
        'PostgreSQL server binaries (initdb, postgres, pg_basebackup) were not found in /nonexistent. ' +
          `Install them: apt-get install -y postgresql (Debian/Ubuntu), or set ${PG_BINDIR_ENV}.`,
      );
    } finally {
      if (saved === undefined) delete process.env[PG_BINDIR_ENV];
      else process.env[PG_BINDIR_ENV] = saved;
    }
  });

  it('keeps credentials out of a startup error and includes the server log', async () => {
    const password = 'Sekr1t-startup-password';
    // A reserved role name fails role setup after the server logged the statement, password and all.
    const error = await startPostgres({ replicas: 0, user: 'pg_reserved', password }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(/reserved/);
    expect(error?.message).toMatch(/--- server log tail ---/);
    expect(error?.message).toContain(
      'STATEMENT:  CREATE ROLE "pg_reserved" WITH LOGIN NOSUPERUSER PASSWORD \'***\'',
    );
    expect(error?.message).not.toContain(password);
  });
});

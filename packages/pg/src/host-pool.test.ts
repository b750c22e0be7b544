import { isBallastError } from '@ballast/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Opened, pidOf, sleep, waitFor } from './host-pool.test-helpers.js';
import type { HostPoolEvents, PooledConnection } from './types.js';

const { postgres } = inject('ballast');
const url = postgres.primaryUrl;
const FAR = Number.POSITIVE_INFINITY;

const opened = new Opened();
afterEach(() => opened.closeAll());

describe('HostPool', () => {
  it('at most maxConnecting connections open at once under a burst of 50 acquires', async () => {
    const pool = opened.pool({ connectionString: url, max: 10, maxConnecting: 2 });
    let maxSeen = 0;
    const sample = (): void => {
      maxSeen = Math.max(maxSeen, pool.stats().connecting);
    };
    pool.on('connect', sample);
    const sampler = setInterval(sample, 1);
    const acquires = Array.from({ length: 50 }, () => {
      const p = pool.acquire(performance.now() + 20_000, undefined);
      sample();
      return p.then(async (c) => {
        sample();
        // Held a while, so the burst needs the whole pool.
        await c.query('SELECT pg_sleep(0.02)', undefined, FAR, undefined);
        c.release();
      });
    });
    await Promise.all(acquires);
    expect(await waitFor(() => pool.stats().connecting === 0)).toBe(true);
    clearInterval(sampler);
    expect(maxSeen).toBe(2);
    expect(pool.stats()).toMatchObject({ created: 10, total: 10, idle: 10, waiting: 0 });
  });

  it('the acquire queue is bounded: the (maxWaiting+1)th waiter is shed with queue-full', async () => {
    const pool = opened.pool({ connectionString: url, max: 1, maxWaiting: 3 });
    const held = await pool.acquire(FAR, undefined);
    const served: number[] = [];
    const waiting = [0, 1, 2].map((i) =>
      pool.acquire(FAR, undefined).then((c) => {
        served.push(i);
        c.release();
      }),
    );
    const shed = await pool.acquire(FAR, undefined).catch((e: unknown) => e);
    expect(isBallastError(shed, 'BALLAST_SHED')).toBe(true);
    expect(shed).toMatchObject({ reason: 'queue-full', retryable: true });
    expect(pool.stats()).toMatchObject({ waiting: 3, acquireRejected: 1 });
    held.release();
    await Promise.all(waiting);
    expect(served).toEqual([0, 1, 2]);
    expect(pool.stats().created).toBe(1);
  });

  it('a failed connect rejects the waiter it was opened for; the others keep waiting for their own attempt', async () => {
    const pool = opened.pool({ connectionString: 'postgres://u:p@127.0.0.1:1/db', maxConnecting: 1 });
    let maxSeen = 0;
    pool.on('connection-error', () => {
      maxSeen = Math.max(maxSeen, pool.stats().connecting);
    });
    const results = await Promise.allSettled([1, 2, 3].map(() => pool.acquire(FAR, undefined)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(results.map((r) => (r as PromiseRejectedResult).reason.code)).toEqual([
      'ECONNREFUSED',
      'ECONNREFUSED',
      'ECONNREFUSED',
    ]);
    expect(maxSeen).toBeLessThanOrEqual(1);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0, created: 0 });
  });

  it('an aborted waiter rejects with BALLAST_ABORTED, or with the BallastError its signal carries', async () => {
    const pool = opened.pool({ connectionString: url, max: 1 });
    const held = await pool.acquire(FAR, undefined);
    const plain = new AbortController();
    const waitingPlain = pool.acquire(FAR, plain.signal).catch((e: unknown) => e);
    plain.abort();
    expect(await waitingPlain).toMatchObject({ code: 'BALLAST_ABORTED' });
    const withReason = new AbortController();
    const waitingReason = pool.acquire(FAR, withReason.signal).catch((e: unknown) => e);
    const reason = Object.assign(new Error('x'), { code: 'BALLAST_DEADLINE_EXCEEDED' });
    withReason.abort(reason);
    // A plain Error is not a BallastError: wrapped, kept as cause.
    expect(await waitingReason).toMatchObject({ code: 'BALLAST_ABORTED', cause: reason });
    expect(pool.stats().waiting).toBe(0);
    held.release();
  });

  it('an idle connection killed by the server does not crash the process and is replaced', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => {
      uncaught.push(e);
    };
    process.on('uncaughtException', onUncaught);
    try {
      const pool = opened.pool({ connectionString: url, max: 2 });
      const errors: HostPoolEvents['connection-error'][] = [];
      pool.on('connection-error', (e) => errors.push(e));
      const conn = await pool.acquire(FAR, undefined);
      const pid = pidOf(conn.client);
      conn.release();
      const admin = await opened.client(url);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(await waitFor(() => pool.stats().idleErrors === 1)).toBe(true);
      await sleep(50);
      expect(uncaught).toEqual([]);
      expect(pool.stats()).toMatchObject({ total: 0, idle: 0, destroyed: 1, idleErrors: 1 });
      expect(errors).toHaveLength(1);
      const next = await pool.acquire(FAR, undefined);
      expect(pidOf(next.client)).not.toBe(pid);
      expect((await next.query('SELECT 1 AS one', undefined, FAR, undefined)).rows).toEqual([{ one: 1 }]);
      next.release();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a connection idle longer than validateAfterIdleMs is validated before reuse and a dead one is replaced', async () => {
    const pool = opened.pool({
      connectionString: url,
      max: 2,
      validateAfterIdleMs: 100,
      validateTimeoutMs: 300,
    });
    const admin = await opened.client(url);
    const lastQuery = async (pid: number): Promise<string | undefined> =>
      (await admin.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0]?.query;

    // Alive: checked with SELECT 1, then reused.
    let conn: PooledConnection = await pool.acquire(FAR, undefined);
    const alive = pidOf(conn.client);
    await conn.query('SELECT 2', undefined, FAR, undefined);
    conn.release();
    await sleep(150);
    conn = await pool.acquire(FAR, undefined);
    expect(pidOf(conn.client)).toBe(alive);
    expect(await lastQuery(alive)).toBe('SELECT 1');
    conn.release();

    // Dead without a word (its backend frozen): the check times out, and a new connection takes its place.
    await sleep(150);
    process.kill(alive, 'SIGSTOP');
    try {
      conn = await pool.acquire(performance.now() + 5_000, undefined);
      expect(pidOf(conn.client)).not.toBe(alive);
      expect(pool.stats()).toMatchObject({ idleErrors: 1, destroyed: 1, created: 2 });
      conn.release();
    } finally {
      process.kill(alive, 'SIGCONT');
    }
  });

  it('lifetime: a connection past its lifetime is closed on release', async () => {
    const pool = opened.pool({ connectionString: url, lifetimeMs: 200, random: () => 0.5 });
    const conn = await pool.acquire(FAR, undefined);
    await sleep(300);
    // Not mid-use: still usable past its lifetime while checked out.
    await conn.query('SELECT 1', undefined, FAR, undefined);
    expect(pool.stats()).toMatchObject({ total: 1, destroyed: 0 });
    conn.release();
    expect(pool.stats()).toMatchObject({ total: 0, destroyed: 1 });
  });

  it('held-too-long fires once for a connection held past holdWarningMs', async () => {
    const pool = opened.pool({ connectionString: url, holdWarningMs: 100 });
    const warnings: HostPoolEvents['held-too-long'][] = [];
    pool.on('held-too-long', (e) => warnings.push(e));
    const conn = await pool.acquire(FAR, undefined);
    await sleep(400);
    conn.release();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.heldMs).toBeGreaterThanOrEqual(100);
    // A short checkout warns nothing.
    (await pool.acquire(FAR, undefined)).release();
    await sleep(150);
    expect(warnings).toHaveLength(1);
  });

  it('setTarget shrinks the pool on release', async () => {
    const pool = opened.pool({ connectionString: url, max: 5, min: 1 });
    const conns = await Promise.all([1, 2, 3, 4].map(() => pool.acquire(FAR, undefined)));
    pool.setTarget(2);
    expect(pool.stats()).toMatchObject({ target: 2, total: 4 });
    for (const c of conns) c.release();
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2, destroyed: 2 });
    pool.setTarget(100);
    expect(pool.stats().target).toBe(5);
    pool.setTarget(-3);
    expect(pool.stats()).toMatchObject({ target: 1, total: 1, idle: 1 });
  });

  it('drain closes idle connections now and busy ones on release', async () => {
    const pool = opened.pool({ connectionString: url });
    const [a, b] = await Promise.all([pool.acquire(FAR, undefined), pool.acquire(FAR, undefined)]);
    a.release();
    pool.drain();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 0, busy: 1 });
    b.release();
    expect(pool.stats()).toMatchObject({ total: 0, destroyed: 2 });
    (await pool.acquire(FAR, undefined)).release();
    expect(pool.stats().total).toBe(1);
  });

  it('min connections are opened in the background at start', async () => {
    const pool = opened.pool({ connectionString: url, min: 3 });
    expect(await waitFor(() => pool.stats().idle === 3)).toBe(true);
  });

  it('close rejects waiters and closes every connection', async () => {
    const pool = opened.pool({ connectionString: url, max: 1 });
    const held = await pool.acquire(FAR, undefined);
    const waiting = pool.acquire(FAR, undefined).catch((e: unknown) => e);
    await pool.close();
    expect(await waiting).toBeInstanceOf(Error);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
    held.release();
    await expect(pool.acquire(FAR, undefined)).rejects.toThrow(/closed/);
  });

  it('credentials never appear in errors or events', async () => {
    const secret = 'Wr0ng-Secret-Pw-7f3a';
    const wrongPassword = new URL(url);
    wrongPassword.password = secret;
    const targets = [
      wrongPassword.toString(),
      `postgres://ballast:${secret}@127.0.0.1:1/postgres`,
      `postgres://ballast:${secret}@no-such-host.invalid:5432/postgres`,
    ];
    for (const target of targets) {
      const pool = opened.pool({ connectionString: target, connectTimeoutMs: 2_000 });
      const events: unknown[] = [];
      pool.on('connection-error', (e) => events.push(e));
      const error = await pool.acquire(FAR, undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      const shown = [
        String(error),
        (error as Error).stack,
        JSON.stringify(error),
        JSON.stringify(pool.stats()),
        ...events.map((e) => `${JSON.stringify(e)} ${(e as { error: Error }).error.stack}`),
      ].join('\n');
      expect(events).toHaveLength(1);
      expect(shown).not.toContain(secret);
      expect(pool.host).not.toContain(secret);
    }
  });
});

import { BallastError, isBallastError } from '@ballast/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { flushMicrotasks, Opened, pidOf, StepClock, sleep } from './host-pool.test-helpers.js';
import type { HostPoolEvents } from './types.js';

const { postgres } = inject('ballast');
const url = postgres.primaryUrl;
const FAR = Number.POSITIVE_INFINITY;

const opened = new Opened();
afterEach(() => opened.closeAll());

describe('HostPool deadlines', () => {
  it('a waiter whose deadline passes is shed with reason deadline at its deadline, and only one timer serves all waiters', async () => {
    const clock = new StepClock(1_000);
    const pool = opened.pool({ connectionString: url, max: 1, holdWarningMs: 0, clock });
    const held = await pool.acquire(FAR, undefined);
    expect(clock.pendingTimers).toBe(0);
    const outcomes = new Map<number, unknown>();
    const deadlines = [1_300, 1_100, 1_500, 1_200, 1_400];
    for (const at of deadlines) {
      pool.acquire(at, undefined).then(
        (c) => outcomes.set(at, c),
        (e: unknown) => outcomes.set(at, e),
      );
    }
    expect(pool.stats().waiting).toBe(5);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(99);
    await flushMicrotasks();
    expect(outcomes.size).toBe(0);
    clock.advance(1);
    await flushMicrotasks();
    expect([...outcomes.keys()]).toEqual([1_100]);
    const shed = outcomes.get(1_100);
    expect(isBallastError(shed, 'BALLAST_SHED')).toBe(true);
    expect(shed).toMatchObject({ reason: 'deadline', retryable: true });
    expect(clock.pendingTimers).toBe(1);
    clock.advance(400);
    await flushMicrotasks();
    expect(outcomes.size).toBe(5);
    expect(clock.pendingTimers).toBe(0);
    expect(pool.stats()).toMatchObject({ waiting: 0, acquireRejected: 5 });
    held.release();
  });

  it('acquiring an idle connection and releasing it set no timer', async () => {
    const clock = new StepClock();
    const pool = opened.pool({ connectionString: url, clock });
    (await pool.acquire(FAR, undefined)).release();
    const before = clock.timersSet;
    for (let i = 0; i < 100; i++) (await pool.acquire(clock.now() + 1_000, undefined)).release();
    expect(clock.timersSet).toBe(before);
    expect(pool.stats()).toMatchObject({ created: 1, idle: 1 });
  });

  it('a statement_timeout set inside a transaction that rolls back is set again afterwards', async () => {
    const pool = opened.pool({ connectionString: url });
    const conn = await pool.acquire(FAR, undefined);
    await conn.query('BEGIN', undefined, FAR, undefined);
    await conn.query('SELECT 1', undefined, performance.now() + 300, undefined);
    const shownAt = performance.now() + 290;
    expect((await conn.query('SHOW statement_timeout', undefined, shownAt, undefined)).rows[0]).toEqual({
      statement_timeout: '300ms',
    });
    await conn.query('ROLLBACK', undefined, FAR, undefined);
    // Rolled back to none; a later deadline must be set again, not assumed.
    const error = await conn
      .query('SELECT pg_sleep(5)', undefined, performance.now() + 200, undefined)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '57014' });
    conn.release();
  });

  it('a cancelled statement leaves pg_stat_activity quickly', async () => {
    const pool = opened.pool({ connectionString: url });
    const cancels: HostPoolEvents['cancel'][] = [];
    pool.on('cancel', (e) => cancels.push(e));
    const admin = await opened.client(url);
    const conn = await pool.acquire(FAR, undefined);
    const pid = pidOf(conn.client);
    const ac = new AbortController();
    const running = conn.query('SELECT pg_sleep(30)', undefined, FAR, ac.signal).catch((e: unknown) => e);
    await sleep(100);
    const abortedAt = performance.now();
    ac.abort();
    let goneAfterMs = Number.NaN;
    for (;;) {
      const { rows } = await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
        [pid],
      );
      if (rows.length === 0) {
        goneAfterMs = performance.now() - abortedAt;
        break;
      }
      if (performance.now() - abortedAt > 2_000) break;
      await sleep(5);
    }
    expect(goneAfterMs).toBeLessThan(1_000);
    expect(await running).toMatchObject({ code: '57014' });
    expect(cancels).toEqual([{ host: pool.host, reason: 'abort' }]);
    conn.release();
    expect(pool.stats()).toMatchObject({ cancels: 1, destroyed: 1, total: 0 });
    console.log(`cancel -> gone from pg_stat_activity: ${goneAfterMs.toFixed(1)} ms`);
  });

  it('a signal aborted with a deadline error is reported as a deadline cancel', async () => {
    const pool = opened.pool({ connectionString: url });
    const cancels: HostPoolEvents['cancel'][] = [];
    pool.on('cancel', (e) => cancels.push(e));
    const conn = await pool.acquire(FAR, undefined);
    const ac = new AbortController();
    const running = conn.query('SELECT pg_sleep(30)', undefined, FAR, ac.signal).catch((e: unknown) => e);
    await sleep(50);
    ac.abort(new BallastError('BALLAST_DEADLINE_EXCEEDED', 'deadline'));
    expect(await running).toMatchObject({ code: '57014' });
    expect(cancels).toEqual([{ host: pool.host, reason: 'deadline' }]);
    conn.release();
  });

  it('a statement whose signal is already aborted is never sent', async () => {
    const pool = opened.pool({ connectionString: url });
    const conn = await pool.acquire(FAR, undefined);
    const error = await conn
      .query('SELECT 1', undefined, FAR, AbortSignal.abort(new Error('gone')))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BALLAST_ABORTED' });
    expect(pool.stats().cancels).toBe(0);
    conn.release();
    expect(pool.stats()).toMatchObject({ idle: 1, destroyed: 0 });
  });

  it('statement_timeout derived from the deadline stops a long statement even without a client-side abort', async () => {
    const pool = opened.pool({ connectionString: url });
    const conn = await pool.acquire(FAR, undefined);
    const started = performance.now();
    const error = await conn
      .query('SELECT pg_sleep(5)', undefined, performance.now() + 300, undefined)
      .catch((e: unknown) => e);
    const tookMs = performance.now() - started;
    expect(error).toMatchObject({ code: '57014' });
    expect(tookMs).toBeLessThan(2_000);
    console.log(`statement_timeout from a 300 ms deadline ended pg_sleep after ${tookMs.toFixed(0)} ms`);
    // A later statement without a deadline gets the default (none) back, not the 300 ms.
    await conn.query('SELECT pg_sleep(0.4)', undefined, FAR, undefined);
    const shown = await conn.query('SHOW statement_timeout', undefined, FAR, undefined);
    expect(shown.rows[0]).toEqual({ statement_timeout: '0' });
    conn.release();
  });

  it('a statement still running after its cancel grace has its connection closed', async () => {
    const pool = opened.pool({ connectionString: url, cancelGraceMs: 200 });
    const conn = await pool.acquire(FAR, undefined);
    const pid = pidOf(conn.client);
    const ac = new AbortController();
    // A frozen backend cannot answer the cancel: only closing the socket ends the wait.
    const running = conn.query('SELECT pg_sleep(30)', undefined, FAR, ac.signal).catch((e: unknown) => e);
    await sleep(50);
    process.kill(pid, 'SIGSTOP');
    try {
      const started = performance.now();
      ac.abort();
      const error = await running;
      expect(error).toBeInstanceOf(Error);
      expect(String(error)).toMatch(/cancel/);
      expect(performance.now() - started).toBeLessThan(2_000);
      conn.release();
      expect(pool.stats()).toMatchObject({ total: 0, cancels: 1 });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

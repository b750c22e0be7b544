import { createCircuitBreaker, gradient2Limit, isBallastError } from '@ballast/core';
import { describe, expect, inject, it } from 'vitest';
import { createCluster } from './cluster.js';

const { postgres } = inject('ballast');
const password = new URL(postgres.primaryUrl).password;

describe('overload and credentials', () => {
  it('a bounded queue sheds with BALLAST_SHED instead of queueing without end', async () => {
    const db = createCluster({ primary: postgres.primaryUrl, pool: { max: 2, maxWaiting: 2 } });
    try {
      // Teach the host its service time (~300 ms), then offer 12 calls that each have 700 ms: two run, two more
      // fit behind them, the rest cannot make their deadline and are shed at once instead of waiting for it.
      await Promise.all([db.query('SELECT pg_sleep(0.3)'), db.query('SELECT pg_sleep(0.3)')]);
      const calls = Array.from({ length: 12 }, () =>
        db.query('SELECT pg_sleep(0.3)', [], { deadlineMs: 700 }).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      );
      const results = await Promise.all(calls);
      const shed = results.filter((r) => isBallastError(r, 'BALLAST_SHED'));
      expect(shed.length).toBeGreaterThan(0);
      expect(results.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(2);
    } finally {
      await db.close();
    }
  });

  it('policy options reach every host: a limiter of 1 with room for 1 waiter sheds the third call at once', async () => {
    const policy = { limiter: { limit: 1, maxQueue: { total: 1 } } };
    const db = createCluster({ primary: postgres.primaryUrl, pool: { max: 4 }, policy });
    const defaults = createCluster({ primary: postgres.primaryUrl, pool: { max: 4 } });
    try {
      const three = (c: typeof db) =>
        Promise.all(
          Array.from({ length: 3 }, () =>
            c.query('SELECT pg_sleep(0.2)').then(
              () => 'ok',
              (e: unknown) => (isBallastError(e) ? `${e.code}:${String(e.reason)}` : String(e)),
            ),
          ),
        );
      expect(await three(db)).toEqual(['ok', 'ok', 'BALLAST_SHED:queue-full']);
      // Refused for load by the primary it would retry on: not retried there at once (it would count twice).
      expect(db.stats().hosts[0]?.policy.counts).toMatchObject({ calls: 3, shed: 1 });
      expect(await three(defaults)).toEqual(['ok', 'ok', 'ok']);
      expect(db.stats().hosts[0]?.policy.limiter?.limit).toBe(1);
      // A key set to undefined keeps the host's own limit (Gradient2 up to pool.max), not core's default.
      const kept = createCluster({
        primary: postgres.primaryUrl,
        pool: { max: 4 },
        policy: { limiter: { limit: undefined } },
      });
      expect(kept.stats().hosts[0]?.policy.limiter?.limit).toBe(4);
      await kept.close();
    } finally {
      await Promise.all([db.close(), defaults.close()]);
    }
  });

  it('a statement pg refuses before sending (no text) fails without keeping its connection', async () => {
    const db = createCluster({ primary: postgres.primaryUrl, pool: { max: 2 } });
    try {
      await db.query('SELECT 1'); // warm: the next calls take the fast path
      for (let i = 0; i < 6; i++) await expect(db.query(undefined as never)).rejects.toBeDefined();
      const started = Date.now();
      await expect(db.query('SELECT 1', [], { deadlineMs: 2_000 })).resolves.toMatchObject({ rowCount: 1 });
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(db.stats().hosts[0]?.outstanding).toBe(0);
      expect(db.stats().hosts[0]?.pool.busy).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('invalid policy options are refused up front, naming the option', () => {
    expect(() => createCluster({ primary: postgres.primaryUrl, policy: 'strict' as never })).toThrow(
      /cluster\.policy/,
    );
    expect(() =>
      createCluster({ primary: postgres.primaryUrl, policy: { limiter: { maxQueue: { total: -1 } } } }),
    ).toThrow(/maxQueue\.total/);
    expect(() =>
      createCluster({ primary: postgres.primaryUrl, policy: { breaker: { consecutiveFailures: -1 } } }),
    ).toThrow(/consecutiveFailures/);
    // Instances would be shared by every host: refused.
    const shared = { breaker: createCircuitBreaker() } as never;
    expect(() => createCluster({ primary: postgres.primaryUrl, policy: shared })).toThrow(
      /cluster\.policy\.breaker/,
    );
    const limit = { limiter: { limit: gradient2Limit() } } as never;
    expect(() => createCluster({ primary: postgres.primaryUrl, policy: limit })).toThrow(
      /cluster\.policy\.limiter\.limit/,
    );
  });

  it('background work is shed before interactive work under pressure', async () => {
    const db = createCluster({ primary: postgres.primaryUrl, pool: { max: 2, maxWaiting: 50 } });
    try {
      const slow = (priority: 'interactive' | 'background') =>
        db.query('SELECT pg_sleep(0.2)', [], { priority, deadlineMs: 1_000 }).then(
          () => 'ok',
          (e: unknown) => e,
        );
      const all = await Promise.all([
        ...Array.from({ length: 10 }, () => slow('background')),
        ...Array.from({ length: 4 }, () => slow('interactive')),
      ]);
      const background = all.slice(0, 10);
      const interactive = all.slice(10);
      expect(interactive.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(
        background.filter((r) => r === 'ok').length / 2.5,
      );
      expect(
        background.some(
          (r) => isBallastError(r, 'BALLAST_SHED') || isBallastError(r, 'BALLAST_DEADLINE_EXCEEDED'),
        ),
      ).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('credentials never appear in an error or an event', async () => {
    const wrong = new URL(postgres.primaryUrl);
    wrong.password = `${password}-wrong`;
    const unreachable = new URL(postgres.primaryUrl);
    unreachable.port = '1';
    const seen: string[] = [];
    for (const url of [wrong.toString(), unreachable.toString()]) {
      const db = createCluster({ primary: url, routing: { healthIntervalMs: 50 } });
      for (const event of ['host-down', 'primary-unavailable', 'connection-error'] as const) {
        db.on(event, (e) =>
          seen.push(
            JSON.stringify(e, (_, v: unknown) => (v instanceof Error ? `${v.message} ${v.stack}` : v)),
          ),
        );
      }
      const error = await db.query('SELECT 1', [], { deadlineMs: 2_000 }).catch((e: unknown) => e);
      seen.push(String((error as Error).message), String((error as Error).stack), JSON.stringify(error));
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof Error) seen.push(cause.message, String(cause.stack));
      await new Promise((r) => setTimeout(r, 200));
      await db.close();
    }
    expect(seen.length).toBeGreaterThan(2);
    for (const text of seen) expect(text).not.toContain(password);
  });
});

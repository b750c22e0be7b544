import { createServer } from 'node:net';
import { isBallastError } from '@ballast/core';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { breakerState, proxied, waitFor } from './faults.test-helpers.js';
import { createRedis } from './redis.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Connecting: the bounded wait for a connection attempt, and what happens when there is no Redis. */
describe('connecting', () => {
  const { url } = inject('ballast').redis;

  it('a call made at once waits for the first connection and succeeds', async () => {
    const redis = createRedis({ url });
    try {
      expect(redis.stats().nodes[0]?.status).not.toBe('ready');
      expect(await redis.set('connect:k', 'v')).toBe(true);
    } finally {
      await redis.close();
    }
  });

  it('beyond maxConnectWaiters, a call fails at once with BALLAST_NO_HEALTHY_HOST instead of queueing', async () => {
    const redis = createRedis({ url, maxConnectWaiters: 1, retry: false });
    try {
      const results = await Promise.allSettled([redis.get('connect:k'), redis.get('connect:k')]);
      expect(results[0]).toEqual({ status: 'fulfilled', value: 'v' });
      const second = results[1] as PromiseRejectedResult;
      expect(isBallastError(second.reason, 'BALLAST_NO_HEALTHY_HOST')).toBe(true);
      expect(second.reason.retryable).toBe(true);
    } finally {
      await redis.close();
    }
  });

  it('with no Redis listening, failed connection attempts open the breaker before any call is made', async () => {
    const port = await closedPort();
    const redis = createRedis({ url: `redis://127.0.0.1:${port}`, reconnectMaxDelayMs: 50 });
    try {
      await waitFor(
        () => breakerState(redis),
        (s) => s === 'open',
      );
      expect(redis.stats().nodes[0]?.policy.counts.calls).toBe(0);
      const t0 = performance.now();
      const error = await redis.get('k').catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(20);
      expect(isBallastError(error, 'BALLAST_CIRCUIT_OPEN')).toBe(true);
      // The last connection error is kept as the cause of BALLAST_NO_HEALTHY_HOST (seen without a breaker).
      const bare = createRedis({ url: `redis://127.0.0.1:${port}`, breaker: false, retry: false });
      await waitFor(
        () => bare.stats().nodes[0]?.counts.connectionErrors ?? 0,
        (n) => n > 0,
      );
      const notConnected = await bare.get('k').catch((e: unknown) => e);
      expect(isBallastError(notConnected, 'BALLAST_NO_HEALTHY_HOST')).toBe(true);
      expect((notConnected as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
      await bare.close();
    } finally {
      await redis.close();
    }
  });

  it('a call waiting on a silent first connection ends at its deadline; the watchdog ends the attempt', async () => {
    const { proxy, url: silent } = await proxied(url, Number(new URL(url).port));
    await proxy.set({ blackhole: true });
    const redis = createRedis({ url: silent, stallTimeoutMs: 200, healthCheckIntervalMs: 50 });
    try {
      const t0 = performance.now();
      const error = await redis.get('k', { deadlineMs: 100 }).catch((e: unknown) => e);
      expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
      expect(performance.now() - t0).toBeLessThan(150);
      // The handshake never answers: the watchdog closes it and the waiter lets go.
      await waitFor(
        () => redis.stats().nodes[0],
        (n) => (n?.counts.stalls ?? 0) > 0 && n?.waiters === 0,
      );
      await proxy.clear();
      await waitFor(
        () => redis.stats().nodes[0]?.status,
        (s) => s === 'ready',
      );
      expect(await redis.get('connect:k')).toBe('v');
    } finally {
      await redis.close();
      await proxy.close();
    }
  });

  it('{ options } builds the client from ioredis options; a caller-owned { client } stays open after close()', async () => {
    const u = new URL(url);
    const fromOptions = createRedis({
      options: { host: u.hostname, port: Number(u.port), password: decodeURIComponent(u.password) },
    });
    expect(await fromOptions.get('connect:k')).toBe('v');
    await fromOptions.close();
    const client = new Redis(url);
    const wrapped = createRedis({ client });
    try {
      expect(await wrapped.get('connect:k')).toBe('v');
      await wrapped.close();
      expect(client.status).toBe('ready');
      expect(await client.get('connect:k')).toBe('v');
    } finally {
      client.disconnect();
    }
  });
});

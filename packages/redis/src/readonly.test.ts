import { isBallastError } from '@ballast/core';
import { type RedisServer, startRedis } from '@ballast/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisEvents } from './events.js';
import { IOREDIS_SAFE_OPTIONS } from './ioredis-options.js';
import { createRedis } from './redis.js';

/**
 * A write answered `READONLY` means the connection is on a replica (a failover demoted the server it knew as
 * the primary): the connection is reopened, so a DNS name or virtual IP that moved reaches the new primary.
 * Here the client is pointed at a real replica on purpose.
 */
describe('READONLY', () => {
  let server: RedisServer;
  let replicaUrl: string;

  beforeAll(async () => {
    server = await startRedis({ replicas: 1 });
    replicaUrl = server.replicas[0]?.url as string;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a write answered READONLY reopens the connection, and reports it', async () => {
    const redis = createRedis({ url: replicaUrl, name: 'on-replica', retry: false });
    const seen: RedisEvents['readonly'][] = [];
    redis.on('readonly', (e) => seen.push(e));
    try {
      await server.command(['SET', 'ro:k', 'from-primary']);
      await expect.poll(() => redis.get('ro:k'), { timeout: 5_000 }).toBe('from-primary');
      const readyBefore = redis.stats().nodes[0]?.counts.ready ?? 0;
      const error = await redis.set('ro:k', 'x').catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/^READONLY/);
      expect(seen).toEqual([
        { name: 'on-replica', node: `127.0.0.1:${server.replicas[0]?.port}`, role: 'primary' },
      ]);
      // Reopened: a new connection became ready, and reads work again.
      await expect.poll(() => redis.stats().nodes[0]?.counts.ready, { timeout: 5_000 }).toBe(readyBefore + 1);
      expect(redis.stats().nodes[0]?.counts.readonly).toBe(1);
      expect(await redis.get('ro:k')).toBe('from-primary');
    } finally {
      await redis.close();
    }
  });

  it('with retries on, a READONLY write is retried (Redis refused it, so it never ran) and fails coded', async () => {
    const redis = createRedis({
      url: replicaUrl,
      name: 'retrying',
      retry: { maxAttempts: 3, baseDelayMs: 1 },
    });
    try {
      await expect.poll(() => redis.stats().nodes[0]?.status, { timeout: 5_000 }).toBe('ready');
      const error = await redis.set('ro:k2', 'x').catch((e: unknown) => e);
      // The retry finds the connection reopening (not sent) or the replica again (READONLY).
      const ok =
        isBallastError(error, 'BALLAST_NO_HEALTHY_HOST') || /^READONLY/.test((error as Error).message ?? '');
      expect(ok, String(error)).toBe(true);
      expect(redis.stats().nodes[0]?.policy.counts.retries).toBeGreaterThanOrEqual(1);
    } finally {
      await redis.close();
    }
  });

  it("installs the READONLY reconnect on a caller's client that has none, and removes it on close", async () => {
    const client = new Redis(replicaUrl, { ...IOREDIS_SAFE_OPTIONS });
    const redis = createRedis({ client, retry: false });
    try {
      await expect.poll(() => client.status, { timeout: 5_000 }).toBe('ready');
      await redis.set('ro:k3', 'x').catch(() => {});
      expect(redis.stats().nodes[0]?.counts.readonly).toBe(1);
      await redis.close();
      expect(client.options.reconnectOnError).toBeNull();
      // The caller's client stays open (once its READONLY reconnect is done).
      await expect.poll(() => client.get('ro:k').catch(() => null), { timeout: 5_000 }).toBe('from-primary');
    } finally {
      client.disconnect();
    }
  });
});

import { isBallastError } from '@ballast/core';
import { type FaultProxy, type RedisServer, startRedis } from '@ballast/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxied, waitFor } from './faults.test-helpers.js';
import { type BallastRedis, createRedis } from './redis.js';

/**
 * Resolves once a write on the primary is acknowledged by its replica. `startRedis` resolves when the replica's
 * link is up, but for up to ~1 s more the primary does not count the replica in `WAIT` (measured: 0 acks for the
 * first writes of 1 start in 4).
 */
async function replicaAcknowledges(url: string): Promise<void> {
  const raw = new Redis(url);
  try {
    for (let i = 0; i < 50; i++) {
      const replies = await raw.pipeline().set('rw:warm', String(i)).wait(1, 100).exec();
      if (replies?.[1]?.[1] === 1) return;
    }
    throw new Error('the replica never acknowledged a write');
  } finally {
    raw.disconnect();
  }
}

/** Reads from replicas, and read-your-writes through WAIT, on a real primary with a streaming replica. */
describe('replicas', () => {
  let server: RedisServer;
  let proxy: FaultProxy;
  let redis: BallastRedis;

  beforeAll(async () => {
    server = await startRedis({ replicas: 1 });
    await replicaAcknowledges(server.url);
    const replica = server.replicas[0];
    if (replica === undefined) throw new Error('no replica');
    // The replica is reached through a proxy, so a test can take it away.
    const viaProxy = await proxied(replica.url, replica.port);
    proxy = viaProxy.proxy;
    redis = createRedis({ url: server.url, replicas: [viaProxy.url], name: 'rw', reconnectMaxDelayMs: 100 });
    await waitFor(
      () => redis.stats().nodes.map((n) => n.status),
      (s) => s.every((status) => status === 'ready'),
    );
  });
  afterAll(async () => {
    await redis?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('reads with replica: true are served by the replica; exec with replica: true runs there', async () => {
    const before = redis.stats().nodes[1]?.policy.counts.calls ?? 0;
    expect(await redis.exec((c) => c.call('ROLE'), { replica: true })).toContainEqual('slave');
    expect(await redis.exec((c) => c.call('ROLE'))).toContainEqual('master');
    await redis.get('rw:absent', { replica: true });
    await redis.mget(['rw:a', 'rw:b'], { replica: true });
    expect(redis.stats().nodes[1]?.policy.counts.calls).toBe(before + 3);
  });

  it('a write with waitReplicas is acknowledged by the replica before it resolves: the replica read sees it', async () => {
    for (let i = 0; i < 50; i++) {
      const key = `rw:ack:${i}`;
      expect(await redis.set(key, `v${i}`, { waitReplicas: 1, ttlMs: 60_000 })).toBe(true);
      expect(await redis.get(key, { replica: true })).toBe(`v${i}`);
    }
    expect(await redis.del(['rw:ack:0', 'rw:ack:1'], { waitReplicas: 1 })).toBe(2);
    expect(await redis.get('rw:ack:0', { replica: true })).toBeNull();
    const n = await redis.exec((c) => c.incr('rw:counter'), { waitReplicas: 1 });
    expect(await redis.get('rw:counter', { replica: true })).toBe(String(n));
    // Acknowledged writes use a connection of their own: WAIT never blocks the shared one.
    expect(redis.stats().nodes.map((n) => n.node)).toContain(`127.0.0.1:${server.port} (acks)`);
  });

  it('fewer acknowledgements than asked reject with BALLAST_DEADLINE_EXCEEDED; the write was applied', async () => {
    const error = await redis
      .set('rw:short', 'v', { waitReplicas: 2, waitTimeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect((error as Error).message).toMatch(/1 of 2 replicas acknowledged/);
    expect((error as Error).cause).toMatchObject({ name: 'ReplicaAckError', acknowledged: 1, requested: 2 });
    expect(await redis.get('rw:short')).toBe('v');
    // Not Redis' failure: the breaker did not count it.
    expect(redis.stats().nodes[0]?.policy.breaker?.failures).toBe(0);
  });

  it('with the replica unreachable, replica reads go to the primary and say so', async () => {
    const fallbacks: unknown[] = [];
    const off = redis.on('replica-fallback', (e) => fallbacks.push(e));
    try {
      await redis.set('rw:fallback', 'v', { waitReplicas: 1 });
      await proxy.set({ reset: true, refuse: true });
      await expect.poll(() => redis.stats().nodes[1]?.status, { timeout: 5_000 }).not.toBe('ready');
      for (let i = 0; i < 10; i++) expect(await redis.get('rw:fallback', { replica: true })).toBe('v');
      expect(fallbacks).toHaveLength(10);
      expect(fallbacks[0]).toEqual({ name: 'rw', reason: 'no-replica-ready' });
      await proxy.clear();
      await expect.poll(() => redis.stats().nodes[1]?.status, { timeout: 5_000 }).toBe('ready');
      const served = redis.stats().nodes[1]?.policy.counts.calls ?? 0;
      await redis.get('rw:fallback', { replica: true });
      expect(redis.stats().nodes[1]?.policy.counts.calls).toBe(served + 1);
    } finally {
      off();
      await proxy.clear();
    }
  });
});

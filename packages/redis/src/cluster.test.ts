import { type RedisCluster, startRedisCluster } from '@ballast/testkit';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from './faults.test-helpers.js';
import { IOREDIS_SAFE_OPTIONS } from './ioredis-options.js';
import { keySlot } from './key-slot.js';
import { type BallastRedis, createRedis } from './redis.js';

/** A Ballast client around an ioredis Cluster on a real 3-master Redis Cluster. */
describe('Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let redis: BallastRedis;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const { enableOfflineQueue, ...perNode } = IOREDIS_SAFE_OPTIONS;
    client = new Cluster([...cluster.startupNodes], {
      enableOfflineQueue,
      redisOptions: { ...perNode, password: cluster.password },
    });
    redis = createRedis({ client, name: 'cluster' });
  });
  afterAll(async () => {
    await redis?.close();
    client?.disconnect();
    await cluster?.stop();
  });

  it('computes the slot of a key as Redis does (hash tags included)', async () => {
    for (const key of ['foo', 'user:1000', '{user1000}.following', 'a{}b', '{}x', 'é€', '{a}{b}', 'x{y']) {
      expect(keySlot(key), key).toBe(await cluster.command(['CLUSTER', 'KEYSLOT', key]));
    }
  });

  it('get, set, and mget / del over keys of many slots (one command per slot)', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `spread:${i}`);
    for (const [i, key] of keys.entries()) expect(await redis.set(key, `v${i}`)).toBe(true);
    expect(new Set(keys.map(keySlot)).size).toBeGreaterThan(30);
    expect(await redis.get('spread:7')).toBe('v7');
    expect(await redis.mget([...keys, 'spread:absent'])).toEqual([...keys.map((_, i) => `v${i}`), null]);
    expect(await redis.del([...keys, 'spread:absent'])).toBe(40);
    expect(await redis.mget(keys.slice(0, 3))).toEqual([null, null, null]);
  });

  it('traffic on a slot survives the slot moving to another master', async () => {
    const slot = keySlot('{moving}');
    const from = await cluster.slotOwner(slot);
    const to = (from + 1) % 3;
    const keys = Array.from({ length: 20 }, (_, i) => `{moving}:${i}`);
    for (const key of keys) await redis.set(key, '0');
    const failures: unknown[] = [];
    let ops = 0;
    let running = true;
    // Eight workers write and read back keys of the slot, and read two at once (a multi-key command that
    // Redis answers TRYAGAIN while the slot is split between two masters).
    const worker = async (w: number): Promise<void> => {
      for (let n = 1; running; n++) {
        const key = keys[(w * 7 + n) % keys.length] as string;
        try {
          await redis.set(key, `${w}:${n}`, { idempotent: true });
          const read = await redis.get(key);
          if (read === null) throw new Error(`${key} vanished`);
          await redis.mget([key, keys[0] as string]);
          ops += 3;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await sleep(100);
    await cluster.migrateSlot(slot, to);
    await sleep(300);
    running = false;
    await Promise.all(workers);
    expect(await cluster.slotOwner(slot)).toBe(to);
    expect(failures.map((e) => String(e))).toEqual([]);
    expect(ops).toBeGreaterThan(100);
    // Every key is still there, now served by the new owner.
    expect((await redis.mget(keys)).every((v) => v !== null)).toBe(true);
    expect(redis.stats().nodes[0]?.policy.breaker?.state).toBe('closed');
  });
});

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BallastRedis, createRedis } from './redis.js';

/** Counts the writes that reach the socket: each `_write` or `_writev` is one batch handed to the kernel. */
function countWrites(redis: BallastRedis): { writes: () => number; restore: () => void } {
  const stream = (redis.client as unknown as { stream: Record<string, unknown> }).stream;
  let writes = 0;
  const originals = new Map<string, unknown>();
  for (const name of ['_write', '_writev']) {
    const original = stream[name];
    if (typeof original !== 'function') continue;
    originals.set(name, original);
    stream[name] = function counted(this: unknown, ...args: unknown[]) {
      writes++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return {
    writes: () => writes,
    restore: () => {
      for (const [name, original] of originals) stream[name] = original;
    },
  };
}

describe('coalesceWrites on a real Redis', () => {
  const { url } = inject('ballast').redis;
  const prefix = `coalesce-test:${process.pid}:`;
  let on: BallastRedis;
  let off: BallastRedis;

  beforeAll(async () => {
    on = createRedis({ url, name: 'coalesce-on' });
    off = createRedis({ url, name: 'coalesce-off', coalesceWrites: false });
    await Promise.all([on.set(`${prefix}k`, 'v'), off.get(`${prefix}k`)]);
  });
  afterAll(async () => {
    await Promise.all([on.close(), off.close()]);
  });

  it('sends the commands of one tick in one socket write, each answered with its own reply', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `${prefix}n${i}`);
    await Promise.all(keys.map((k, i) => on.set(k, `v${i}`)));
    const counter = countWrites(on);
    try {
      const values = await Promise.all(keys.map((k) => on.get(k)));
      expect(values).toEqual(keys.map((_, i) => `v${i}`));
      expect(counter.writes()).toBe(1);
    } finally {
      counter.restore();
    }
  });

  it('with coalesceWrites: false, one write per command (ioredis as it is)', async () => {
    const counter = countWrites(off);
    try {
      const values = await Promise.all(Array.from({ length: 20 }, () => off.get(`${prefix}k`)));
      expect(values).toEqual(Array.from({ length: 20 }, () => 'v'));
      expect(counter.writes()).toBe(20);
    } finally {
      counter.restore();
    }
  });

  it('commands of different ticks are not held back: a lone GET is written within its tick', async () => {
    const counter = countWrites(on);
    try {
      const pending = on.get(`${prefix}k`);
      // Still in the tick that sent it: corked.
      expect(counter.writes()).toBe(0);
      await new Promise((resolve) => process.nextTick(resolve));
      expect(counter.writes()).toBe(1);
      expect(await pending).toBe('v');
    } finally {
      counter.restore();
    }
  });

  it('rejects a coalesceWrites that is not a boolean', () => {
    expect(() => createRedis({ url, coalesceWrites: 'yes' as unknown as boolean })).toThrow(
      /BALLAST_INVALID_ARGUMENT|coalesceWrites/,
    );
  });
});

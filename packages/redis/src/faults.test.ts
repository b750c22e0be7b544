import { isBallastError } from '@ballast/core';
import type { FaultProxy } from '@ballast/testkit';
import { describe, expect, inject, it } from 'vitest';
import {
  breakerState,
  driveUntilOpen,
  median,
  proxied,
  recovery,
  timedFailures,
} from './faults.test-helpers.js';
import type { RedisClientOptions } from './options.js';
import { createRedis } from './redis.js';

/**
 * Network faults between the client and a real Redis, through a FaultProxy: each one opens the breaker, after
 * which plain commands fail fast, and the client recovers by itself once the fault clears — without waiting out
 * the breaker's (deliberately long) open duration, through the reconnect or the health PING.
 */
describe('faults through a FaultProxy', () => {
  const shared = inject('ballast').redis.url;
  const port = Number(new URL(shared).port);
  const common = {
    timeoutMs: 200,
    healthCheckIntervalMs: 50,
    reconnectMaxDelayMs: 200,
    breaker: { breakDurationMs: 30_000, minimumThroughput: 5, slowCallRateThreshold: 0.5 },
  } satisfies Partial<RedisClientOptions>;

  const scenarios: {
    fault: string;
    apply: (proxy: FaultProxy) => Promise<void>;
    options?: Partial<RedisClientOptions>;
  }[] = [
    // Silence: replies never come, so the watchdog has to find out.
    { fault: 'blackhole', apply: (p) => p.set({ blackhole: true }), options: { stallTimeoutMs: 300 } },
    // Every connection, live or new, is reset.
    { fault: 'reset', apply: (p) => p.set({ reset: true }) },
    // Redis went away: the live connection drops and every reconnect is refused.
    {
      fault: 'refuse',
      apply: async (p) => {
        await p.set({ refuse: true, reset: true });
        await p.set({ refuse: true });
      },
    },
    // Redis answers, slowly: slow calls open the breaker (the watchdog stays out of it).
    { fault: 'latency', apply: (p) => p.set({ latencyMs: 400 }), options: { stallTimeoutMs: 10_000 } },
  ];

  for (const { fault, apply, options } of scenarios) {
    it(`${fault}: commands fail fast once the breaker opens, and recover when the fault clears`, async () => {
      const { proxy, url } = await proxied(shared, port);
      const redis = createRedis({ url, name: fault, ...common, ...options });
      const key = `faults:${fault}:${process.pid}`;
      try {
        expect(await redis.set(key, 'v')).toBe(true);
        await apply(proxy);
        await driveUntilOpen(redis, key);
        const { ms, codes } = await timedFailures(redis, key);
        expect([...codes]).toEqual(['BALLAST_CIRCUIT_OPEN']);
        expect(median(ms)).toBeLessThan(2);
        expect(Math.max(...ms)).toBeLessThan(20);
        await proxy.clear();
        // Far less than the 30 s open duration: recovery comes from the reconnect or the health PING.
        await recovery(redis, key, 'v', 5_000);
        expect(breakerState(redis)).toBe('closed');
      } finally {
        await redis.close();
        await proxy.close();
      }
    });
  }

  it('a blackholed Redis never holds a GET past its deadline', async () => {
    const { proxy, url } = await proxied(shared, port);
    // Default watchdog (2 s): the deadline alone bounds each call.
    const redis = createRedis({ url, name: 'deadline' });
    const key = `faults:deadline:${process.pid}`;
    try {
      await redis.set(key, 'v');
      await proxy.set({ blackhole: true });
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const t0 = performance.now();
          const error = await redis.get(key, { deadlineMs: 100 }).catch((e: unknown) => e);
          return { error, ms: performance.now() - t0 };
        }),
      );
      for (const { error, ms } of results) {
        expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED'), String(error)).toBe(true);
        // The deadline wheel ticks every 2 ms; the rest is event-loop noise on a shared machine.
        expect(ms).toBeLessThan(150);
      }
    } finally {
      await redis.close();
      await proxy.close();
    }
  });
  it('close() while the connection was just reset reports nothing as an unhandled ioredis error', async () => {
    const { proxy, url } = await proxied(shared, port);
    const redis = createRedis({ url, name: 'close-after-reset', ...common });
    const printed: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    try {
      expect(await redis.set(`faults:close:${process.pid}`, 'v')).toBe(true);
      await proxy.set({ reset: true }); // the client still says 'ready': QUIT goes into a dead socket
      await redis.close();
      await new Promise((resolve) => setTimeout(resolve, 50)); // ioredis reports socket errors a tick later
    } finally {
      console.error = original;
      await proxy.close();
    }
    expect(printed.filter((line) => line.includes('Unhandled error event'))).toEqual([]);
  });
});

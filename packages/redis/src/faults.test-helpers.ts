import { isBallastError } from '@ballast/core';
import { FaultProxy } from '@ballast/testkit';
import type { BallastRedis } from './redis.js';

/** A FaultProxy in front of `port`, and `url` with its port replaced by the proxy's. */
export async function proxied(url: string, port: number): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = new FaultProxy({ port });
  const proxyPort = await proxy.listen();
  const u = new URL(url);
  u.port = String(proxyPort);
  return { proxy, url: u.toString() };
}

/** The primary's breaker state. */
export function breakerState(redis: BallastRedis): string | undefined {
  return redis.stats().nodes[0]?.policy.breaker?.state;
}

/**
 * Sends GETs, `concurrency` at a time, until the primary's breaker opens; resolves with the errors seen.
 * @throws when it has not opened within `timeoutMs`
 */
export async function driveUntilOpen(
  redis: BallastRedis,
  key: string,
  timeoutMs = 8_000,
  concurrency = 8,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  const until = Date.now() + timeoutMs;
  while (breakerState(redis) !== 'open') {
    if (Date.now() > until) throw new Error(`the breaker did not open within ${timeoutMs} ms`);
    await Promise.all(
      Array.from({ length: concurrency }, () => redis.get(key).catch((e: unknown) => void errors.push(e))),
    );
    await sleep(5);
  }
  return errors;
}

/** Times `n` sequential GETs; every one must fail. Resolves with each call's ms and error code. */
export async function timedFailures(
  redis: BallastRedis,
  key: string,
  n = 50,
): Promise<{ ms: number[]; codes: Set<string> }> {
  const ms: number[] = [];
  const codes = new Set<string>();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const error = await redis.get(key).then(
      () => new Error('a GET succeeded while the fault was on'),
      (e: unknown) => e,
    );
    ms.push(performance.now() - t0);
    codes.add(isBallastError(error) ? error.code : String((error as Error).message));
  }
  return { ms, codes };
}

/** Polls GET until it answers `expected`; resolves with the ms it took. */
export async function recovery(
  redis: BallastRedis,
  key: string,
  expected: string,
  timeoutMs = 5_000,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const value = await redis.get(key).catch(() => undefined);
    if (value === expected) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`no recovery within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until `done(value)`; usable in hooks, unlike expect.poll. */
export async function waitFor<T>(probe: () => T, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (done(value)) return value;
    if (Date.now() > until) throw new Error(`waitFor: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

import CircuitBreaker from 'opossum';
import { describe, expect, it } from 'vitest';
import { fromOpossum } from './breaker/index.js';
import { isBallastError } from './errors.js';
import { createPolicy } from './policy.js';
import { flushMicrotasks, ManualClock } from './testing/manual-clock.js';

describe('createPolicy composition', () => {
  it('hedges an idempotent call after the observed p95 and aborts the loser', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({
      clock,
      breaker: false,
      retry: { budget: { ratio: 1 } },
      hedge: { minSamples: 5 },
    });
    // Teach the hedge that calls take 10 ms.
    for (let i = 0; i < 10; i++) {
      const call = policy.execute(() => new Promise((r) => clock.setTimeout(() => r('ok'), 10)), {
        idempotent: true,
      });
      await clock.advanceAsync(10);
      await call;
    }
    let firstSignal: AbortSignal | undefined;
    let attempts = 0;
    const call = policy.execute(
      (ctx) => {
        attempts++;
        if (attempts === 1) {
          firstSignal = ctx.signal;
          return new Promise(() => {}); // the slow replica
        }
        return new Promise((r) => clock.setTimeout(() => r('hedged'), 5));
      },
      { idempotent: true },
    );
    await clock.advanceAsync(30);
    await expect(call).resolves.toBe('hedged');
    expect(attempts).toBe(2);
    expect(firstSignal?.aborted).toBe(true);
  });

  it('never hedges a call that is not idempotent', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, breaker: false, hedge: { minSamples: 1, delayMs: 1 } });
    let attempts = 0;
    const call = policy.execute(() => {
      attempts++;
      return new Promise((r) => clock.setTimeout(() => r('ok'), 50));
    });
    await clock.advanceAsync(60);
    await call;
    expect(attempts).toBe(1);
  });

  it('runs work through a plugged-in opossum breaker and maps its open state to BALLAST_CIRCUIT_OPEN', async () => {
    const breaker = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      timeout: false,
      errorThresholdPercentage: 1,
      volumeThreshold: 1,
      resetTimeout: 60_000,
    });
    const policy = createPolicy({ clock: new ManualClock(), breaker: fromOpossum(breaker), retry: false });
    await expect(policy.execute(() => Promise.resolve('ok'))).resolves.toBe('ok');
    await expect(policy.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(breaker.opened).toBe(true);
    const error = await policy.execute(() => Promise.resolve('never')).catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_CIRCUIT_OPEN')).toBe(true);
    breaker.shutdown();
  });

  it('a deadline-exceeded call tells the limiter it was dropped', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false, limiter: { limit: 'aimd' } });
    const before = policy.stats().limiter?.algorithmLimit as number;
    let finish: (() => void) | undefined;
    const call = policy
      .execute(() => new Promise<void>((r) => (finish = r)), { deadlineMs: 10 })
      .catch((e: unknown) => e);
    await clock.advanceAsync(20);
    expect(isBallastError(await call, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    finish?.();
    await flushMicrotasks();
    expect(policy.stats().limiter?.algorithmLimit as number).toBeLessThan(before);
  });

  it('sheds background before interactive when the limit is reached', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false, limiter: { limit: 2, maxQueue: 2 } });
    const hold: Array<() => void> = [];
    const work = () => new Promise<void>((r) => hold.push(r));
    const running = [policy.execute(work), policy.execute(work)];
    const background = policy.execute(work, { priority: 'background' }).catch((e: unknown) => e);
    const batch = policy.execute(work, { priority: 'batch' }).catch((e: unknown) => e);
    const interactive = policy.execute(work, { priority: 'interactive' });
    const evicted = await background;
    expect(isBallastError(evicted, 'BALLAST_SHED')).toBe(true);
    expect((evicted as { reason: string }).reason).toBe('priority');
    for (let i = 0; i < 10 && hold.length > 0; i++) {
      hold.shift()?.();
      await flushMicrotasks();
    }
    await Promise.all(running);
    await interactive;
    expect(await batch).toBeUndefined();
  });
});

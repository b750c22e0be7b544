import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { createPolicy } from './policy.js';
import { flushMicrotasks, ManualClock } from './testing/manual-clock.js';

/** The abort listeners a signal holds. */
function listenerCount(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable(),
    (e: unknown) => e,
  );

describe('policy call life cycle', () => {
  it('a call that ends synchronously leaves no listener on the caller signal and nothing in the deadline wheel', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false, breaker: { consecutiveFailures: 1 } });
    const caller = new AbortController();
    const options = { signal: caller.signal, deadlineMs: 30_000 };
    for (let i = 0; i < 20; i++) await policy.execute(() => 'sync value', options);
    await rejection(
      policy.execute(() => {
        throw new Error('sync throw');
      }, options),
    );
    for (let i = 0; i < 20; i++) await rejection(policy.execute(() => 'open breaker', options));
    expect(listenerCount(caller.signal)).toBe(0);
    // Nothing pending: the wheel's timer stops at its next tick.
    clock.advance(10);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an async call leaves no listener behind either', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock });
    const caller = new AbortController();
    for (let i = 0; i < 20; i++)
      await policy.execute(async () => 1, { signal: caller.signal, deadlineMs: 1_000 });
    expect(listenerCount(caller.signal)).toBe(0);
  });

  it('a caller abort during a retry back-off ends the back-off and frees the permit at once', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({
      clock,
      breaker: false,
      limiter: { limit: 1, maxQueue: 0 },
      retry: { baseDelayMs: 500, maxDelayMs: 1_000, random: () => 0 },
    });
    const caller = new AbortController();
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const call = rejection(policy.execute(() => Promise.reject(refused), { signal: caller.signal }));
    await flushMicrotasks();
    expect(policy.stats().limiter).toMatchObject({ inflight: 1 });
    caller.abort();
    expect(isBallastError(await call, 'BALLAST_ABORTED')).toBe(true);
    await flushMicrotasks();
    expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it("the limiter's sample of a retried call is the last attempt's duration, not the whole call", async () => {
    const clock = new ManualClock();
    const samples: number[] = [];
    const limiter = {
      limit: 10,
      inflight: 0,
      queued: 0,
      tryAcquire: () => ({ priority: 1, inflightAtStart: 1 }),
      acquire: () => Promise.reject(new Error('unused')),
      release: (_p: unknown, _o: unknown, rttMs: number) => samples.push(rttMs),
    };
    const policy = createPolicy({
      clock,
      breaker: false,
      limiter,
      retry: { baseDelayMs: 100, random: () => 0 },
    });
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const call = policy.execute(({ attempt }) =>
      attempt < 3 ? Promise.reject(refused) : new Promise((r) => clock.setTimeout(() => r('ok'), 2)),
    );
    await clock.advanceAsync(1_000);
    await expect(call).resolves.toBe('ok');
    expect(samples).toEqual([2]);
  });

  it("the breaker does not count a driver's error raised by a caller abort or a deadline", async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false, breaker: { consecutiveFailures: 1 } });
    const cancelled = Object.assign(new Error('canceling statement due to user request'), { code: '57014' });
    // The driver notices the aborted signal and rejects with its own error.
    const work = ({ signal }: { signal: AbortSignal }) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(cancelled)));
    const caller = new AbortController();
    const byCaller = rejection(policy.execute(work, { signal: caller.signal, deadlineMs: 10_000 }));
    caller.abort();
    await byCaller;
    const byDeadline = rejection(policy.execute(work, { deadlineMs: 10 }));
    await clock.advanceAsync(20);
    expect(isBallastError(await byDeadline, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    await flushMicrotasks();
    expect(policy.breaker?.state).toBe('closed');
  });

  it('endSignal ends with the deadline, like signal, without creating an AbortController', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false });
    const heard: unknown[] = [];
    let endSignal: { aborted: boolean; reason: unknown } | undefined;
    const original = globalThis.AbortController;
    let created = 0;
    globalThis.AbortController = class extends original {
      constructor() {
        super();
        created++;
      }
    };
    try {
      const call = policy
        .execute(
          (ctx) => {
            endSignal = ctx.endSignal;
            ctx.endSignal.addEventListener('abort', { handleEvent: () => heard.push(ctx.endSignal.reason) });
            return new Promise(() => {});
          },
          { deadlineMs: 50 },
        )
        .catch((e: unknown) => e);
      await clock.advanceAsync(60);
      const error = await call;
      expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
      expect(endSignal?.aborted).toBe(true);
      expect(heard).toEqual([error]);
      expect(created).toBe(0);
    } finally {
      globalThis.AbortController = original;
    }
  });

  it.each([
    ['breaker', true],
    ['limiter', 50],
    ['retry', 'aimd'],
    ['hedge', true],
  ])('rejects policy.%s = %o, naming it', (option, value) => {
    expect(() => createPolicy({ [option]: value } as never)).toThrow(`policy.${option}`);
  });

  it.each([
    [{ idempotent: 'yes' }, 'idempotent'],
    [{ signal: { aborted: false } }, 'signal'],
    [5, 'options'],
  ])('rejects call options %o without running the work or throwing synchronously', async (options, name) => {
    const policy = createPolicy({ clock: new ManualClock() });
    let ran = false;
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = policy.execute(() => {
        ran = true;
      }, options as never);
    }).not.toThrow();
    const error = await rejection(result as Promise<unknown>);
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(name);
    expect(ran).toBe(false);
    expect(policy.stats().counts.calls).toBe(0);
  });
});

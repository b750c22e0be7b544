import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { createPolicy } from './policy.js';
import { flushMicrotasks, ManualClock } from './testing/manual-clock.js';

const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

/** A promise the test settles by hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('createPolicy', () => {
  it('runs the work with the default stack and returns its value; the first attempt is 1', async () => {
    const policy = createPolicy({ name: 'db', clock: new ManualClock() });
    await expect(policy.execute(({ attempt }) => Promise.resolve(`attempt ${attempt}`))).resolves.toBe(
      'attempt 1',
    );
    const stats = policy.stats();
    expect(stats.counts).toMatchObject({ calls: 1, successes: 1, failures: 0 });
    expect(stats.limiter).toMatchObject({ inflight: 0 });
  });

  it('a work function that throws synchronously rejects the call with that error', async () => {
    const policy = createPolicy({ clock: new ManualClock(), retry: false });
    const boom = new Error('boom');
    await expect(
      policy.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });

  it('fails with BALLAST_DEADLINE_EXCEEDED at the deadline and aborts the attempt signal', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false });
    let seen: AbortSignal | undefined;
    const hung = deferred();
    const call = policy.execute(
      async ({ signal }) => {
        seen = signal;
        await hung.promise;
      },
      { deadlineMs: 100 },
    );
    const settled = rejection(call);
    await clock.advanceAsync(99);
    expect(seen?.aborted).toBe(false);
    await clock.advanceAsync(4);
    const error = await settled;
    expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
    // The permit is held until the work really stops: the dependency is still busy with it.
    expect(policy.stats().limiter).toMatchObject({ inflight: 1 });
    hung.resolve();
    await flushMicrotasks();
    expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
    expect(policy.stats().counts).toMatchObject({ deadlineExceeded: 1, successes: 0 });
  });

  it('timeoutMs is the deadline of calls that do not give one', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false, timeoutMs: 50 });
    const settled = rejection(policy.execute(() => new Promise(() => {})));
    await clock.advanceAsync(60);
    expect(isBallastError(await settled, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
  });

  it("the caller's signal aborts the call with BALLAST_ABORTED", async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false });
    const controller = new AbortController();
    const settled = rejection(policy.execute(() => new Promise(() => {}), { signal: controller.signal }));
    controller.abort(new Error('client went away'));
    expect(isBallastError(await settled, 'BALLAST_ABORTED')).toBe(true);
    const again = await rejection(policy.execute(() => 1, { signal: controller.signal }));
    expect(isBallastError(again, 'BALLAST_ABORTED')).toBe(true);
  });

  it('never retries a call not marked idempotent after an ambiguous failure', async () => {
    const policy = createPolicy({ clock: new ManualClock(), breaker: false });
    let calls = 0;
    const error = await rejection(
      policy.execute(() => {
        calls++;
        throw reset();
      }),
    );
    expect(calls).toBe(1);
    expect((error as { code: string }).code).toBe('ECONNRESET');
  });

  it('retries an idempotent call after an ambiguous failure, and any call that provably did not run', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, breaker: false, retry: { random: () => 0 } });
    for (const [make, idempotent] of [
      [reset, true],
      [refused, false],
    ] as const) {
      let calls = 0;
      const call = policy.execute(
        ({ attempt }) => {
          calls++;
          if (attempt < 3) throw make();
          return 'ok';
        },
        { idempotent },
      );
      await clock.advanceAsync(10_000);
      await expect(call).resolves.toBe('ok');
      expect(calls).toBe(3);
    }
    expect(policy.stats().counts.retries).toBe(4);
  });

  it('an open breaker fails calls fast with BALLAST_CIRCUIT_OPEN and no retry', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, breaker: { consecutiveFailures: 3 }, retry: { maxAttempts: 1 } });
    for (let i = 0; i < 3; i++) await rejection(policy.execute(() => Promise.reject(new Error('down'))));
    let ran = false;
    const error = await rejection(
      policy.execute(
        () => {
          ran = true;
        },
        { idempotent: true },
      ),
    );
    expect(isBallastError(error, 'BALLAST_CIRCUIT_OPEN')).toBe(true);
    expect(ran).toBe(false);
    expect(policy.stats().counts).toMatchObject({ failures: 3, circuitOpen: 1 });
  });

  it('with the limit full and the breaker open, a newcomer fails at once instead of queueing behind hung calls', async () => {
    const clock = new ManualClock();
    const open = {
      version: 1,
      state: 'open',
      remainingOpenMs: 1_000,
      breakDurationMs: 1_000,
      reopenCount: 0,
      consecutiveFailures: 0,
      timesOpened: 1,
      rejected: 0,
    } as const;
    const policy = createPolicy({
      clock,
      breaker: { initialState: open },
      limiter: { limit: 1 },
      retry: false,
    });
    // A call admitted before the breaker opened still holds the only permit (a blackholed server).
    const held = policy.limiter?.tryAcquire('interactive');
    expect(held).toBeDefined();
    let ran = false;
    const error = await rejection(
      policy.execute(
        () => {
          ran = true;
        },
        { deadlineMs: 5_000 },
      ),
    );
    expect(isBallastError(error, 'BALLAST_CIRCUIT_OPEN')).toBe(true);
    expect((error as { retryAfterMs?: number }).retryAfterMs).toBe(1_000);
    expect(ran).toBe(false);
    expect(policy.stats().counts.circuitOpen).toBe(1);
    expect(policy.stats().limiter?.queued).toBe(0);
    expect(policy.stats().breaker?.rejected).toBe(1);
    // Once the open time is over, a newcomer queues for the permit and runs as the half-open probe.
    clock.advance(1_000);
    const probe = policy.execute(() => 'probe', { deadlineMs: 5_000 });
    await flushMicrotasks();
    expect(policy.stats().limiter?.queued).toBe(1);
    policy.limiter?.release(held as NonNullable<typeof held>, 'ignore', 0);
    await expect(probe).resolves.toBe('probe');
    expect(policy.breaker?.state).toBe('closed');
  });

  it('a successful probe through the policy closes the breaker after the break duration', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({
      clock,
      breaker: { consecutiveFailures: 2, breakDurationMs: 1_000, jitter: 0 },
      retry: false,
    });
    for (let i = 0; i < 2; i++) await rejection(policy.execute(() => Promise.reject(new Error('down'))));
    expect(policy.breaker?.state).toBe('open');
    clock.advance(1_000);
    await expect(policy.execute(() => 'probe')).resolves.toBe('probe');
    expect(policy.breaker?.state).toBe('closed');
    await expect(policy.execute(() => 'after')).resolves.toBe('after');
  });

  it('sheds with BALLAST_SHED when the limit is reached and the queue is full', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, limiter: { limit: 1, maxQueue: 0 } });
    const first = deferred();
    const running = policy.execute(() => first.promise);
    const error = await rejection(policy.execute(() => 'never'));
    expect(isBallastError(error, 'BALLAST_SHED')).toBe(true);
    first.resolve();
    await running;
    expect(policy.stats().counts).toMatchObject({ shed: 1, successes: 1 });
  });

  it('reports BALLAST_RETRY_BUDGET_EXHAUSTED with the last error as cause once the budget is spent', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({
      clock,
      breaker: false,
      retry: {
        maxAttempts: 2,
        budget: { ratio: 0, minRetriesPerSec: 0.1, windowMs: 10_000 },
        random: () => 0,
      },
    });
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const call = rejection(policy.execute(() => Promise.reject(refused())));
      await clock.advanceAsync(100);
      errors.push(await call);
    }
    const last = errors[2];
    expect(isBallastError(last, 'BALLAST_RETRY_BUDGET_EXHAUSTED')).toBe(true);
    expect((last as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('the budget counts calls, not attempts: with every attempt failing, retries stay within ratio × calls', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({
      clock,
      breaker: false,
      limiter: false,
      retry: {
        maxAttempts: 4,
        budget: { ratio: 0.2, minRetriesPerSec: 0, windowMs: 3_600_000 },
        random: () => 0,
      },
    });
    let attempts = 0;
    const failing = () => {
      attempts++;
      return Promise.reject(refused());
    };
    for (let i = 0; i < 100; i++) {
      const call = rejection(policy.execute(failing, { idempotent: true }));
      await clock.advanceAsync(1_000); // every back-off has passed
      await call;
    }
    // 100 calls pay for 20 retries. Were retries deposits too, they would pay for more: up to 25.
    expect(attempts).toBe(120);
    expect(policy.stats().counts.retries).toBe(20);
  });

  it('rejects an invalid per-call option with BALLAST_INVALID_ARGUMENT naming it', async () => {
    const policy = createPolicy({ clock: new ManualClock() });
    const bad = await rejection(policy.execute(() => 1, { priority: 'urgent' as never }));
    expect(isBallastError(bad, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect((bad as Error).message).toContain('priority');
    const nan = await rejection(policy.execute(() => 1, { deadlineMs: Number.NaN }));
    expect((nan as Error).message).toContain('deadlineMs');
  });

  it('a deadline already spent (0 or negative) fails at once without running the work', async () => {
    const policy = createPolicy({ clock: new ManualClock() });
    let ran = false;
    for (const deadlineMs of [0, -5]) {
      const error = await rejection(
        policy.execute(
          () => {
            ran = true;
          },
          { deadlineMs },
        ),
      );
      expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    }
    expect(ran).toBe(false);
    expect(policy.stats().counts).toMatchObject({ calls: 2, deadlineExceeded: 2 });
  });

  it.each([
    [{ name: '' }, 'policy.name'],
    [{ timeoutMs: 0 }, 'policy.timeoutMs'],
    [{ clock: {} }, 'policy.clock'],
  ])('rejects invalid option %o naming %s', (options, option) => {
    expect(() => createPolicy(options as never)).toThrow(option);
  });

  it('property: every call settles once, counts add up, and no permit leaks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            outcome: fc.constantFrom('ok', 'fail', 'refused', 'hang'),
            deadlineMs: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
            priority: fc.constantFrom('critical', 'interactive', 'batch', 'background'),
            idempotent: fc.boolean(),
            delayMs: fc.integer({ min: 0, max: 50 }),
          }),
          { maxLength: 30 },
        ),
        async (calls) => {
          const clock = new ManualClock();
          const policy = createPolicy({
            clock,
            limiter: { limit: 4, maxQueue: 8 },
            retry: { random: () => 0.5 },
          });
          const hangs: Array<() => void> = [];
          let settledCount = 0;
          const all = calls.map((c) =>
            policy
              .execute(
                () =>
                  new Promise<string>((resolve, reject) => {
                    if (c.outcome === 'hang') hangs.push(() => resolve('late'));
                    else
                      clock.setTimeout(() => {
                        if (c.outcome === 'ok') resolve('ok');
                        else reject(c.outcome === 'fail' ? new Error('fail') : refused());
                      }, c.delayMs);
                  }),
                { deadlineMs: c.deadlineMs, priority: c.priority, idempotent: c.idempotent },
              )
              .then(
                () => settledCount++,
                () => settledCount++,
              ),
          );
          await clock.advanceAsync(5_000);
          // Release hung work in rounds: a queued call may only start (and hang) once earlier ones let go.
          for (let round = 0; round < 10 && (hangs.length > 0 || settledCount < calls.length); round++) {
            for (const h of hangs.splice(0)) h();
            await clock.advanceAsync(5_000);
          }
          await Promise.all(all);
          expect(settledCount).toBe(calls.length);
          const { counts, limiter } = policy.stats();
          expect(limiter).toMatchObject({ inflight: 0 });
          expect(
            counts.successes +
              counts.failures +
              counts.shed +
              counts.circuitOpen +
              counts.deadlineExceeded +
              counts.aborted,
          ).toBe(counts.calls);
        },
      ),
      { numRuns: 100 },
    );
  });
});

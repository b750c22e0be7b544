import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { createPolicy } from './policy.js';
import { flushMicrotasks, ManualClock } from './testing/manual-clock.js';

type Done<T> = (error: unknown, value?: T) => void;

const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('Policy.executeCallback', () => {
  it('answers with the value the work passes to done, counts it and frees the permit', async () => {
    const policy = createPolicy({ name: 'db', clock: new ManualClock() });
    const value = await policy.executeCallback<string>((ctx, done) => done(null, `attempt ${ctx.attempt}`));
    expect(value).toBe('attempt 1');
    expect(policy.stats().counts).toMatchObject({ calls: 1, successes: 1, failures: 0 });
    expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
  });

  it('answers asynchronously too, and ignores a second call of done', async () => {
    const policy = createPolicy({ clock: new ManualClock(), retry: false });
    let done: Done<number> | undefined;
    const call = policy.executeCallback<number>((_ctx, d) => {
      done = d;
    });
    expect(policy.stats().limiter).toMatchObject({ inflight: 1 });
    done?.(null, 1);
    done?.(reset()); // pg calls back twice when a parameter fails to serialize
    await expect(call).resolves.toBe(1);
    expect(policy.stats().counts).toMatchObject({ successes: 1, failures: 0 });
    expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
  });

  it('retries a failed attempt as execute does (a fresh attempt through the same work)', async () => {
    const policy = createPolicy({ clock: new ManualClock(), retry: { baseDelayMs: 0, maxDelayMs: 0 } });
    const attempts: number[] = [];
    const value = await policy.executeCallback<string>(
      (ctx, done) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) done(reset());
        else done(undefined, 'second');
      },
      { idempotent: true },
    );
    expect(value).toBe('second');
    expect(attempts).toEqual([1, 2]);
    expect(policy.stats().counts).toMatchObject({ calls: 1, successes: 1, retries: 1 });
  });

  it('a work function that throws synchronously fails the call with that error', async () => {
    const policy = createPolicy({ clock: new ManualClock(), retry: false });
    const boom = new Error('boom');
    await expect(
      policy.executeCallback(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(policy.stats().counts).toMatchObject({ failures: 1 });
  });

  it('recover answers a failed call in place of the rejection', async () => {
    const policy = createPolicy({ clock: new ManualClock(), retry: false });
    const seen: unknown[] = [];
    const error = reset();
    const value = await policy.executeCallback<string>(
      (_ctx, done) => done(error),
      {},
      (e) => {
        seen.push(e);
        return Promise.resolve('fallback');
      },
    );
    expect(value).toBe('fallback');
    expect(seen).toEqual([error]);
  });

  it('recover answers the calls the policy refuses before any work (shed, spent deadline, bad options)', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false, limiter: { limit: 1, maxQueue: 0 } });
    let hold: Done<number> | undefined;
    const first = policy.executeCallback<number>((_ctx, done) => {
      hold = done;
    });
    const codes: unknown[] = [];
    const recover = (e: unknown) => {
      codes.push(isBallastError(e) ? e.code : e);
      return -1;
    };
    await expect(policy.executeCallback<number>((_c, done) => done(null, 2), {}, recover)).resolves.toBe(-1);
    await expect(
      policy.executeCallback<number>((_c, done) => done(null, 2), { deadlineMs: 0 }, recover),
    ).resolves.toBe(-1);
    await expect(
      policy.executeCallback<number>((_c, done) => done(null, 2), { priority: 'urgent' as never }, recover),
    ).resolves.toBe(-1);
    expect(codes).toEqual(['BALLAST_SHED', 'BALLAST_DEADLINE_EXCEEDED', 'BALLAST_INVALID_ARGUMENT']);
    hold?.(null, 1);
    await expect(first).resolves.toBe(1);
  });

  it('at the deadline recover answers once, and not again when the work fails afterwards', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false });
    let done: Done<string> | undefined;
    const seen: unknown[] = [];
    const call = policy.executeCallback<string>(
      (_ctx, d) => {
        done = d;
      },
      { deadlineMs: 100 },
      (e) => {
        seen.push(isBallastError(e) ? e.code : e);
        return 'late';
      },
    );
    clock.advance(100);
    await expect(call).resolves.toBe('late');
    done?.(reset());
    await flushMicrotasks();
    expect(seen).toEqual(['BALLAST_DEADLINE_EXCEEDED']);
    expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
  });

  it('without recover, a work failure after the deadline answered the call is not an unhandled rejection', async () => {
    const clock = new ManualClock();
    const policy = createPolicy({ clock, retry: false });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let done: Done<string> | undefined;
      const call = policy.executeCallback<string>(
        (_ctx, d) => {
          done = d;
        },
        { deadlineMs: 100 },
      );
      clock.advance(100);
      const error = await call.catch((e: unknown) => e);
      expect(isBallastError(error) && error.code).toBe('BALLAST_DEADLINE_EXCEEDED');
      done?.(reset()); // the driver reports its own failure afterwards (pg: the cancelled statement)
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a recover that throws rejects the call with what it threw', async () => {
    const policy = createPolicy({ clock: new ManualClock(), retry: false });
    const mapped = new Error('mapped');
    await expect(
      policy.executeCallback(
        (_c, done) => done(reset()),
        {},
        () => {
          throw mapped;
        },
      ),
    ).rejects.toBe(mapped);
  });

  it('refuses a recover that is not a function, naming it', async () => {
    const policy = createPolicy({ clock: new ManualClock() });
    const error = await policy.executeCallback((_c, done) => done(null, 1), {}, 42 as never).catch((e) => e);
    expect(isBallastError(error) && error.code).toBe('BALLAST_INVALID_ARGUMENT');
    expect(String((error as Error).message)).toContain('recover');
  });

  it('property: recover runs at most once and every call settles, whatever the order of deadline and outcome', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            answerAtMs: fc.integer({ min: 0, max: 200 }),
            fails: fc.boolean(),
            deadlineMs: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (calls) => {
          const clock = new ManualClock();
          const policy = createPolicy({ clock, retry: false, breaker: false });
          const recovered = calls.map(() => 0);
          const settled = calls.map(() => false);
          calls.forEach((c, i) => {
            void policy
              .executeCallback<number>(
                (_ctx, done) => {
                  clock.setTimeout(() => (c.fails ? done(reset()) : done(null, i)), c.answerAtMs);
                },
                { deadlineMs: c.deadlineMs },
                () => {
                  recovered[i] = (recovered[i] ?? 0) + 1;
                  return -1;
                },
              )
              .then(() => {
                settled[i] = true;
              });
          });
          await clock.advanceAsync(250);
          await flushMicrotasks();
          expect(settled.every(Boolean)).toBe(true);
          for (const [i, c] of calls.entries()) {
            // The deadline wheel is coarse: a deadline fires at most one tick (< 20 ms) after it is due.
            const before = c.deadlineMs === undefined || c.answerAtMs < c.deadlineMs;
            const after = c.deadlineMs !== undefined && c.answerAtMs >= c.deadlineMs + 20;
            if (c.fails || after) expect(recovered[i]).toBe(1);
            else if (before) expect(recovered[i]).toBe(0);
            else expect(recovered[i]).toBeLessThanOrEqual(1);
          }
          expect(policy.stats().limiter).toMatchObject({ inflight: 0 });
        },
      ),
      { numRuns: 100 },
    );
  });
});

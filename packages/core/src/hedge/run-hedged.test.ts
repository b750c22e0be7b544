import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { NEVER_ABORTED } from '../operation.js';
import { createRetryBudget } from '../retry/retry-budget.js';
import { ManualClock } from '../testing/manual-clock.js';
import { createHedge, type HedgeEvents } from './hedge.js';
import { runHedged, runHedgedTracked } from './run-hedged.js';
import { parentContext, type Started, setup, warmHedge } from './run-hedged-harness.js';

describe('runHedged', () => {
  it('hedge starts after the observed p95', async () => {
    const hedge = warmHedge();
    const delay = hedge.delayMs(0);
    expect(delay).toBeGreaterThanOrEqual(95);
    expect(delay).toBeLessThanOrEqual(98);
    const { manual, started, outcome } = setup(hedge, [
      { ms: 500, ok: true },
      { ms: 10, ok: true },
    ]);
    await manual.advanceAsync(delay - 0.5);
    expect(started).toHaveLength(1);
    await manual.advanceAsync(0.5);
    expect(started).toHaveLength(2);
    expect(started.map((s) => [s.index, s.at])).toEqual([
      [0, 0],
      [1, delay],
    ]);
    await manual.advanceAsync(10);
    expect(outcome).toMatchObject({ settled: 1, value: 1 });
  });

  it('no hedge before minSamples', async () => {
    const hedge = warmHedge({}, 19);
    expect(hedge.delayMs(0)).toBe(-1);
    const { manual, clock, started, outcome } = setup(hedge, [{ ms: 500, ok: true }]);
    await manual.advanceAsync(1_000);
    expect(started).toHaveLength(1);
    expect(clock.started).toBe(0);
    expect(outcome).toMatchObject({ settled: 1, value: 0 });
    expect(hedge.tracker.count(1_000)).toBe(20); // the unhedged call's latency still counts
  });

  it('the loser is aborted', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const won: Array<HedgeEvents['hedge-won']> = [];
    hedge.on('hedge-won', (e) => won.push(e));
    const { manual, started, outcome } = setup(hedge, [
      { ms: 500, ok: true },
      { ms: 10, ok: true },
    ]);
    await manual.advanceAsync(49.5);
    expect(started).toHaveLength(1);
    await manual.advanceAsync(0.5);
    expect(started).toHaveLength(2);
    await manual.advanceAsync(10);
    expect(outcome).toMatchObject({ settled: 1, value: 1 });
    const loser = started[0] as Started;
    expect(loser.signal.aborted).toBe(true);
    expect(isBallastError(loser.signal.reason, 'BALLAST_ABORTED')).toBe(true);
    expect((started[1] as Started).signal.aborted).toBe(false);
    expect(won).toEqual([{ name: 'hedge', attempt: 1 }]);
  });

  it('the original wins when it answers first, and the hedge is aborted', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const won: unknown[] = [];
    hedge.on('hedge-won', (e) => won.push(e));
    const { manual, started, outcome } = setup(hedge, [
      { ms: 70, ok: true },
      { ms: 100, ok: true },
    ]);
    await manual.advanceAsync(200);
    expect(outcome).toMatchObject({ settled: 1, value: 0 });
    expect((started[1] as Started).signal.aborted).toBe(true);
    expect(won).toEqual([]);
  });

  it('a failure while another attempt runs waits for that attempt', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const { manual, outcome } = setup(hedge, [
      { ms: 60, ok: false },
      { ms: 40, ok: true },
    ]);
    await manual.advanceAsync(60);
    expect(outcome.settled).toBe(0);
    await manual.advanceAsync(30);
    expect(outcome).toMatchObject({ settled: 1, value: 1 });
  });

  it('rejects with the last error when every attempt fails', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const { manual, outcome, started } = setup(hedge, [
      { ms: 60, ok: false },
      { ms: 40, ok: false },
    ]);
    await manual.advanceAsync(100);
    expect(outcome.settled).toBe(1);
    expect((outcome.error as { index: number }).index).toBe(1);
    expect(started.every((s) => !s.signal.aborted)).toBe(true);
  });

  it('a failure before the hedge delay rejects at once and cancels the timer', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const { manual, clock, outcome, started } = setup(hedge, [{ ms: 10, ok: false }]);
    await manual.advanceAsync(10);
    expect(outcome.settled).toBe(1);
    expect(clock.pending.size).toBe(0);
    await manual.advanceAsync(100);
    expect(started).toHaveLength(1);
  });

  it('uses one timer per call, cleared when the call settles', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const { manual, clock } = setup(hedge, [{ ms: 20, ok: true }]);
    expect(clock.started).toBe(1);
    await manual.advanceAsync(20);
    expect(clock.pending.size).toBe(0);
    expect(clock.started).toBe(1);
  });

  it('hedge paid from the budget; no hedge when the budget is empty', async () => {
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSec: 0.1, windowMs: 10_000 }); // 1 per window
    const hedge = warmHedge({ delayMs: 50, budget });
    const hedges: unknown[] = [];
    hedge.on('hedge', (e) => hedges.push(e));
    const first = setup(hedge, [
      { ms: 100, ok: true },
      { ms: 100, ok: true },
    ]);
    await first.manual.advanceAsync(49.5);
    expect(first.started).toHaveLength(1);
    expect(budget.stats(0).retries).toBe(0);
    await first.manual.advanceAsync(0.5);
    expect(first.started).toHaveLength(2);
    await first.manual.advanceAsync(150);
    expect(first.started).toHaveLength(2);
    expect(budget.stats(0).retries).toBe(1);
    const second = setup(hedge, [
      { ms: 100, ok: true },
      { ms: 100, ok: true },
    ]);
    await second.manual.advanceAsync(200);
    expect(second.started).toHaveLength(1);
    expect(second.outcome).toMatchObject({ settled: 1, value: 0 });
    expect(hedges).toEqual([{ name: 'hedge', attempt: 1, delayMs: 50 }]);
  });

  it('maxHedges: 2 starts a second hedge one delay after the first', async () => {
    const hedge = warmHedge({ delayMs: 30, maxHedges: 2 });
    const { manual, clock, started, outcome } = setup(hedge, [
      { ms: 500, ok: true },
      { ms: 500, ok: true },
      { ms: 5, ok: true },
    ]);
    await manual.advanceAsync(29.5);
    expect(started).toHaveLength(1);
    await manual.advanceAsync(0.5);
    expect(started).toHaveLength(2);
    await manual.advanceAsync(29.5);
    expect(started).toHaveLength(2);
    await manual.advanceAsync(0.5);
    expect(started).toHaveLength(3);
    await manual.advanceAsync(40);
    expect(started.map((s) => s.at)).toEqual([0, 30, 60]);
    expect(outcome).toMatchObject({ settled: 1, value: 2 });
    expect(started.slice(0, 2).every((s) => s.signal.aborted)).toBe(true);
    expect(clock.pending.size).toBe(0);
  });

  it('the winner’s latency is recorded', async () => {
    const hedge = warmHedge({ delayMs: 50 }, 0);
    const { manual } = setup(hedge, [
      { ms: 500, ok: true },
      { ms: 7, ok: true },
    ]);
    await manual.advanceAsync(100);
    expect(hedge.tracker.count(100)).toBe(1);
    expect(hedge.tracker.quantile(1, 100)).toBe(7);
  });

  it('the parent’s abort aborts every attempt and rejects with its reason', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const parent = new AbortController();
    const { manual, started, outcome, clock } = setup(
      hedge,
      [
        { ms: 500, ok: true },
        { ms: 500, ok: true },
      ],
      { signal: parent.signal },
    );
    await manual.advanceAsync(60);
    parent.abort(new Error('caller left'));
    await manual.advanceAsync(0);
    expect(outcome.settled).toBe(1);
    expect(isBallastError(outcome.error, 'BALLAST_ABORTED')).toBe(true);
    expect(started.every((s) => s.signal.aborted)).toBe(true);
    expect(clock.pending.size).toBe(0);
  });

  it('work that throws synchronously rejects the call', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const clock = new ManualClock();
    const boom = new Error('sync');
    const work = (): Promise<number> => {
      throw boom;
    };
    await expect(runHedged(hedge, work, parentContext(), clock, 0)).rejects.toBe(boom);
    await expect(runHedged(createHedge(), work, parentContext(), clock, 0)).rejects.toBe(boom);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('runHedged: attempts still running, admission, parent listeners', () => {
  it('on parent abort the call settles only after every attempt settled', async () => {
    const hedge = warmHedge({ delayMs: 50, maxHedges: 2 });
    const parent = new AbortController();
    const { manual, clock, started, outcome, live } = setup(
      hedge,
      [
        { ms: 500, ok: true, ignoresAbort: true },
        { ms: 300, ok: false, ignoresAbort: true },
      ],
      { signal: parent.signal },
    );
    await manual.advanceAsync(60);
    parent.abort(new Error('deadline'));
    await manual.advanceAsync(0);
    expect(started.every((s) => s.signal.aborted)).toBe(true);
    expect(clock.pending.size).toBe(0); // no further hedge
    expect(outcome.settled).toBe(0); // both attempts still occupy the dependency
    await manual.advanceAsync(300); // t = 360: attempt 1 failed, attempt 0 still runs
    expect(started.map((s) => s.settledAt)).toEqual([undefined, 350]);
    expect(outcome.settled).toBe(0);
    await manual.advanceAsync(140); // t = 500: attempt 0 ends (with a success nobody takes)
    expect(outcome).toMatchObject({ settled: 1, settledAt: 500, runningAtSettle: 0, done: 1, doneAt: 500 });
    expect(isBallastError(outcome.error, 'BALLAST_ABORTED')).toBe(true);
    expect((outcome.error as Error).cause).toEqual(new Error('deadline'));
    expect(started).toHaveLength(2);
    expect(live.maxRunning).toBe(2);
  });

  it('a parent already aborted starts nothing and settles at once', async () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    const { manual, started, outcome, clock } = setup(warmHedge({ delayMs: 50 }), [{ ms: 10, ok: true }], {
      signal: parent.signal,
    });
    await manual.advanceAsync(0);
    expect(started).toHaveLength(0);
    expect(clock.started).toBe(0);
    expect(outcome).toMatchObject({ settled: 1, done: 1 });
    expect(isBallastError(outcome.error, 'BALLAST_ABORTED')).toBe(true);
  });

  it('onAllSettled/done fires once when the last loser stops', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const { manual, started, outcome } = setup(hedge, [
      { ms: 500, ok: true, ignoresAbort: true },
      { ms: 10, ok: true },
    ]);
    await manual.advanceAsync(60);
    // The winner's value at once; the aborted original still runs.
    expect(outcome).toMatchObject({ settled: 1, value: 1, settledAt: 60, runningAtSettle: 1, done: 0 });
    expect((started[0] as Started).signal.aborted).toBe(true);
    await manual.advanceAsync(439.5);
    expect(outcome.done).toBe(0);
    await manual.advanceAsync(0.5);
    expect(outcome).toMatchObject({ done: 1, doneAt: 500, runningAtDone: 0 });
    await manual.advanceAsync(1_000);
    expect(outcome).toMatchObject({ settled: 1, done: 1 });
  });

  it('done comes with the result when no loser runs on, hedged or not', async () => {
    const won = setup(warmHedge({ delayMs: 50 }), [
      { ms: 500, ok: true },
      { ms: 10, ok: true },
    ]);
    await won.manual.advanceAsync(60);
    expect(won.outcome).toMatchObject({ settled: 1, value: 1, done: 1, doneAt: 60, runningAtDone: 0 });

    const failed = setup(warmHedge({ delayMs: 50 }), [
      { ms: 70, ok: false },
      { ms: 40, ok: false },
    ]);
    await failed.manual.advanceAsync(89);
    expect(failed.outcome).toMatchObject({ settled: 0, done: 0 });
    await failed.manual.advanceAsync(1);
    expect(failed.outcome).toMatchObject({ settled: 1, settledAt: 90, done: 1, doneAt: 90 });

    const unhedged = setup(warmHedge({}, 0), [{ ms: 30, ok: true }]);
    await unhedged.manual.advanceAsync(29);
    expect(unhedged.outcome).toMatchObject({ settled: 0, done: 0 });
    await unhedged.manual.advanceAsync(1);
    expect(unhedged.outcome).toMatchObject({ settled: 1, value: 0, done: 1, doneAt: 30 });
  });

  it('a hedge is skipped when admit returns undefined, and its release runs once when the hedge settles', async () => {
    const hedge = warmHedge({ delayMs: 30, maxHedges: 3 });
    const events: Array<HedgeEvents['hedge']> = [];
    hedge.on('hedge', (e) => events.push(e));
    let admits = 0;
    let releases = 0;
    const { manual, started, outcome } = setup(
      hedge,
      [
        { ms: 500, ok: true },
        { ms: 530, ok: true, ignoresAbort: true },
        { ms: 5, ok: true },
      ],
      {
        // The first hedge is admitted, the second refused.
        admit: () => {
          admits++;
          if (admits > 1) return undefined;
          return () => {
            releases++;
          };
        },
      },
    );
    await manual.advanceAsync(30);
    expect(started).toHaveLength(2);
    expect(admits).toBe(1);
    expect(releases).toBe(0);
    await manual.advanceAsync(30); // t = 60: admit refuses the second hedge
    expect(admits).toBe(2);
    expect(started).toHaveLength(2); // no third attempt
    expect(events).toEqual([{ name: 'hedge', attempt: 1, delayMs: 30 }]);
    await manual.advanceAsync(200); // no further hedge is tried
    expect(admits).toBe(2);
    expect(started).toHaveLength(2);
    await manual.advanceAsync(240); // t = 500: the original wins; the admitted hedge ignores its abort
    expect(outcome).toMatchObject({ settled: 1, value: 0, done: 0 });
    expect((started[1] as Started).signal.aborted).toBe(true);
    expect(releases).toBe(0);
    await manual.advanceAsync(59.5);
    expect(releases).toBe(0);
    await manual.advanceAsync(0.5); // t = 560: the hedge's work settles
    expect(releases).toBe(1);
    expect(outcome).toMatchObject({ done: 1, doneAt: 560 });
    await manual.advanceAsync(1_000);
    expect(releases).toBe(1);
  });

  it('an admitted hedge releases once whether it wins, fails or is aborted', async () => {
    const cases = [
      {
        plan: [
          { ms: 500, ok: true },
          { ms: 10, ok: true },
        ],
        releasedAt: 60,
      }, // wins
      {
        plan: [
          { ms: 500, ok: true },
          { ms: 10, ok: false },
        ],
        releasedAt: 60,
      }, // fails
      {
        plan: [
          { ms: 70, ok: true },
          { ms: 100, ok: true },
        ],
        releasedAt: 70,
      }, // aborted
    ];
    for (const { plan, releasedAt } of cases) {
      const { manual, live, started } = setup(warmHedge({ delayMs: 50 }), plan, { admitCapacity: 1 });
      await manual.advanceAsync(1_000);
      expect(started).toHaveLength(2);
      expect(live.releaseCalls).toEqual([1]);
      expect(live.releasedAt).toEqual([releasedAt]);
    }
  });

  it('the budget is not charged when admit refuses', async () => {
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSec: 0.1, windowMs: 10_000 }); // 1 per window
    const hedge = warmHedge({ delayMs: 50, budget });
    const events: unknown[] = [];
    hedge.on('hedge', (e) => events.push(e));
    const refused = setup(
      hedge,
      [
        { ms: 100, ok: true },
        { ms: 10, ok: true },
      ],
      { admitCapacity: 0 },
    );
    await refused.manual.advanceAsync(200);
    expect(refused.live.admitCalls).toBe(1);
    expect(refused.started).toHaveLength(1);
    expect(refused.outcome).toMatchObject({ settled: 1, value: 0 });
    expect(budget.stats(0).retries).toBe(0);
    expect(events).toEqual([]);

    // The budget still holds its one hedge; once spent, an admitted hedge's release runs at once.
    const paid = setup(
      hedge,
      [
        { ms: 100, ok: true },
        { ms: 10, ok: true },
      ],
      { admitCapacity: 1 },
    );
    await paid.manual.advanceAsync(200);
    expect(paid.started).toHaveLength(2);
    expect(budget.stats(0).retries).toBe(1);
    const unpaid = setup(
      hedge,
      [
        { ms: 100, ok: true },
        { ms: 10, ok: true },
      ],
      { admitCapacity: 1 },
    );
    await unpaid.manual.advanceAsync(50);
    expect(unpaid.started).toHaveLength(1);
    expect(unpaid.live.releaseCalls).toEqual([1]);
    expect(unpaid.live.releasedAt).toEqual([50]);
    expect(events).toHaveLength(1);
  });

  it('no listener is added to NEVER_ABORTED; the listener on a real parent signal is removed on settle', async () => {
    const hedge = warmHedge({ delayMs: 50 });
    const shared = Array.from({ length: 15 }, () =>
      setup(
        hedge,
        [
          { ms: 500, ok: true },
          { ms: 500, ok: true },
        ],
        { parent: parentContext(NEVER_ABORTED) },
      ),
    );
    await Promise.all(shared.map((c) => c.manual.advanceAsync(60)));
    expect(shared.every((c) => c.started.length === 2)).toBe(true);
    expect(getEventListeners(NEVER_ABORTED, 'abort')).toHaveLength(0);
    await Promise.all(shared.map((c) => c.manual.advanceAsync(500)));
    expect(shared.every((c) => c.outcome.settled === 1)).toBe(true);

    const plans = {
      wins: [
        { ms: 500, ok: true, ignoresAbort: true },
        { ms: 10, ok: true },
      ],
      fails: [
        { ms: 70, ok: false },
        { ms: 40, ok: false },
      ],
      unhedged: [{ ms: 20, ok: true, ignoresAbort: true }], // runs with the parent's signal, not listening
    };
    for (const [name, plan] of Object.entries(plans)) {
      const signal = new AbortController().signal;
      const c = setup(name === 'unhedged' ? warmHedge({}, 0) : hedge, plan, { signal });
      expect(getEventListeners(signal, 'abort')).toHaveLength(name === 'unhedged' ? 0 : 1);
      await c.manual.advanceAsync(100);
      expect(c.outcome.settled).toBe(1);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    }

    const parent = new AbortController();
    const aborted = setup(hedge, [{ ms: 500, ok: true, ignoresAbort: true }], { signal: parent.signal });
    await aborted.manual.advanceAsync(10);
    parent.abort();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    await aborted.manual.advanceAsync(500);
    expect(aborted.outcome).toMatchObject({ settled: 1, done: 1 });
  });

  it('runHedgedTracked: a synchronous throw rejects the result and resolves done', async () => {
    const clock = new ManualClock();
    const boom = new Error('sync');
    const work = (): Promise<number> => {
      throw boom;
    };
    for (const hedge of [warmHedge({ delayMs: 50 }), createHedge()]) {
      const { result, done } = runHedgedTracked(hedge, work, parentContext(), clock, 0);
      await expect(result).rejects.toBe(boom);
      await expect(done).resolves.toBeUndefined();
    }
    expect(clock.pendingTimers).toBe(0);
  });
});

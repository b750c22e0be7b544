import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { createRetryBudget } from '../retry/retry-budget.js';
import { ManualClock } from '../testing/manual-clock.js';
import { createHedge, type HedgeEvents } from './hedge.js';
import { runHedged } from './run-hedged.js';
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
    expect(started.map((s) => [s.index, s.at])).toEqual([
      [0, 0],
      [1, delay],
    ]);
    await manual.advanceAsync(10);
    expect(outcome).toEqual({ settled: 1, value: 1 });
  });

  it('no hedge before minSamples', async () => {
    const hedge = warmHedge({}, 19);
    expect(hedge.delayMs(0)).toBe(-1);
    const { manual, clock, started, outcome } = setup(hedge, [{ ms: 500, ok: true }]);
    await manual.advanceAsync(1_000);
    expect(started).toHaveLength(1);
    expect(clock.started).toBe(0);
    expect(outcome).toEqual({ settled: 1, value: 0 });
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
    await manual.advanceAsync(60);
    expect(outcome).toEqual({ settled: 1, value: 1 });
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
    expect(outcome).toEqual({ settled: 1, value: 0 });
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
    expect(outcome).toEqual({ settled: 1, value: 1 });
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
    await first.manual.advanceAsync(200);
    expect(first.started).toHaveLength(2);
    expect(budget.stats(0).retries).toBe(1);
    const second = setup(hedge, [
      { ms: 100, ok: true },
      { ms: 100, ok: true },
    ]);
    await second.manual.advanceAsync(200);
    expect(second.started).toHaveLength(1);
    expect(second.outcome).toEqual({ settled: 1, value: 0 });
    expect(hedges).toEqual([{ name: 'hedge', attempt: 1, delayMs: 50 }]);
  });

  it('maxHedges: 2 starts a second hedge one delay after the first', async () => {
    const hedge = warmHedge({ delayMs: 30, maxHedges: 2 });
    const { manual, clock, started, outcome } = setup(hedge, [
      { ms: 500, ok: true },
      { ms: 500, ok: true },
      { ms: 5, ok: true },
    ]);
    await manual.advanceAsync(100);
    expect(started.map((s) => s.at)).toEqual([0, 30, 60]);
    expect(outcome).toEqual({ settled: 1, value: 2 });
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
      parent.signal,
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

import { describe, expect, it, vi } from 'vitest';
import { isBallastError } from '../errors.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';
import type { LimiterPermit, Priority } from '../types.js';
import { createLimiter } from './limiter.js';
import type { LimiterOptions } from './limiter-options.js';

const NONE = Number.POSITIVE_INFINITY;

interface Tracked {
  label: string;
  permit?: LimiterPermit;
  error?: { code: string; reason?: string };
}

function setup(options: LimiterOptions = {}) {
  const clock = new ManualClock();
  const limiter = createLimiter({ limit: 1, clock, ...options });
  const log: string[] = [];
  const track = (label: string, priority: Priority, deadlineAt = NONE, signal?: AbortSignal): Tracked => {
    const t: Tracked = { label };
    limiter.acquire(priority, deadlineAt, signal).then(
      (permit) => {
        t.permit = permit;
        log.push(label);
      },
      (error: { code: string; reason?: string }) => {
        t.error = error;
        log.push(`${label}:${error.reason ?? error.code}`);
      },
    );
    return t;
  };
  const held = limiter.tryAcquire('interactive') as LimiterPermit;
  return { clock, limiter, log, track, held };
}

describe('admission queue', () => {
  it('a waiter whose deadline is shorter than the expected service time is shed on enqueue', async () => {
    const { limiter, log, track } = setup({ expectedServiceTime: { initialMs: 50 } });
    track('short', 'interactive', 30);
    track('long', 'interactive', 100);
    await flushMicrotasks();
    expect(log).toEqual(['short:deadline']);
    expect(limiter.queued).toBe(1);
    expect(limiter.stats().shed.deadline.interactive).toBe(1);
  });

  it('a waiter whose deadline has already passed is shed even with no estimate', async () => {
    const { clock, log, track } = setup({ expectedServiceTime: false });
    clock.advance(10);
    track('late', 'batch', 10);
    await flushMicrotasks();
    expect(log).toEqual(['late:deadline']);
  });

  it('learns the expected service time from RTT samples and sheds at dequeue a waiter that can no longer make it', async () => {
    const { clock, limiter, log, track, held } = setup({ codel: false });
    track('a', 'interactive', 100);
    track('b', 'interactive', 1_000);
    clock.advance(95);
    limiter.release(held, 'success', 20); // expected service time is now 20 ms; 'a' has 5 ms left
    await flushMicrotasks();
    expect(limiter.stats().expectedServiceTimeMs).toBe(20);
    expect(log).toEqual(['a:deadline', 'b']);
  });

  it('the earliest-deadline timer rejects a waiter at its deadline, with one timer for all waiters', async () => {
    const { clock, limiter, log, track } = setup({ codel: false });
    track('a', 'interactive', 100);
    track('b', 'interactive', 50);
    track('c', 'batch', 200);
    track('d', 'batch');
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(49);
    expect(log).toEqual([]);
    await clock.advanceAsync(1);
    expect(log).toEqual(['b:deadline']);
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(150);
    expect(log).toEqual(['b:deadline', 'a:deadline', 'c:deadline']);
    expect(limiter.queued).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('clears the deadline timer when the queue empties', async () => {
    const { clock, limiter, log, track, held } = setup();
    track('a', 'interactive', 100);
    expect(clock.pendingTimers).toBe(1);
    limiter.release(held, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['a']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('abort removes the waiter and rejects it with BALLAST_ABORTED', async () => {
    const { clock, limiter, log, track } = setup();
    const ac = new AbortController();
    const t = track('a', 'interactive', 100, ac.signal);
    ac.abort(new Error('client went away'));
    await flushMicrotasks();
    expect(log).toEqual(['a:BALLAST_ABORTED']);
    expect(isBallastError(t.error, 'BALLAST_ABORTED')).toBe(true);
    expect(limiter.queued).toBe(0);
    expect(limiter.stats().aborted).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an already aborted signal rejects at once without queueing', async () => {
    const { limiter, log, track } = setup();
    track('a', 'interactive', NONE, AbortSignal.abort());
    await flushMicrotasks();
    expect(log).toEqual(['a:BALLAST_ABORTED']);
    expect(limiter.queued).toBe(0);
  });

  it('adds an abort listener only to a queued waiter and removes it when the waiter leaves', async () => {
    const clock = new ManualClock();
    const limiter = createLimiter({ limit: 1, clock });
    const signal = new AbortController().signal;
    const add = vi.spyOn(signal, 'addEventListener');
    const remove = vi.spyOn(signal, 'removeEventListener');
    const first = await limiter.acquire('batch', NONE, signal); // fast path
    expect(add).not.toHaveBeenCalled();
    const second = limiter.acquire('batch', NONE, signal);
    expect(add).toHaveBeenCalledTimes(1);
    limiter.release(first, 'ignore', 0);
    await second;
    expect(remove).toHaveBeenCalledTimes(1);
    expect(remove.mock.calls[0]?.[1]).toBe(add.mock.calls[0]?.[1]);
  });

  it('sheds queue-full when the total queue is full and no lower priority waits', async () => {
    const { log, track } = setup({ maxQueue: 2 });
    track('a', 'background');
    track('b', 'background');
    track('c', 'background');
    await flushMicrotasks();
    expect(log).toEqual(['c:queue-full']);
  });

  it('sheds queue-full when the priority has its own cap', async () => {
    const { log, track } = setup({ maxQueue: { total: 10, batch: 1 } });
    track('a', 'batch');
    track('b', 'batch');
    track('c', 'interactive');
    await flushMicrotasks();
    expect(log).toEqual(['b:queue-full']);
  });

  it('critical evicts background from a full queue', async () => {
    const { limiter, log, track, held } = setup({ maxQueue: 2 });
    track('batch', 'batch');
    track('bg', 'background');
    track('crit', 'critical');
    await flushMicrotasks();
    expect(log).toEqual(['bg:priority']);
    limiter.release(held, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['bg:priority', 'crit']);
    expect(limiter.stats().shed.priority.background).toBe(1);
  });

  it('under overload background is shed before batch, and batch before interactive', async () => {
    const { log, track } = setup({ maxQueue: 3 });
    track('bg', 'background');
    track('b', 'batch');
    track('i1', 'interactive');
    track('i2', 'interactive');
    track('i3', 'interactive');
    track('i4', 'interactive');
    await flushMicrotasks();
    expect(log).toEqual(['bg:priority', 'b:priority', 'i4:queue-full']);
  });

  it('CoDel drops from a standing queue that calls arrive at faster than it is served', async () => {
    const { clock, limiter, log, track, held } = setup({
      lifo: false,
      codel: { targetMs: 5, intervalMs: 100 },
    });
    let current = held;
    const waiters: Tracked[] = [];
    for (let i = 0; i < 5; i++) waiters.push(track(`w${i}`, 'interactive'));
    // Serve one waiter every 20 ms while new ones keep arriving: the queue never drains.
    for (let step = 1; step <= 15; step++) {
      clock.advance(20);
      // Three arrive for every one served: the queue is overloaded, not just standing.
      waiters.push(
        track(`n${step}`, 'interactive'),
        track(`m${step}`, 'interactive'),
        track(`o${step}`, 'interactive'),
      );
      limiter.release(current, 'ignore', 0);
      await flushMicrotasks();
      const next = waiters.find((w) => w.permit !== undefined && !('used' in w));
      if (next?.permit === undefined) throw new Error('nobody was served');
      Object.assign(next, { used: true });
      current = next.permit;
    }
    const drops = log.filter((l) => l.endsWith(':limit'));
    expect(drops.length).toBeGreaterThanOrEqual(2);
    expect(limiter.stats().shed.limit.interactive).toBe(drops.length);
    // the first drop comes only after the sojourn stayed above target for a whole interval
    expect(log.indexOf(drops[0] as string)).toBeGreaterThan(3);
  });

  it('serves FIFO while there is no standing queue, and LIFO while a standing queue exists', async () => {
    const { clock, limiter, log, track, held } = setup({ codel: false });
    const a = track('a', 'interactive');
    track('b', 'interactive');
    track('c', 'interactive');
    clock.advance(1); // sojourn 1 ms < 5 ms target: FIFO
    limiter.release(held, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['a']);
    clock.advance(20); // the head has waited 21 ms: standing queue, newest first
    limiter.release(a.permit as LimiterPermit, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['a', 'c']);
  });

  it('lifo: true always serves the newest, lifo: false always the oldest', async () => {
    const lifo = setup({ lifo: true });
    lifo.track('a', 'batch');
    lifo.track('b', 'batch');
    lifo.limiter.release(lifo.held, 'ignore', 0);
    await flushMicrotasks();
    expect(lifo.log).toEqual(['b']);

    const fifo = setup({ lifo: false, codel: false });
    fifo.track('a', 'batch');
    fifo.track('b', 'batch');
    fifo.clock.advance(1_000);
    fifo.limiter.release(fifo.held, 'ignore', 0);
    await flushMicrotasks();
    expect(fifo.log).toEqual(['a']);
  });

  it('a newcomer whose expected wait exceeds its deadline is shed on arrival', async () => {
    const { limiter, log, track } = setup({ expectedServiceTime: { initialMs: 20 } });
    for (let i = 0; i < 4; i++) track(`w${i}`, 'interactive', 10_000);
    // 4 waiters ahead × 20 ms / limit 1 = 80 ms of waiting, plus 20 ms of service: 100 ms needed
    track('short', 'interactive', 90);
    track('enough', 'interactive', 150);
    await flushMicrotasks();
    expect(log).toEqual(['short:deadline']);
    expect(limiter.queued).toBe(5);
    // a higher priority is not behind the interactive queue
    track('critical', 'critical', 30);
    await flushMicrotasks();
    expect(log).toEqual(['short:deadline']);
  });

  it('with a standing queue a newcomer beyond the target wait is shed on arrival, not after waiting', async () => {
    const { clock, limiter, log, track } = setup({ expectedServiceTime: { initialMs: 2 } });
    // 2 ms per slot and a 5 ms target: a third waiter would be served at 6 ms. While the queue is young it is a
    // burst, and the queue absorbs it.
    track('a', 'interactive');
    track('b', 'interactive');
    track('c', 'interactive');
    clock.advance(60);
    for (let i = 0; i < 5; i++) track(`d${i}`, 'interactive');
    await flushMicrotasks();
    expect(log).toEqual([]);
    // A standing queue (the limit was full for a whole interval) that calls arrive at faster than it is served
    // (8 arrived, none served): overload, and the newcomer is shed at once.
    clock.advance(50);
    track('e', 'interactive');
    await flushMicrotasks();
    expect(log).toEqual(['e:limit']);
    expect(limiter.queued).toBe(8);
    expect(limiter.stats().shed.limit.interactive).toBe(1);
  });

  it('a slow dependency: a standing queue may wait up to one service time, so a priority queues more than one waiter', async () => {
    // 100 ms calls, a limit of 10: a permit frees every 10 ms. CoDel's 5 ms target alone let one waiter queue.
    const { clock, limiter, log, track } = setup({ limit: 10, expectedServiceTime: { initialMs: 100 } });
    for (let i = 0; i < 9; i++) limiter.tryAcquire('interactive'); // with setup's permit: the limit is full
    for (let i = 0; i < 3; i++) track(`a${i}`, 'interactive', 10_000);
    clock.advance(60);
    for (let i = 0; i < 3; i++) track(`b${i}`, 'interactive', 10_000);
    clock.advance(50); // standing, and overloaded: calls kept arriving and none was served
    for (let i = 0; i < 4; i++) track(`c${i}`, 'interactive', 10_000); // served 70..100 ms from now
    track('d', 'interactive', 10_000); // 10 ahead: served 110 ms from now, past one service time
    await flushMicrotasks();
    expect(log).toEqual(['d:limit']);
    expect(limiter.queued).toBe(10);
  });

  it('while a lower priority waits, a higher one is shed only for its deadline: the lower one is shed instead', async () => {
    const { clock, limiter, log, track } = setup({ limit: 10, expectedServiceTime: { initialMs: 100 } });
    for (let i = 0; i < 9; i++) limiter.tryAcquire('interactive'); // with setup's permit: the limit is full
    for (let i = 0; i < 3; i++) track(`b${i}`, 'batch', 10_000);
    for (let i = 0; i < 3; i++) track(`a${i}`, 'interactive', 10_000);
    clock.advance(60);
    for (let i = 0; i < 3; i++) track(`c${i}`, 'batch', 10_000);
    clock.advance(50); // standing, and overloaded: calls kept arriving and none was served
    // Up to 14 interactive waiters ahead: 140 ms, past one service time, but batch waits and can be shed instead.
    for (let i = 0; i < 12; i++) track(`i${i}`, 'interactive', 10_000);
    track('late-batch', 'batch', 10_000);
    await flushMicrotasks();
    expect(log).toEqual(['late-batch:limit']);
    expect(limiter.stats().queuedByPriority).toMatchObject({ interactive: 15, batch: 6 });
  });

  it('a standing queue served as fast as calls arrive (more callers than the limit) is not shed', async () => {
    const { clock, limiter, log, track, held } = setup({ expectedServiceTime: { initialMs: 2 } });
    let current = held;
    const waiters: Tracked[] = [];
    for (let i = 0; i < 6; i++) waiters.push(track(`w${i}`, 'interactive'));
    // A closed loop: each served caller comes straight back; the queue stands at 6 waiters, 12 ms, for 400 ms.
    for (let step = 1; step <= 200; step++) {
      clock.advance(2);
      limiter.release(current, 'success', 2);
      await flushMicrotasks();
      const next = waiters.find((w) => w.permit !== undefined && !('used' in w));
      if (next?.permit === undefined) throw new Error('nobody was served');
      Object.assign(next, { used: true });
      current = next.permit;
      waiters.push(track(`n${step}`, 'interactive'));
    }
    expect(log.filter((l) => l.includes(':'))).toEqual([]);
  });

  it('a newcomer that would wait longer than the CoDel interval is shed on arrival while calls outpace service', async () => {
    const { clock, limiter, log, track } = setup({ expectedServiceTime: { initialMs: 15 } });
    for (let i = 0; i < 8; i++) track(`w${i}`, 'interactive', 10_000);
    clock.advance(101); // a whole interval in which calls kept arriving and none was served: overload
    track('late', 'interactive', 10_000); // 8 × 15 ms = 120 ms > 100 ms
    await flushMicrotasks();
    expect(log).toEqual(['late:limit']);
    expect(limiter.queued).toBe(8);
  });

  it('a long expected wait without overload (a cold start: the first samples include connecting) is queued, not shed', async () => {
    const { limiter, log, track } = setup({ expectedServiceTime: { initialMs: 30 } });
    for (let i = 0; i < 4; i++) track(`w${i}`, 'interactive', 10_000);
    track('late', 'interactive', 10_000); // 120 ms expected, but nothing says calls arrive faster than served
    await flushMicrotasks();
    expect(log).toEqual([]);
    expect(limiter.queued).toBe(5);
  });

  it('once the queue is standing, adaptive LIFO serves FIFO again: admission keeps every waiter within the target', async () => {
    const { clock, limiter, log, track, held } = setup();
    const a = track('a', 'interactive');
    clock.advance(60);
    track('b', 'interactive');
    clock.advance(60); // standing; both waited past the target
    track('c', 'interactive');
    limiter.release(held, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['a']);
    limiter.release(a.permit as LimiterPermit, 'ignore', 0);
    await flushMicrotasks();
    expect(log[1]).toBe('b');
  });

  it('lifo: true in a standing queue sheds an overtaken waiter past the target instead of starving it', async () => {
    const { clock, limiter, log, track, held } = setup({ lifo: true });
    track('a', 'interactive');
    clock.advance(60);
    track('b', 'interactive');
    clock.advance(60);
    track('c', 'interactive');
    limiter.release(held, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['a:limit', 'b:limit', 'c']);
  });

  it('drains the queue when the limit grows', async () => {
    let limit = 1;
    const algorithm = {
      get limit() {
        return limit;
      },
      onSample() {
        limit = 3;
      },
    };
    const { limiter, log, track, held } = setup({ limit: algorithm });
    track('a', 'batch');
    track('b', 'batch');
    track('c', 'batch');
    limiter.release(held, 'success', 1);
    await flushMicrotasks();
    expect(log).toEqual(['a', 'b', 'c']);
    expect(limiter.inflight).toBe(3);
  });
});

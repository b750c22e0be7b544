import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';
import type { LimiterPermit, Priority } from '../types.js';
import { aimdLimit } from './aimd-limit.js';
import { createLimiter } from './limiter.js';
import type { LimiterEvents } from './limiter-stats.js';

function settleLog(
  p: Promise<LimiterPermit>,
  log: string[],
  label: string,
): { permit?: LimiterPermit; error?: unknown } {
  const out: { permit?: LimiterPermit; error?: unknown } = {};
  p.then(
    (permit) => {
      out.permit = permit;
      log.push(label);
    },
    (error: unknown) => {
      out.error = error;
      log.push(`${label}:rejected`);
    },
  );
  return out;
}

function hold(limiter: ReturnType<typeof createLimiter>, priority: Priority, n: number): LimiterPermit[] {
  const permits: LimiterPermit[] = [];
  for (let i = 0; i < n; i++) {
    const p = limiter.tryAcquire(priority);
    if (p === undefined) throw new Error(`could not hold ${priority} #${i}`);
    permits.push(p);
  }
  return permits;
}

describe('createLimiter', () => {
  it('grants up to the limit on the fast path, then asks the caller to queue', () => {
    const limiter = createLimiter({ limit: 2, clock: new ManualClock() });
    expect(limiter.tryAcquire('interactive')).toBeDefined();
    expect(limiter.tryAcquire('background')).toBeDefined();
    expect(limiter.tryAcquire('interactive')).toBeUndefined();
    expect(limiter.inflight).toBe(2);
    expect(limiter.stats().inflightByPriority).toEqual({
      critical: 0,
      interactive: 1,
      batch: 0,
      background: 1,
    });
  });

  it('a release hands the slot to the queued waiter', async () => {
    const limiter = createLimiter({ limit: 1, clock: new ManualClock() });
    const [held] = hold(limiter, 'interactive', 1);
    const log: string[] = [];
    const w = settleLog(limiter.acquire('interactive', Number.POSITIVE_INFINITY), log, 'w');
    expect(limiter.queued).toBe(1);
    limiter.release(held as LimiterPermit, 'success', 5);
    await flushMicrotasks();
    expect(log).toEqual(['w']);
    expect(w.permit?.priority).toBe(1);
    expect(limiter.inflight).toBe(1);
    expect(limiter.queued).toBe(0);
  });

  it('ignores a second release of the same permit and counts it', () => {
    const limiter = createLimiter({ limit: 3, clock: new ManualClock() });
    const [p] = hold(limiter, 'batch', 1);
    limiter.release(p as LimiterPermit, 'success', 1);
    limiter.release(p as LimiterPermit, 'success', 1);
    expect(limiter.inflight).toBe(0);
    expect(limiter.stats().doubleReleases).toBe(1);
  });

  it('refuses a permit it did not issue', () => {
    const a = createLimiter({ limit: 3 });
    const b = createLimiter({ limit: 3 });
    const p = a.tryAcquire('batch') as LimiterPermit;
    expect(() => b.release(p, 'success', 1)).toThrow(/permit/);
    expect(() => b.release({ priority: 1, inflightAtStart: 1 }, 'success', 1)).toThrow(/permit/);
  });

  it('throws BALLAST_INVALID_ARGUMENT for an unknown priority', async () => {
    const limiter = createLimiter({ limit: 3 });
    expect(() => limiter.tryAcquire('urgent' as Priority)).toThrow(/priority/);
    await expect(limiter.acquire('urgent' as Priority, 1)).rejects.toSatisfy((e) =>
      isBallastError(e, 'BALLAST_INVALID_ARGUMENT'),
    );
  });

  it('emits limit-change when the algorithm moves the effective limit', () => {
    const limiter = createLimiter({ limit: aimdLimit({ initialLimit: 10, backoffRatio: 0.5 }) });
    const events: LimiterEvents['limit-change'][] = [];
    limiter.on('limit-change', (e) => events.push(e));
    const [p] = hold(limiter, 'interactive', 1);
    limiter.release(p as LimiterPermit, 'dropped', 5);
    expect(events).toEqual([{ name: 'limiter', from: 10, to: 5 }]);
    expect(limiter.limit).toBe(5);
  });

  it("'ignore' outcomes and invalid RTTs feed no sample", () => {
    const limiter = createLimiter({ limit: aimdLimit({ initialLimit: 10 }) });
    const [a, b] = hold(limiter, 'interactive', 2);
    limiter.release(a as LimiterPermit, 'ignore', 5);
    limiter.release(b as LimiterPermit, 'dropped', Number.NaN);
    expect(limiter.limit).toBe(10);
  });

  it('lets a lower priority borrow the whole limit when nobody else needs it', () => {
    const limiter = createLimiter({ limit: 10, clock: new ManualClock() });
    hold(limiter, 'background', 10);
    expect(limiter.tryAcquire('background')).toBeUndefined();
  });

  it('batch keeps its guaranteed share while interactive saturates', async () => {
    const limiter = createLimiter({ limit: 10, clock: new ManualClock(), codel: false });
    const held = hold(limiter, 'interactive', 10);
    const log: string[] = [];
    for (let i = 0; i < 5; i++)
      settleLog(limiter.acquire('interactive', Number.POSITIVE_INFINITY), log, `i${i}`);
    for (let i = 0; i < 3; i++) settleLog(limiter.acquire('batch', Number.POSITIVE_INFINITY), log, `b${i}`);
    for (let i = 0; i < 4; i++) limiter.release(held[i] as LimiterPermit, 'ignore', 0);
    await flushMicrotasks();
    // floor(10 × 0.2) = 2 slots for batch come first, then priority order resumes
    expect(log).toEqual(['b0', 'b1', 'i0', 'i1']);
    expect(limiter.stats().inflightByPriority.batch).toBe(2);
  });

  it('interactive gets its guaranteed slots back from a background that borrowed everything', async () => {
    const limiter = createLimiter({ limit: 10, clock: new ManualClock(), codel: false });
    const held = hold(limiter, 'background', 10);
    const log: string[] = [];
    settleLog(limiter.acquire('background', Number.POSITIVE_INFINITY), log, 'bg');
    settleLog(limiter.acquire('interactive', Number.POSITIVE_INFINITY), log, 'int');
    limiter.release(held[0] as LimiterPermit, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['int']);
  });

  it('critical jumps every queue', async () => {
    const limiter = createLimiter({ limit: 1, clock: new ManualClock(), codel: false });
    const [held] = hold(limiter, 'background', 1);
    const log: string[] = [];
    settleLog(limiter.acquire('interactive', Number.POSITIVE_INFINITY), log, 'int');
    settleLog(limiter.acquire('critical', Number.POSITIVE_INFINITY), log, 'crit');
    limiter.release(held as LimiterPermit, 'ignore', 0);
    await flushMicrotasks();
    expect(log).toEqual(['crit']);
  });

  it('critical takes any free slot, even the one a waiting priority is guaranteed', () => {
    const limiter = createLimiter({ limit: 2, clock: new ManualClock() });
    hold(limiter, 'background', 1);
    expect(limiter.tryAcquire('critical')).toBeDefined();
    expect(limiter.tryAcquire('critical')).toBeUndefined();
  });

  it('criticalOverdraft lets critical hold that many permits above the limit, and nobody else', () => {
    const limiter = createLimiter({ limit: 2, criticalOverdraft: 1, clock: new ManualClock() });
    hold(limiter, 'interactive', 2);
    expect(limiter.tryAcquire('interactive')).toBeUndefined();
    expect(limiter.tryAcquire('critical')).toBeDefined();
    expect(limiter.tryAcquire('critical')).toBeUndefined();
    expect(limiter.inflight).toBe(3);
  });

  it('emits shed with the priority and reason', async () => {
    const limiter = createLimiter({ name: 'pg', limit: 1, maxQueue: 0, clock: new ManualClock() });
    const events: LimiterEvents['shed'][] = [];
    limiter.on('shed', (e) => events.push(e));
    hold(limiter, 'batch', 1);
    const error = await limiter.acquire('batch', Number.POSITIVE_INFINITY).catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_SHED')).toBe(true);
    expect((error as { reason: string; source: string }).reason).toBe('queue-full');
    expect((error as { source: string }).source).toBe('pg');
    expect(events).toEqual([{ name: 'pg', priority: 'batch', reason: 'queue-full' }]);
    expect(limiter.stats().shed['queue-full'].batch).toBe(1);
    expect(limiter.stats().shedTotal).toBe(1);
  });
});

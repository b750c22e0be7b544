import { describe, expect, it } from 'vitest';
import { gradient2Limit } from './gradient2-limit.js';

function feed(algo: ReturnType<typeof gradient2Limit>, n: number, rttMs: number, inflight?: number): void {
  for (let i = 0; i < n; i++) algo.onSample(rttMs, inflight ?? Math.ceil(algo.limit), false);
}

describe('gradient2Limit', () => {
  it('starts at 20 and grows to maxLimit while RTT is steady and the limit is in use', () => {
    const algo = gradient2Limit();
    expect(algo.limit).toBe(20);
    feed(algo, 400, 10);
    expect(algo.limit).toBe(200);
  });

  it('shrinks the limit when RTT doubles', () => {
    const algo = gradient2Limit();
    feed(algo, 400, 10);
    feed(algo, 20, 20);
    expect(algo.limit).toBeLessThan(120);
  });

  it('tolerates RTT up to 1.5x the long RTT without shrinking', () => {
    const algo = gradient2Limit({ initialLimit: 50 });
    feed(algo, 50, 10);
    const before = algo.limit;
    feed(algo, 5, 14);
    expect(algo.limit).toBeGreaterThanOrEqual(before);
  });

  it('no growth while app-limited (in-flight below half the limit)', () => {
    const algo = gradient2Limit();
    feed(algo, 200, 10, 9);
    expect(algo.limit).toBe(20);
  });

  it('never cuts more than half of the estimate in one sample', () => {
    const algo = gradient2Limit({ initialLimit: 100 });
    feed(algo, 20, 10);
    const before = algo.limit;
    algo.onSample(10_000, Math.ceil(before), false);
    // smoothing 0.2 of a gradient clamped at 0.5: at most a 10 % step down (plus queue allowance)
    expect(algo.limit).toBeGreaterThanOrEqual(before * 0.9);
  });

  it('decays the long RTT toward the short RTT after a latency shift, then grows again', () => {
    const algo = gradient2Limit({ maxLimit: 1000 });
    feed(algo, 700, 100);
    expect(algo.longRttMs).toBeGreaterThan(90);
    feed(algo, 60, 10);
    expect(algo.longRttMs).toBeLessThanOrEqual(20.5);
    const after = algo.limit;
    feed(algo, 20, 10);
    expect(algo.limit).toBeGreaterThan(after);
  });

  it('stays within minLimit and maxLimit', () => {
    const algo = gradient2Limit({ initialLimit: 5, minLimit: 4, maxLimit: 8 });
    feed(algo, 100, 10);
    expect(algo.limit).toBe(8);
    for (let i = 0; i < 200; i++) algo.onSample(10 * 2 ** Math.min(i, 30), 8, false);
    expect(algo.limit).toBeGreaterThanOrEqual(4);
  });

  it('ignores drops and non-positive RTTs', () => {
    const algo = gradient2Limit();
    algo.onSample(0, 20, true);
    algo.onSample(Number.NaN, 20, true);
    expect(algo.longRttMs).toBe(0);
    expect(algo.limit).toBe(20);
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
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

  it('ignores drops, negative and NaN RTTs', () => {
    const algo = gradient2Limit();
    algo.onSample(-1, 20, true);
    algo.onSample(Number.NaN, 20, true);
    expect(algo.longRttMs).toBe(0);
    expect(algo.limit).toBe(20);
  });

  it('a zero RTT (finished within its turn) grows a limit in use but stays out of the averages', () => {
    const algo = gradient2Limit();
    for (let i = 0; i < 100; i++) algo.onSample(0, 20, false);
    expect(algo.longRttMs).toBe(0);
    expect(algo.limit).toBeGreaterThan(40);
    const idle = gradient2Limit();
    idle.onSample(0, 2, false); // app-limited: no growth
    expect(idle.limit).toBe(20);
  });
});

/**
 * A server whose knee is `knee` in flight: RTT = base × inflight / knee beyond it (as benchmarks' SimServer).
 * With a clock, time passes as it would: a full pipeline completes one call every RTT / inflight.
 */
function saturate(
  algo: ReturnType<typeof gradient2Limit>,
  n: number,
  baseMs: number,
  knee = 10,
  clock?: ManualClock,
): number[] {
  const limits: number[] = [];
  for (let i = 0; i < n; i++) {
    const inflight = Math.max(1, Math.floor(algo.limit)); // the limiter is always full under overload
    const rtt = baseMs * Math.max(1, inflight / knee);
    clock?.advance(rtt / inflight);
    algo.onSample(rtt, inflight, false);
    limits.push(algo.limit);
  }
  return limits;
}

describe('gradient2Limit drift guard', () => {
  it('does not drift above the knee under sustained proportional slowdown', () => {
    const clock = new ManualClock();
    const algo = gradient2Limit({ clock });
    const limits = saturate(algo, 50_000, 10, 10, clock);
    // it settles where RTT ≈ tolerance × no-load RTT plus the queue allowance (1.5 × 10 + 4 ≈ 19; the integer
    // in-flight makes it step around that), and stays there: no growth between the 5th and the 50th thousand
    const late = limits.slice(5_000);
    expect(Math.max(...late)).toBeLessThan(23);
    expect(Math.max(...limits.slice(45_000))).toBeLessThanOrEqual(Math.max(...limits.slice(5_000, 10_000)));
    expect(algo.noLoadRttMs).toBeCloseTo(10, 0);
  });

  it("Netflix's plain Gradient2 (probeInterval: Infinity) drifts to maxLimit under the same load", () => {
    const algo = gradient2Limit({ probeInterval: Number.POSITIVE_INFINITY });
    saturate(algo, 50_000, 10);
    expect(algo.limit).toBeGreaterThan(100);
    expect(algo.noLoadRttMs).toBeNaN();
  });

  it('the no-load RTT rises at the next probe when the dependency truly got slower', () => {
    const clock = new ManualClock();
    const algo = gradient2Limit({ probeInterval: 1_000, clock });
    saturate(algo, 5_000, 10, 10, clock);
    saturate(algo, 3_000, 30, 10, clock);
    expect(algo.noLoadRttMs).toBeGreaterThan(25);
    const limits = saturate(algo, 5_000, 30, 10, clock);
    expect(Math.min(...limits.slice(-1_000))).toBeGreaterThanOrEqual(9);
    expect(Math.max(...limits)).toBeLessThanOrEqual(21);
  });

  it('a probe halves the limit until calls started at that concurrency have completed, then restores it', () => {
    const algo = gradient2Limit({ initialLimit: 40, maxLimit: 40, probeInterval: 20, probeMinIntervalMs: 0 });
    feed(algo, 29, 10); // 10 warm-up samples, then the 20th sample since starts a probe
    expect(algo.limit).toBe(20);
    algo.onSample(10, 40, false); // a call that started before the probe does not count
    for (let i = 0; i < 39; i++) algo.onSample(12, 20, false);
    expect(algo.limit).toBe(20);
    algo.onSample(12, 20, false);
    expect(algo.limit).toBe(40);
    expect(algo.noLoadRttMs).toBe(12);
  });

  it('probes at most once per probeMinIntervalMs, however many samples pass (high throughput)', () => {
    const clock = new ManualClock();
    const algo = gradient2Limit({ initialLimit: 40, maxLimit: 40, probeInterval: 20, clock });
    const halvings = () => {
      let n = 0;
      for (let i = 0; i < 2_000; i++) {
        const before = algo.limit;
        algo.onSample(10, Math.ceil(algo.limit), false);
        if (algo.limit <= before / 2 + 1e-9) n++;
      }
      return n;
    };
    // 2,000 samples at one clock instant: 100 intervals of 20 samples, but one probe (the first).
    expect(halvings()).toBe(1);
    expect(halvings()).toBe(0);
    clock.advance(1_000);
    expect(halvings()).toBe(1);
    // With probeMinIntervalMs: 0 every interval probes again.
    const eager = gradient2Limit({
      initialLimit: 40,
      maxLimit: 40,
      probeInterval: 20,
      probeMinIntervalMs: 0,
      clock,
    });
    let n = 0;
    for (let i = 0; i < 2_000; i++) {
      const before = eager.limit;
      eager.onSample(10, Math.ceil(eager.limit), false);
      if (eager.limit <= before / 2 + 1e-9) n++;
    }
    expect(n).toBeGreaterThan(10);
  });

  it('rejects an invalid probeInterval, probeMinIntervalMs or clock', () => {
    expect(() => gradient2Limit({ probeMinIntervalMs: -1 })).toThrow(/gradient2\.probeMinIntervalMs/);
    expect(() => gradient2Limit({ clock: {} as ManualClock })).toThrow(/gradient2\.clock/);
    expect(() => gradient2Limit({ probeInterval: 0 })).toThrow(/gradient2\.probeInterval/);
    expect(() => gradient2Limit({ probeInterval: 1.5 })).toThrow(/gradient2\.probeInterval/);
  });
});

describe('gradient2Limit toleranceMs and windowMs', () => {
  it('toleranceMs: sub-millisecond RTT growing with load keeps the limit growing; without it the limit shrinks', () => {
    // A loopback server sharing the client's CPU: 0.3 ms alone, RTT rising with the calls in flight.
    // No probe within these 600 samples: the reference is the warm-up's no-load RTT, 0.3 ms.
    const run = (toleranceMs: number) => {
      const algo = gradient2Limit({ initialLimit: 20, maxLimit: 32, toleranceMs });
      feed(algo, 10, 0.3);
      for (let i = 0; i < 600; i++) algo.onSample(0.05 * Math.ceil(algo.limit), Math.ceil(algo.limit), false);
      return algo.limit;
    };
    expect(run(2)).toBe(32);
    // (1.5 × 0.3 ms) / (0.05 ms × L) = 9 / L: the limit settles where 9 + queueSize = L.
    expect(run(0)).toBeLessThan(15);
  });

  it('toleranceMs does not hide a brownout: RTT tens of ms above the reference still shrinks the limit', () => {
    const algo = gradient2Limit({ initialLimit: 32, maxLimit: 32, toleranceMs: 2 });
    feed(algo, 20, 0.5);
    feed(algo, 30, 50);
    expect(algo.limit).toBeLessThan(10);
  });

  it('windowMs: a burst of late samples (an event-loop stall) inside one window barely moves the limit', () => {
    const clock = new ManualClock();
    // No drift-guard probe here: it halves the limit on purpose.
    const make = (windowMs: number) =>
      gradient2Limit({ initialLimit: 32, maxLimit: 32, windowMs, probeInterval: Infinity, clock });
    const windowed = make(100);
    const perSample = make(0);
    const lowest = [32, 32];
    for (const algo of [windowed, perSample]) feed(algo, 10, 1);
    // 100 ms of 1 ms calls, 32 in flight, in which one stall made 32 calls come back 10 ms late.
    for (let ms = 0; ms <= 100; ms++) {
      [windowed, perSample].forEach((algo, k) => {
        for (let i = 0; i < 32; i++) {
          algo.onSample(ms === 50 ? 11 : 1, 32, false);
          lowest[k] = Math.min(lowest[k] as number, algo.limit);
        }
      });
      clock.advance(1);
    }
    expect(lowest[0]).toBe(32);
    expect(lowest[1]).toBeLessThan(16);
  });

  it('windowMs: the limit moves once per window, on the mean RTT at the window peak concurrency', () => {
    const clock = new ManualClock();
    const algo = gradient2Limit({
      initialLimit: 40,
      maxLimit: 100,
      windowMs: 100,
      clock,
    });
    feed(algo, 10, 10);
    const before = algo.limit;
    feed(algo, 500, 40); // 4x the RTT, but the window is still open
    expect(algo.limit).toBe(before);
    clock.advance(100);
    algo.onSample(40, 40, false);
    expect(algo.limit).toBeLessThan(before);
    expect(algo.limit).toBeGreaterThanOrEqual(before * 0.9); // one smoothed step, not 500
  });

  it('rejects an invalid toleranceMs, windowMs or windowSize', () => {
    expect(() => gradient2Limit({ toleranceMs: -1 })).toThrow(/gradient2\.toleranceMs/);
    expect(() => gradient2Limit({ windowMs: Number.NaN })).toThrow(/gradient2\.windowMs/);
    expect(() => gradient2Limit({ windowSize: 0 })).toThrow(/gradient2\.windowSize/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLatencyTracker } from './latency-tracker.js';
import { BUCKET_COUNT, bucketIndex, bucketUpperMicros, MAX_MICROS } from './log-linear.js';

describe('log-linear buckets', () => {
  it('every value lies in its bucket, whose width is at most 1/32 of its values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_MICROS }), (micros) => {
        const i = bucketIndex(micros);
        expect(i).toBeGreaterThanOrEqual(0);
        expect(i).toBeLessThan(BUCKET_COUNT);
        const lower = i === 0 ? 0 : bucketUpperMicros(i - 1);
        const upper = bucketUpperMicros(i);
        expect(micros).toBeGreaterThanOrEqual(lower);
        expect(micros).toBeLessThan(upper);
        if (micros >= 64) expect((upper - lower) / lower).toBeLessThanOrEqual(1 / 32);
      }),
    );
  });
});

describe('latency tracker', () => {
  it('an empty window has no quantile', () => {
    const tracker = createLatencyTracker();
    expect(tracker.quantile(0.95, 0)).toBeNaN();
    expect(tracker.count(0)).toBe(0);
  });

  it('reports the p95 of a uniform spread within 3 %', () => {
    const tracker = createLatencyTracker();
    for (let ms = 1; ms <= 100; ms++) tracker.record(ms, 0);
    expect(tracker.quantile(0.95, 0)).toBeGreaterThanOrEqual(95);
    expect(tracker.quantile(0.95, 0)).toBeLessThanOrEqual(95 * 1.032);
    expect(tracker.quantile(0.5, 0)).toBeCloseTo(50, -0.5);
    expect(tracker.quantile(1, 0)).toBe(100);
  });

  it('a constant latency is reported exactly (clamped to the observed min and max)', () => {
    const tracker = createLatencyTracker();
    for (let i = 0; i < 50; i++) tracker.record(10, i);
    expect(tracker.quantile(0.95, 50)).toBe(10);
    expect(tracker.quantile(0.01, 50)).toBe(10);
  });

  it('samples leave the window slice by slice', () => {
    const tracker = createLatencyTracker({ windowMs: 1_000, slices: 4 });
    for (let i = 0; i < 10; i++) tracker.record(500, 0);
    for (let i = 0; i < 10; i++) tracker.record(5, 600);
    expect(tracker.count(999)).toBe(20);
    expect(tracker.quantile(0.95, 999)).toBe(500);
    // The slice [0, 250) expires at 1000: only the fast samples remain.
    expect(tracker.count(1_000)).toBe(10);
    expect(tracker.quantile(0.95, 1_000)).toBe(5);
    expect(tracker.count(1_750)).toBe(0);
  });

  it('ignores NaN, counts negatives as 0 and clamps huge values', () => {
    const tracker = createLatencyTracker();
    tracker.record(Number.NaN, 0);
    tracker.record(-4, 0);
    tracker.record(1e12, 0);
    expect(tracker.count(0)).toBe(2);
    expect(tracker.quantile(0.5, 0)).toBeLessThanOrEqual(0.001);
    expect(tracker.quantile(1, 0)).toBe(MAX_MICROS / 1000);
  });

  it('quantiles stay within 1/32 of the exact order statistic over the window', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ms: fc.double({ min: 0, max: 60_000, noNaN: true }),
            gap: fc.integer({ min: 0, max: 400 }),
          }),
          { minLength: 1, maxLength: 300 },
        ),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (samples, q) => {
          const windowMs = 2_000;
          const slices = 4;
          const sliceMs = windowMs / slices;
          const tracker = createLatencyTracker({ windowMs, slices });
          const log: Array<{ at: number; ms: number }> = [];
          let now = 0;
          for (const s of samples) {
            now += s.gap;
            tracker.record(s.ms, now);
            log.push({ at: now, ms: Math.round(s.ms * 1000) / 1000 });
          }
          const first = Math.floor(now / sliceMs) - slices + 1;
          const live = log
            .filter((e) => Math.floor(e.at / sliceMs) >= first)
            .map((e) => e.ms)
            .sort((a, b) => a - b);
          expect(tracker.count(now)).toBe(live.length);
          const exact = live[Math.max(1, Math.ceil(q * live.length)) - 1] as number;
          const got = tracker.quantile(q, now);
          expect(got).toBeGreaterThanOrEqual(exact - 0.001);
          expect(got).toBeLessThanOrEqual(Math.max(exact * (1 + 1 / 32), exact + 0.002));
        },
      ),
      { numRuns: 300 },
    );
  });
});

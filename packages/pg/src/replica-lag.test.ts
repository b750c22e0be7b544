import { isBallastError } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplicaLag } from './replica-lag.js';

function history(samples: Array<[number, bigint]>, maxSamples?: number): ReplicaLag {
  const h = new ReplicaLag(maxSamples === undefined ? {} : { maxSamples });
  for (const [at, lsn] of samples) h.record(lsn, at);
  return h;
}

describe('ReplicaLag.lagMs', () => {
  const h = history([
    [1000, 100n],
    [2000, 200n],
    [3000, 400n],
  ]);

  it('is 0 for a replica at or past the latest sample', () => {
    expect(h.lagMs(400n, 3500)).toBe(0);
    expect(h.lagMs(10_000n, 3500)).toBe(0);
  });

  it('is the time since the primary was at the replica position, interpolated between samples', () => {
    expect(h.lagMs(200n, 3500)).toBe(1500); // exactly a sample
    expect(h.lagMs(300n, 3500)).toBe(1000); // half-way from 2000 to 3000
    expect(h.lagMs(150n, 3000)).toBe(1500);
    expect(h.lagMs(100n, 3000)).toBe(2000);
  });

  it('is Infinity below every sample: older than the history can tell', () => {
    expect(h.lagMs(99n, 3000)).toBe(Number.POSITIVE_INFINITY);
    expect(h.lagMs(0n, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });

  it('is 0 with no samples, and never negative when now is before a sample', () => {
    expect(new ReplicaLag().lagMs(0n, 0)).toBe(0);
    expect(h.lagMs(300n, 0)).toBe(0);
  });

  it('handles positions far apart without losing order', () => {
    const far = history([
      [0, 0n],
      [1000, 1n << 62n],
    ]);
    expect(far.lagMs(1n << 61n, 1000)).toBe(500);
  });
});

describe('ReplicaLag.record', () => {
  it('keeps only the first and the latest sample while the primary is idle', () => {
    const h = history([
      [0, 100n],
      [1000, 200n],
      [2000, 200n],
      [3000, 200n],
      [4000, 200n],
      [5000, 300n],
    ]);
    expect(h.size).toBe(4);
    // The primary was at 200 until 4000 (the latest idle sample), so a replica at 200 lags from then.
    expect(h.lagMs(200n, 5000)).toBe(1000);
    expect(h.lagMs(150n, 5000)).toBe(4500);
  });

  it('drops the oldest samples past maxSamples', () => {
    const h = history(
      Array.from({ length: 10 }, (_, i): [number, bigint] => [i * 1000, BigInt(i * 100)]),
      4,
    );
    expect(h.size).toBe(4);
    expect(h.lagMs(600n, 9000)).toBe(3000);
    expect(h.lagMs(550n, 9000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('starts over when the primary position goes back (a new primary)', () => {
    const h = history([
      [0, 100n],
      [1000, 500n],
      [2000, 300n],
    ]);
    expect(h.size).toBe(1);
    expect(h.lagMs(300n, 2000)).toBe(0);
    expect(h.lagMs(200n, 2000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('ignores a sample older than the latest', () => {
    const h = history([
      [1000, 100n],
      [500, 200n],
    ]);
    expect(h.size).toBe(1);
    h.clear();
    expect(h.size).toBe(0);
  });

  it('refuses a history of fewer than 2 samples', () => {
    expect(() => new ReplicaLag({ maxSamples: 1 })).toThrow(/maxSamples.*received 1/);
    try {
      new ReplicaLag({ maxSamples: 1.5 });
    } catch (error) {
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    }
  });
});

describe('ReplicaLag properties', () => {
  // A primary that writes at a varying rate, sampled at increasing times.
  const samples = fc
    .array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.bigInt({ min: 0n, max: 1n << 40n })), {
      minLength: 1,
      maxLength: 100,
    })
    .map((steps) => {
      let at = 0;
      let lsn = 0n;
      return steps.map(([dt, dl]): [number, bigint] => {
        at += dt;
        lsn += dl;
        return [at, lsn];
      });
    });

  it('lag lies within the bounds the samples give, and grows as the replica falls behind', () => {
    fc.assert(
      fc.property(
        samples,
        fc.bigInt({ min: 0n, max: 1n << 46n }),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        (s, x, d) => {
          const h = history(s, 128);
          const now = (s[s.length - 1] as [number, bigint])[0] + 100;
          const lag = h.lagMs(x, now);
          // A shorter history only loses the upper bound: its answer is never below the lag the samples prove.
          const short = history(s, 8).lagMs(x, now);
          expect(short).toBeGreaterThanOrEqual(lag - 1e-6);
          expect(lag).toBeGreaterThanOrEqual(0);
          expect(Number.isNaN(lag)).toBe(false);
          const firstAbove = s.find(([, l]) => l > x);
          const lastAtOrBelow = s.findLast(([, l]) => l <= x);
          if (firstAbove === undefined) expect(lag).toBe(0);
          else if (lastAtOrBelow === undefined) expect(lag).toBe(Number.POSITIVE_INFINITY);
          else {
            expect(lag).toBeGreaterThanOrEqual(now - firstAbove[0] - 1e-6);
            expect(lag).toBeLessThanOrEqual(now - lastAtOrBelow[0] + 1e-6);
          }
          // Monotonic: a replica further behind never has a smaller lag.
          expect(h.lagMs(x > d ? x - d : 0n, now)).toBeGreaterThanOrEqual(lag - 1e-6);
        },
      ),
    );
  });
});

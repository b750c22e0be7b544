import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decorrelatedJitter } from './decorrelated-jitter.js';

describe('decorrelated jitter', () => {
  it('the first retry draws from [base, 3 × base)', () => {
    expect(decorrelatedJitter(0, 25, 1_000, () => 0)).toBe(25);
    expect(decorrelatedJitter(0, 25, 1_000, () => 0.5)).toBe(50);
    expect(decorrelatedJitter(0, 25, 1_000, () => 0.999)).toBeCloseTo(74.95);
  });

  it('later retries draw from [base, 3 × previous), capped', () => {
    expect(decorrelatedJitter(100, 25, 1_000, () => 0.5)).toBe(162.5);
    expect(decorrelatedJitter(900, 25, 1_000, () => 0.9)).toBe(1_000);
  });

  it('a broken random source still yields a delay within [base, cap]', () => {
    expect(decorrelatedJitter(100, 25, 1_000, () => Number.NaN)).toBe(25);
    expect(decorrelatedJitter(100, 25, 1_000, () => -5)).toBe(25);
    expect(decorrelatedJitter(100, 25, 1_000, () => 50)).toBe(1_000);
  });

  it('decorrelated delays stay within [base, cap]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 30,
        }),
        (base, extra, draws) => {
          const cap = base + extra;
          let previous = 0;
          for (const r of draws) {
            const delay = decorrelatedJitter(previous, base, cap, () => r);
            expect(delay).toBeGreaterThanOrEqual(base);
            expect(delay).toBeLessThanOrEqual(cap);
            previous = delay;
          }
        },
      ),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { isWorse, quickFailures, verdictFor } from './compare.js';
import { clientSummary } from './fixtures.test-helpers.js';

describe('isWorse', () => {
  it('is below 0.9 × the other minus 1 req/s', () => {
    expect(isWorse(21.4, 25)).toBe(true); // 0.9 × 25 − 1 = 21.5
    expect(isWorse(21.6, 25)).toBe(false);
    expect(isWorse(0, 1)).toBe(false); // both near zero: noise
  });
});

describe('verdictFor', () => {
  it('is worse when Ballast chat goodput falls below the margin', () => {
    const v = verdictFor('burst 5×', clientSummary(10, 12), clientSummary(20, 12));
    expect(v.outcome).toBe('worse');
    expect(v.reasons).toEqual(['chat goodput 10.0 vs 20.0 req/s']);
  });

  it('is worse when the read goodput falls below the margin', () => {
    expect(verdictFor('primary outage', clientSummary(0, 5), clientSummary(0, 12)).outcome).toBe('worse');
  });

  it('is worse on any Ballast stale session read, even with better goodput', () => {
    const v = verdictFor('replica lag', clientSummary(25, 12, 1), clientSummary(5, 12, 40));
    expect(v.outcome).toBe('worse');
    expect(v.reasons).toContain('stale session reads 1 vs 40');
  });

  it('is better when naive falls below the margin or reads stale', () => {
    expect(verdictFor('redis outage', clientSummary(24, 12), clientSummary(0, 12)).outcome).toBe('better');
    const lag = verdictFor('replica lag', clientSummary(25, 12), clientSummary(25, 12, 30));
    expect(lag).toEqual({
      phase: 'replica lag',
      outcome: 'better',
      reasons: ['stale session reads 0 vs 30'],
    });
  });

  it('is equal within the margin', () => {
    expect(verdictFor('steady', clientSummary(24.5, 12.5), clientSummary(25, 12.4)).outcome).toBe('equal');
  });
});

describe('quickFailures', () => {
  it('names every phase where Ballast is worse, with the numbers', () => {
    const verdicts = [
      verdictFor('steady', clientSummary(25, 12), clientSummary(25, 12)),
      verdictFor('burst 5×', clientSummary(10, 12), clientSummary(20, 12)),
    ];
    expect(quickFailures(verdicts)).toEqual(['burst 5×: Ballast worse — chat goodput 10.0 vs 20.0 req/s']);
    expect(quickFailures(verdicts.slice(0, 1))).toEqual([]);
  });

  it('fails on a Ballast instance that exited on its own, whatever the numbers', () => {
    const verdicts = [verdictFor('steady', clientSummary(25, 12), clientSummary(25, 12))];
    const crash = { instance: 'ballast-a', phase: 'burst 5×', what: 'exited with code 1: BallastError' };
    expect(quickFailures(verdicts, [crash])).toEqual([
      'burst 5×: ballast-a exited with code 1: BallastError',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { aimdLimit } from './aimd-limit.js';

describe('aimdLimit', () => {
  it('adds one per sample while at least half the limit is in use', () => {
    const algo = aimdLimit({ initialLimit: 10 });
    algo.onSample(5, 5, false);
    expect(algo.limit).toBe(11);
  });

  it('does not grow while app-limited', () => {
    const algo = aimdLimit({ initialLimit: 10 });
    algo.onSample(5, 4, false);
    expect(algo.limit).toBe(10);
  });

  it('backs off by 0.9 on a drop by default', () => {
    const algo = aimdLimit();
    algo.onSample(5, 20, true);
    expect(algo.limit).toBe(18);
  });

  it('aimd halves the limit on a drop with backoffRatio 0.5', () => {
    const algo = aimdLimit({ backoffRatio: 0.5 });
    algo.onSample(5, 20, true);
    expect(algo.limit).toBe(10);
  });

  it('treats an RTT above timeoutMs as a drop', () => {
    const algo = aimdLimit({ timeoutMs: 100 });
    algo.onSample(150, 20, false);
    expect(algo.limit).toBe(18);
  });

  it('stays within minLimit and maxLimit', () => {
    const algo = aimdLimit({ initialLimit: 3, minLimit: 2, maxLimit: 4 });
    for (let i = 0; i < 5; i++) algo.onSample(1, 4, false);
    expect(algo.limit).toBe(4);
    for (let i = 0; i < 5; i++) algo.onSample(1, 4, true);
    expect(algo.limit).toBe(2);
  });
});

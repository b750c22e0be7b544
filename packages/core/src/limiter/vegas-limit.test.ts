import { describe, expect, it } from 'vitest';
import { vegasLimit } from './vegas-limit.js';

// random 0.99 puts the no-load RTT re-probe ~600 samples away
const noProbe = { random: () => 0.99 };

describe('vegasLimit', () => {
  it('grows by beta while the estimated queue is below log10(limit)', () => {
    const algo = vegasLimit(noProbe);
    algo.onSample(10, 20, false); // learns the no-load RTT
    algo.onSample(10, 20, false);
    expect(algo.limit).toBe(26);
  });

  it('shrinks by log10(limit) when the estimated queue exceeds beta', () => {
    const algo = vegasLimit(noProbe);
    algo.onSample(10, 20, false);
    algo.onSample(20, 20, false); // queue = ceil(20 × (1 − 10/20)) = 10 > 6
    expect(algo.limit).toBe(19);
  });

  it('holds while the estimated queue is between alpha and beta', () => {
    const algo = vegasLimit(noProbe);
    algo.onSample(10, 20, false);
    algo.onSample(13, 20, false); // queue = ceil(20 × 0.23) = 5, in [3, 6]
    expect(algo.limit).toBe(20);
  });

  it('shrinks on a drop', () => {
    const algo = vegasLimit(noProbe);
    algo.onSample(10, 20, false);
    algo.onSample(10, 20, true);
    expect(algo.limit).toBe(19);
  });

  it('does not grow while app-limited', () => {
    const algo = vegasLimit(noProbe);
    algo.onSample(10, 20, false);
    algo.onSample(10, 5, false);
    expect(algo.limit).toBe(20);
  });

  it('re-probes the no-load RTT so it can rise after a shift', () => {
    const algo = vegasLimit({ random: () => 0, probeMultiplier: 1, initialLimit: 4, maxLimit: 4 });
    algo.onSample(10, 4, false);
    for (let i = 0; i < 4; i++) algo.onSample(40, 4, false);
    // after the probe, 40 ms is the new no-load RTT: no queue, so the limit is back at its max
    algo.onSample(40, 4, false);
    expect(algo.limit).toBe(4);
  });
});

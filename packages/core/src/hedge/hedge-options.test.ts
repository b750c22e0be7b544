import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { createRetryBudget } from '../retry/retry-budget.js';
import { type HedgeOptions, resolveHedgeOptions } from './hedge-options.js';
import { createLatencyTracker } from './latency-tracker.js';

describe('hedge options', () => {
  it('defaults: p95, 20 samples, 1 ms floor, one hedge, a new budget', () => {
    const o = resolveHedgeOptions();
    expect(o).toMatchObject({
      name: 'hedge',
      fixedDelayMs: undefined,
      quantile: 0.95,
      minSamples: 20,
      minDelayMs: 1,
      maxHedges: 1,
    });
    expect(o.budget).toBeDefined();
  });

  it('accepts a fixed delay, other quantiles, a shared budget and tracker', () => {
    const budget = createRetryBudget();
    const tracker = createLatencyTracker();
    expect(resolveHedgeOptions({ delayMs: 0 }).fixedDelayMs).toBe(0);
    expect(resolveHedgeOptions({ delayMs: 'p99' }).quantile).toBe(0.99);
    const o = resolveHedgeOptions({ budget, tracker, maxHedges: 0 });
    expect(o.budget).toBe(budget);
    expect(o.tracker).toBe(tracker);
    expect(resolveHedgeOptions({ budget: false }).budget).toBeUndefined();
    expect(resolveHedgeOptions({ budget: undefined }).budget).toBeDefined();
  });

  const invalid: Array<[string, unknown, string]> = [
    ['hedge', 'p95', 'hedge'],
    ['name', '', 'hedge.name'],
    ['delayMs', -1, 'hedge.delayMs'],
    ['delayMs', 'p42', 'hedge.delayMs'],
    ['delayMs', 'toString', 'hedge.delayMs'],
    ['delayMs', true, 'hedge.delayMs'],
    ['minSamples', 0, 'hedge.minSamples'],
    ['minSamples', 1.5, 'hedge.minSamples'],
    ['minDelayMs', -1, 'hedge.minDelayMs'],
    ['maxHedges', -1, 'hedge.maxHedges'],
    ['maxHedges', 17, 'hedge.maxHedges'],
    ['budget', 3, 'hedge.budget'],
    ['budget', { ratio: Number.NaN }, 'hedge.budget.ratio'],
    ['tracker', { windowMs: 0 }, 'hedge.tracker.windowMs'],
    ['tracker', { slices: 0 }, 'hedge.tracker.slices'],
  ];

  it.each(invalid)('rejects %s = %o, naming %s', (field, value, named) => {
    const options = (field === 'hedge' ? value : { [field]: value }) as HedgeOptions;
    let thrown: unknown;
    try {
      resolveHedgeOptions(options);
    } catch (error) {
      thrown = error;
    }
    expect(isBallastError(thrown, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect((thrown as Error).message).toContain(`option ${named}:`);
  });
});

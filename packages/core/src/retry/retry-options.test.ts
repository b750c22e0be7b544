import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { createRetryBudget } from './retry-budget.js';
import { DEFAULT_RETRY, type RetryOptions, resolveRetryOptions } from './retry-options.js';

describe('retry options', () => {
  it('defaults: 3 attempts, 25–1000 ms jitter, a new 20 % budget', () => {
    const o = resolveRetryOptions();
    expect(o).toMatchObject({ name: 'retry', maxAttempts: 3, baseDelayMs: 25, maxDelayMs: 1_000 });
    expect(o.random).toBe(Math.random);
    expect(o.budget?.options).toEqual({ ratio: 0.2, minRetriesPerSec: 10, windowMs: 10_000, buckets: 10 });
    expect(Object.isFrozen(DEFAULT_RETRY)).toBe(true);
  });

  it('0 is a value, not a missing option', () => {
    expect(resolveRetryOptions({ baseDelayMs: 0, maxDelayMs: 0 })).toMatchObject({
      baseDelayMs: 0,
      maxDelayMs: 0,
    });
  });

  it('a budget instance is used as is; budget options build a new one', () => {
    const budget = createRetryBudget();
    expect(resolveRetryOptions({ budget }).budget).toBe(budget);
    expect(resolveRetryOptions({ budget: { ratio: 0.5 } }).budget?.options.ratio).toBe(0.5);
    expect(resolveRetryOptions({ budget: false }).budget).toBeUndefined();
  });

  const invalid: Array<[string, unknown, string]> = [
    ['retry', null, 'retry'],
    ['retry', [], 'retry'],
    ['name', '', 'retry.name'],
    ['name', 42, 'retry.name'],
    ['clock', {}, 'retry.clock'],
    ['maxAttempts', 0, 'retry.maxAttempts'],
    ['maxAttempts', 2.5, 'retry.maxAttempts'],
    ['maxAttempts', '3', 'retry.maxAttempts'],
    ['maxAttempts', Number.NaN, 'retry.maxAttempts'],
    ['baseDelayMs', -1, 'retry.baseDelayMs'],
    ['baseDelayMs', Number.POSITIVE_INFINITY, 'retry.baseDelayMs'],
    ['maxDelayMs', 10, 'retry.maxDelayMs'], // below the default base of 25
    ['random', 0.5, 'retry.random'],
    ['isRetryable', true, 'retry.isRetryable'],
    ['notExecuted', 'yes', 'retry.notExecuted'],
    ['budget', 'none', 'retry.budget'],
    ['budget', { ratio: -0.1 }, 'retry.budget.ratio'],
    ['budget', { minRetriesPerSec: -1 }, 'retry.budget.minRetriesPerSec'],
    ['budget', { windowMs: 0 }, 'retry.budget.windowMs'],
    ['budget', { buckets: 0 }, 'retry.budget.buckets'],
    ['budget', { buckets: 1.5 }, 'retry.budget.buckets'],
  ];

  it.each(invalid)('rejects %s = %o, naming %s', (field, value, named) => {
    const options = (field === 'retry' ? value : { [field]: value }) as RetryOptions;
    let thrown: unknown;
    try {
      resolveRetryOptions(options);
    } catch (error) {
      thrown = error;
    }
    expect(isBallastError(thrown, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect((thrown as Error).message).toContain(`option ${named}:`);
  });

  it('the message names the value received', () => {
    expect(() => resolveRetryOptions({ maxAttempts: 0 })).toThrow(
      'Invalid option retry.maxAttempts: expected an integer in [1, 1000], received 0',
    );
  });
});

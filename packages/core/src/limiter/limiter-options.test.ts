import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { aimdLimit } from './aimd-limit.js';
import { gradient2Limit } from './gradient2-limit.js';
import { createLimiter } from './limiter.js';
import type { LimiterOptions } from './limiter-options.js';
import { DEFAULT_LIMITER, resolveLimiterOptions } from './limiter-options.js';
import { vegasLimit } from './vegas-limit.js';

const bad = (o: unknown) => () => createLimiter(o as LimiterOptions);

const cases: [string, () => unknown, string][] = [
  ['options not an object', bad(42), 'limiter'],
  ['empty name', bad({ name: '' }), 'limiter.name'],
  ['unknown limit name', bad({ limit: 'cubic' }), 'limiter.limit'],
  ['limit below 1', bad({ limit: 0 }), 'limiter.limit'],
  ['limit object without onSample', bad({ limit: { limit: 3 } }), 'limiter.limit'],
  ['negative batch share', bad({ partitions: { batch: -0.1 } }), 'limiter.partitions.batch'],
  ['share above 1', bad({ partitions: { interactive: 1.5 } }), 'limiter.partitions.interactive'],
  ['share not a number', bad({ partitions: { background: 'x' } }), 'limiter.partitions.background'],
  ['shares summing above 1', bad({ partitions: { interactive: 0.9, batch: 0.2 } }), 'limiter.partitions'],
  ['fractional maxQueue', bad({ maxQueue: 1.5 }), 'limiter.maxQueue'],
  ['negative maxQueue.total', bad({ maxQueue: { total: -1 } }), 'limiter.maxQueue.total'],
  ['bad maxQueue.batch', bad({ maxQueue: { batch: 'many' } }), 'limiter.maxQueue.batch'],
  ['codel true', bad({ codel: true }), 'limiter.codel'],
  ['negative codel.targetMs', bad({ codel: { targetMs: -1 } }), 'limiter.codel.targetMs'],
  ['zero codel.intervalMs', bad({ codel: { intervalMs: 0 } }), 'limiter.codel.intervalMs'],
  ['lifo string', bad({ lifo: 'always' }), 'limiter.lifo'],
  ['negative criticalOverdraft', bad({ criticalOverdraft: -1 }), 'limiter.criticalOverdraft'],
  ['clock without now', bad({ clock: { setTimeout() {} } }), 'limiter.clock'],
  ['bad expectedServiceTime', bad({ expectedServiceTime: 5 }), 'limiter.expectedServiceTime'],
  [
    'bad expectedServiceTime.smoothing',
    bad({ expectedServiceTime: { smoothing: 2 } }),
    'limiter.expectedServiceTime.smoothing',
  ],
  ['gradient2 smoothing 0', () => gradient2Limit({ smoothing: 0 }), 'gradient2.smoothing'],
  ['gradient2 tolerance below 1', () => gradient2Limit({ tolerance: 0.5 }), 'gradient2.tolerance'],
  ['gradient2 max below min', () => gradient2Limit({ minLimit: 10, maxLimit: 5 }), 'gradient2.maxLimit'],
  ['gradient2 initial above max', () => gradient2Limit({ initialLimit: 300 }), 'gradient2.initialLimit'],
  ['gradient2 longWindow 0', () => gradient2Limit({ longWindow: 0 }), 'gradient2.longWindow'],
  ['gradient2 negative queueSize', () => gradient2Limit({ queueSize: -1 }), 'gradient2.queueSize'],
  ['aimd backoffRatio 1', () => aimdLimit({ backoffRatio: 1 }), 'aimd.backoffRatio'],
  ['aimd minLimit 0', () => aimdLimit({ minLimit: 0 }), 'aimd.minLimit'],
  ['aimd negative timeoutMs', () => aimdLimit({ timeoutMs: -5 }), 'aimd.timeoutMs'],
  ['vegas beta below alpha', () => vegasLimit({ alphaFactor: 3, betaFactor: 2 }), 'vegas.betaFactor'],
  ['vegas random not a function', () => vegasLimit({ random: 4 as never }), 'vegas.random'],
];

describe('limiter options', () => {
  it.each(cases)('%s throws BALLAST_INVALID_ARGUMENT naming %s', (_name, make, path) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(`Invalid option ${path}:`);
    expect((error as Error).message).toMatch(/received /);
  });

  it('merges defaults with ?? so 0 is a real value', () => {
    const o = resolveLimiterOptions({ maxQueue: 0, criticalOverdraft: 0, partitions: { batch: 0 } });
    expect(o.totalQueue).toBe(0);
    expect(o.shares).toEqual([1, 0.7, 0, 0.1]);
    expect(o.codel).toEqual(DEFAULT_LIMITER.codel);
    expect(o.lifo).toBe('adaptive');
  });

  it('exposes frozen defaults', () => {
    expect(Object.isFrozen(DEFAULT_LIMITER)).toBe(true);
    expect(DEFAULT_LIMITER.partitions).toEqual({ interactive: 0.7, batch: 0.2, background: 0.1 });
    expect(createLimiter().limit).toBe(20);
  });
});

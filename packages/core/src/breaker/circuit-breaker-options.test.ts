import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { DEFAULT_CIRCUIT_BREAKER, resolveCircuitBreakerOptions } from './circuit-breaker-options.js';

const validJSON = {
  version: 1,
  state: 'open',
  remainingOpenMs: 10,
  breakDurationMs: 10,
  reopenCount: 1,
  consecutiveFailures: 0,
  timesOpened: 1,
  rejected: 0,
};

const invalid: [option: string, options: Record<string, unknown>][] = [
  ['breaker.name', { name: '' }],
  ['breaker.name', { name: 3 }],
  ['breaker.consecutiveFailures', { consecutiveFailures: -1 }],
  ['breaker.consecutiveFailures', { consecutiveFailures: 1.5 }],
  ['breaker.failureRateThreshold', { failureRateThreshold: 0 }],
  ['breaker.failureRateThreshold', { failureRateThreshold: 1.1 }],
  ['breaker.failureRateThreshold', { failureRateThreshold: Number.NaN }],
  ['breaker.slowCallRateThreshold', { slowCallRateThreshold: 0 }],
  ['breaker.slowCallRateThreshold', { slowCallRateThreshold: '1' }],
  ['breaker.slowCallDurationMs', { slowCallDurationMs: 0 }],
  ['breaker.slowCallDurationMs', { slowCallDurationMs: -5 }],
  ['breaker.minimumThroughput', { minimumThroughput: 0 }],
  ['breaker.windowMs', { windowMs: 0 }],
  ['breaker.windowMs', { windowMs: Number.POSITIVE_INFINITY }],
  ['breaker.buckets', { buckets: 0 }],
  ['breaker.buckets', { buckets: 2.5 }],
  ['breaker.buckets', { windowMs: 5, buckets: 10 }],
  ['breaker.halfOpenProbes', { halfOpenProbes: 0 }],
  ['breaker.breakDurationMs', { breakDurationMs: 0 }],
  ['breaker.maxBreakDurationMs', { breakDurationMs: 5000, maxBreakDurationMs: 4000 }],
  ['breaker.backoffMultiplier', { backoffMultiplier: 0.5 }],
  ['breaker.jitter', { jitter: -0.1 }],
  ['breaker.jitter', { jitter: 1.5 }],
  ['breaker.clock', { clock: { now: () => 0 } }],
  ['breaker.isFailure', { isFailure: 'failure' }],
  ['breaker.random', { random: 0.5 }],
  ['breaker.initialState', { initialState: 'open' }],
  ['breaker.initialState.version', { initialState: { ...validJSON, version: 2 } }],
  ['breaker.initialState.state', { initialState: { ...validJSON, state: 'ajar' } }],
  ['breaker.initialState.remainingOpenMs', { initialState: { ...validJSON, remainingOpenMs: -1 } }],
  ['breaker.initialState.reopenCount', { initialState: { ...validJSON, reopenCount: 0.5 } }],
];

describe('resolveCircuitBreakerOptions', () => {
  it('uses the defaults', () => {
    const resolved = resolveCircuitBreakerOptions();
    expect(resolved).toEqual({ ...DEFAULT_CIRCUIT_BREAKER, initialState: undefined });
    expect(Object.isFrozen(DEFAULT_CIRCUIT_BREAKER)).toBe(true);
  });

  it('keeps 0 as a real value (consecutiveFailures 0 turns the trigger off)', () => {
    expect(resolveCircuitBreakerOptions({ consecutiveFailures: 0, jitter: 0 })).toMatchObject({
      consecutiveFailures: 0,
      jitter: 0,
    });
  });

  it('raises the default cap to a longer break duration', () => {
    expect(resolveCircuitBreakerOptions({ breakDurationMs: 90_000 }).maxBreakDurationMs).toBe(90_000);
  });

  it.each(invalid)(
    'every invalid option throws BALLAST_INVALID_ARGUMENT naming it: %s %o',
    (option, options) => {
      let thrown: unknown;
      try {
        createCircuitBreaker(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(isBallastError(thrown, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
      expect((thrown as Error).message).toContain(`Invalid option ${option}:`);
    },
  );

  it('names the value it received', () => {
    expect(() => createCircuitBreaker({ failureRateThreshold: 2 })).toThrow(/received 2/);
  });
});

import { describe, expect, it } from 'vitest';
import { BallastError, shedError } from '../errors.js';
import { boom, fail, openBreaker, rejection, setup } from './circuit-breaker.test-helpers.js';

describe('half-open', () => {
  it('admits halfOpenProbes probes at once; everyone else fails fast', () => {
    const { clock, breaker } = openBreaker({ halfOpenProbes: 2 });
    clock.advance(5000);
    expect(breaker.acquire(clock.now())).toBe(1);
    expect(breaker.acquire(clock.now())).toBe(1);
    const error = rejection(breaker, clock.now());
    expect(error.retryAfterMs).toBe(5000);
    expect(breaker.stats().probesInFlight).toBe(2);
  });

  it('the probes must all succeed to close', () => {
    const { clock, breaker } = openBreaker({ halfOpenProbes: 2 });
    clock.advance(5000);
    breaker.acquire(clock.now());
    breaker.acquire(clock.now());
    breaker.onSuccess(1, 1, clock.now());
    expect(breaker.state).toBe('half-open');
    breaker.onSuccess(1, 1, clock.now());
    expect(breaker.state).toBe('closed');
  });

  it('a probe failure reopens with a longer break', () => {
    const { clock, breaker, changes } = openBreaker({ halfOpenProbes: 2 });
    clock.advance(5000);
    breaker.acquire(clock.now());
    breaker.acquire(clock.now());
    breaker.onSuccess(1, 1, clock.now());
    breaker.onFailure(1, 1, clock.now(), boom);
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({ from: 'half-open', to: 'open', reason: 'probe-failed' });
    expect(breaker.stats().breakDurationMs).toBe(10_000);
  });

  it('a slow probe reopens the breaker', () => {
    const { clock, breaker, changes } = openBreaker({ slowCallDurationMs: 100 });
    clock.advance(5000);
    breaker.onSuccess(breaker.acquire(clock.now()), 100, clock.now());
    expect(changes.at(-1)).toMatchObject({ to: 'open', reason: 'slow-call-rate' });
  });

  it("a hung probe's lease expires after the break duration", () => {
    const { clock, breaker } = openBreaker();
    clock.advance(5000);
    expect(breaker.acquire(clock.now())).toBe(1); // hangs forever
    clock.advance(4999);
    expect(rejection(breaker, clock.now()).retryAfterMs).toBe(1);
    clock.advance(1);
    expect(breaker.acquire(clock.now())).toBe(1);
    breaker.onSuccess(1, 1, clock.now());
    // The late result is taken for the hung probe's, so the live lease stays held.
    expect(breaker.state).toBe('closed');
  });

  it("a late result of an expired probe does not free a live probe's slot", () => {
    const { clock, breaker } = openBreaker({ consecutiveFailures: 1 });
    clock.advance(5000);
    breaker.acquire(clock.now()); // A hangs
    clock.advance(5000);
    breaker.acquire(clock.now()); // B takes A's slot
    breaker.onFailure(1, 5000, clock.now(), shedError('limit', 'x')); // A's late, ignored result
    expect(() => breaker.acquire(clock.now())).toThrow(BallastError);
  });

  it('an ignored error releases a probe slot without deciding anything', () => {
    const { clock, breaker } = openBreaker();
    clock.advance(5000);
    breaker.onFailure(breaker.acquire(clock.now()), 1, clock.now(), shedError('limit', 'x'));
    expect(breaker.state).toBe('half-open');
    expect(breaker.acquire(clock.now())).toBe(1);
  });
});

describe('health checks and manual control', () => {
  it('health check success moves open to half-open at once', () => {
    const { clock, breaker, changes } = openBreaker({ breakDurationMs: 60_000 });
    const probes: unknown[] = [];
    breaker.on('probe', (e) => probes.push(e));
    breaker.recordHealthCheck(true, clock.now());
    expect(breaker.state).toBe('half-open');
    expect(changes.at(-1)).toMatchObject({ from: 'open', to: 'half-open', reason: 'health-check' });
    expect(probes).toEqual([{ name: 'breaker', ok: true, source: 'health-check' }]);
    expect(breaker.acquire(clock.now())).toBe(1);
  });

  it('health check failure counts as a failure while closed and reopens half-open', () => {
    const { clock, breaker, changes } = setup({ consecutiveFailures: 2 });
    breaker.recordHealthCheck(false);
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 1, failures: 1 });
    breaker.recordHealthCheck(false);
    expect(breaker.state).toBe('open');
    breaker.recordHealthCheck(true);
    breaker.recordHealthCheck(false, clock.now());
    expect(changes.at(-1)).toMatchObject({ from: 'half-open', to: 'open', reason: 'health-check' });
  });

  it('isolate holds the breaker open until reset', () => {
    const { clock, breaker, changes } = setup();
    breaker.isolate();
    clock.advance(1_000_000);
    breaker.recordHealthCheck(true);
    const error = rejection(breaker, clock.now());
    expect(error.retryAfterMs).toBeUndefined();
    expect(breaker.state).toBe('isolated');
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => `${c.from}>${c.to}:${c.reason}`)).toEqual([
      'closed>isolated:manual',
      'isolated>closed:manual',
    ]);
  });

  it('reset closes and clears the counters', () => {
    const { clock, breaker } = setup({ consecutiveFailures: 3 });
    fail(breaker, clock, 3);
    expect(breaker.state).toBe('open');
    breaker.reset();
    expect(breaker.stats()).toMatchObject({
      state: 'closed',
      calls: 0,
      consecutiveFailures: 0,
      timesOpened: 1,
    });
    fail(breaker, clock, 2);
    expect(breaker.state).toBe('closed');
  });
});

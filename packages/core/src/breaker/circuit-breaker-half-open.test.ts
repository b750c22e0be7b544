import { describe, expect, it } from 'vitest';
import { BallastError, shedError } from '../errors.js';
import { boom, fail, openBreaker, rejection, setup, succeed } from './circuit-breaker.test-helpers.js';

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

describe('late results across half-open episodes', () => {
  it('a late result from an earlier half-open episode does not decide the current one', () => {
    // Opened at 1000 for 1000 ms; slow calls take 2000 ms or more.
    const { clock, breaker, changes } = openBreaker({ breakDurationMs: 1000 });
    clock.advance(1000);
    const p1Start = clock.now();
    const p1 = breaker.acquire(p1Start); // P1 hangs
    clock.advance(1000); // its lease ends
    const p2 = breaker.acquire(clock.now());
    breaker.onFailure(p2, 1, clock.now(), boom); // P2 fails: open for 2000
    expect(breaker.stats().breakDurationMs).toBe(2000);
    clock.advance(2000);
    const p3 = breaker.acquire(clock.now()); // the next half-open episode
    expect(breaker.state).toBe('half-open');
    clock.advance(100);
    breaker.onSuccess(p1, clock.now() - p1Start, clock.now()); // P1 answers after 3100 ms: slow
    expect(clock.now() - p1Start).toBe(3100);
    expect(breaker.state).toBe('half-open');
    breaker.onSuccess(p3, 100, clock.now());
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => `${c.from}>${c.to}:${c.reason}`)).toEqual([
      'closed>open:consecutive-failures',
      'open>half-open:open-expired',
      'half-open>open:probe-failed',
      'open>half-open:open-expired',
      'half-open>closed:probe-succeeded',
    ]);
    // 0 is a normal call; each episode's probes carry their own positive permit.
    expect(p1).toBeGreaterThan(0);
    expect(p3).toBeGreaterThan(0);
    expect(p3).not.toBe(p1);
  });

  it('a late success from an earlier half-open episode does not count towards closing the current one', () => {
    const { clock, breaker } = openBreaker({ halfOpenProbes: 2 });
    clock.advance(5000);
    const old = breaker.acquire(clock.now());
    breaker.recordHealthCheck(false, clock.now()); // reopens for 10000 while `old` runs
    clock.advance(10_000);
    const a = breaker.acquire(clock.now());
    const b = breaker.acquire(clock.now());
    breaker.onSuccess(old, 1, clock.now());
    breaker.onSuccess(a, 1, clock.now());
    expect(breaker.state).toBe('half-open'); // b has not answered yet
    expect(breaker.stats().probesInFlight).toBe(1);
    breaker.onSuccess(b, 1, clock.now());
    expect(breaker.state).toBe('closed');
  });

  it('a probe still running from an earlier episode does not hold up a slot of the current one', () => {
    const { clock, breaker } = openBreaker();
    clock.advance(5000);
    const old = breaker.acquire(clock.now()); // hangs through the episode
    breaker.recordHealthCheck(false, clock.now());
    breaker.recordHealthCheck(true, clock.now()); // the next episode
    const probe = breaker.acquire(clock.now());
    breaker.onFailure(probe, 1, clock.now(), shedError('limit', 'x')); // frees its slot, decides nothing
    expect(breaker.acquire(clock.now())).toBe(probe); // the slot is free again
    breaker.onFailure(old, 1, clock.now(), shedError('limit', 'x')); // the old probe's late result frees nothing
    expect(() => breaker.acquire(clock.now())).toThrow(BallastError);
    expect(breaker.state).toBe('half-open');
  });

  it('a normal call that started before the breaker opened and ends during half-open does not decide it', () => {
    const { clock, breaker, changes } = setup({ consecutiveFailures: 1 });
    const slowFailure = breaker.acquire(clock.now());
    const success = breaker.acquire(clock.now());
    expect([slowFailure, success]).toEqual([0, 0]);
    fail(breaker, clock); // opens for 5000
    clock.advance(5000);
    const probe = breaker.acquire(clock.now());
    expect(probe).toBeGreaterThan(0);
    breaker.onFailure(slowFailure, 5000, clock.now(), boom);
    breaker.onSuccess(success, 1, clock.now());
    expect(breaker.state).toBe('half-open');
    expect(breaker.stats().probesInFlight).toBe(1); // the probe still holds its slot
    expect(() => breaker.acquire(clock.now())).toThrow(BallastError);
    breaker.onSuccess(probe, 1, clock.now());
    expect(changes.at(-1)).toMatchObject({ from: 'half-open', to: 'closed', reason: 'probe-succeeded' });
  });

  it('a late probe result that arrives after the breaker closed counts as an ordinary call', () => {
    const { clock, breaker } = openBreaker({ halfOpenProbes: 2 });
    clock.advance(5000);
    const hung = breaker.acquire(clock.now());
    clock.advance(5000); // its lease ends
    succeed(breaker, clock, 2); // two new probes close the breaker
    expect(breaker.state).toBe('closed');
    breaker.onFailure(hung, 10_000, clock.now(), boom);
    expect(breaker.stats()).toMatchObject({ calls: 1, failures: 1, slowCalls: 1, consecutiveFailures: 1 });
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

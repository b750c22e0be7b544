import { describe, expect, it } from 'vitest';
import { BallastError, deadlineError, shedError } from '../errors.js';
import { ManualClock } from '../testing/manual-clock.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { boom, fail, openBreaker, rejection, setup, succeed } from './circuit-breaker.test-helpers.js';

describe('closed', () => {
  it('opens after 5 consecutive failures', () => {
    const { clock, breaker, changes } = setup();
    fail(breaker, clock, 4);
    expect(breaker.state).toBe('closed');
    fail(breaker, clock);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([
      { name: 'breaker', from: 'closed', to: 'open', reason: 'consecutive-failures', breakDurationMs: 5000 },
    ]);
  });

  it('a success resets the consecutive failures', () => {
    const { clock, breaker } = setup();
    fail(breaker, clock, 4);
    succeed(breaker, clock);
    fail(breaker, clock, 4);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().consecutiveFailures).toBe(4);
  });

  it('consecutiveFailures 0 turns the consecutive trigger off', () => {
    const { clock, breaker } = setup({ consecutiveFailures: 0, minimumThroughput: 1000 });
    fail(breaker, clock, 500);
    expect(breaker.state).toBe('closed');
  });

  it('opens on the failure rate once minimum throughput calls are in the window', () => {
    const { clock, breaker, changes } = setup({ consecutiveFailures: 0, minimumThroughput: 10 });
    for (let i = 0; i < 4; i++) {
      fail(breaker, clock);
      succeed(breaker, clock);
    }
    fail(breaker, clock);
    expect(breaker.state).toBe('closed');
    succeed(breaker, clock); // 10th call, 5/10 failed
    expect(breaker.state).toBe('open');
    expect(changes[0]?.reason).toBe('failure-rate');
  });

  it('stays closed below the failure rate threshold', () => {
    const { clock, breaker } = setup({
      consecutiveFailures: 0,
      minimumThroughput: 10,
      failureRateThreshold: 0.3,
    });
    fail(breaker, clock, 2);
    succeed(breaker, clock, 8);
    expect(breaker.state).toBe('closed');
    fail(breaker, clock); // 3/11
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ calls: 11, failures: 3 });
  });

  it('a failure rate exactly at the threshold opens (3 of 10 at 0.3)', () => {
    const { clock, breaker } = setup({
      consecutiveFailures: 0,
      minimumThroughput: 10,
      failureRateThreshold: 0.3,
    });
    succeed(breaker, clock, 7);
    fail(breaker, clock, 3);
    expect(breaker.state).toBe('open');
  });

  it('opens on the slow-call rate when every call in the window is slow', () => {
    const { clock, breaker, changes } = setup({ minimumThroughput: 5, slowCallDurationMs: 100 });
    succeed(breaker, clock, 4, 150);
    expect(breaker.state).toBe('closed');
    succeed(breaker, clock, 1, 150);
    expect(breaker.state).toBe('open');
    expect(changes[0]?.reason).toBe('slow-call-rate');
  });

  it('one fast call keeps a slow-call rate of 1 from opening', () => {
    const { clock, breaker } = setup({ minimumThroughput: 5, slowCallDurationMs: 100 });
    succeed(breaker, clock, 1, 10);
    succeed(breaker, clock, 20, 150);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().slowCallRate).toBeCloseTo(20 / 21);
  });

  it('failures older than the window expire, bucket by bucket', () => {
    const { clock, breaker } = setup({
      consecutiveFailures: 0,
      minimumThroughput: 10,
      windowMs: 1000,
      buckets: 10,
    });
    fail(breaker, clock, 9);
    clock.advance(500);
    expect(breaker.stats().failures).toBe(9);
    clock.advance(500);
    expect(breaker.stats().failures).toBe(0);
    fail(breaker, clock);
    expect(breaker.state).toBe('closed');
  });

  it('shed errors never open the breaker', () => {
    const { clock, breaker } = setup({ minimumThroughput: 1 });
    fail(breaker, clock, 100, shedError('queue-full', 'limiter'));
    fail(breaker, clock, 100, new BallastError('BALLAST_ABORTED', 'aborted'));
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ calls: 0, failures: 0, consecutiveFailures: 0 });
  });

  it("an ignored error's duration still counts as a slow call", () => {
    const { clock, breaker } = setup({ minimumThroughput: 3, slowCallDurationMs: 100 });
    fail(breaker, clock, 3, deadlineError('policy'), 100);
    expect(breaker.stats()).toMatchObject({ calls: 3, failures: 0, slowCalls: 3 });
    expect(breaker.state).toBe('open');
  });

  it('uses the isFailure classifier', () => {
    const { clock, breaker } = setup({ isFailure: (e) => (e === boom ? 'ignore' : 'failure') });
    fail(breaker, clock, 10);
    expect(breaker.state).toBe('closed');
    fail(breaker, clock, 5, new Error('other'));
    expect(breaker.state).toBe('open');
  });

  it('never reads the clock on the hot path', () => {
    const clock = new ManualClock();
    const breaker = createCircuitBreaker({ clock });
    clock.now = () => {
      throw new Error('clock read');
    };
    breaker.onSuccess(breaker.acquire(5), 1, 6);
    breaker.onFailure(breaker.acquire(7), 1, 8, boom);
    expect(breaker.state).toBe('closed');
  });
});

describe('open', () => {
  it('rejects with a retryable BALLAST_CIRCUIT_OPEN carrying the remaining open time', () => {
    const { clock, breaker } = openBreaker();
    const rejected: unknown[] = [];
    breaker.on('rejected', (e) => rejected.push(e));
    clock.advance(1500);
    const error = rejection(breaker, clock.now());
    expect(error).toMatchObject({ code: 'BALLAST_CIRCUIT_OPEN', retryable: true, retryAfterMs: 3500 });
    expect(rejected).toEqual([{ name: 'breaker', state: 'open', retryAfterMs: 3500 }]);
    expect(breaker.stats()).toMatchObject({
      rejected: 1,
      timesOpened: 1,
      remainingOpenMs: 3500,
      openedAt: 1000,
    });
  });

  it('results of calls admitted before opening do not change the open state', () => {
    const { clock, breaker } = setup({ consecutiveFailures: 1 });
    const early = breaker.acquire(clock.now());
    fail(breaker, clock);
    breaker.onSuccess(early, 1, clock.now());
    expect(breaker.state).toBe('open');
  });

  it('moves to half-open on the first call after the break duration and closes when the probe succeeds', () => {
    const { clock, breaker, changes } = openBreaker();
    clock.advance(4999);
    expect(() => breaker.acquire(clock.now())).toThrow(BallastError);
    clock.advance(1);
    expect(breaker.acquire(clock.now())).toBe(1);
    expect(breaker.state).toBe('half-open');
    breaker.onSuccess(1, 1, clock.now());
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => c.reason)).toEqual(['consecutive-failures', 'open-expired', 'probe-succeeded']);
    expect(breaker.acquire(clock.now())).toBe(0);
  });

  it('open duration doubles per reopen and is capped', () => {
    const { clock, breaker } = openBreaker({ breakDurationMs: 1000, maxBreakDurationMs: 5000 });
    const durations = [breaker.stats().breakDurationMs];
    for (let i = 0; i < 5; i++) {
      clock.advance(breaker.stats().remainingOpenMs);
      fail(breaker, clock); // the probe fails
      durations.push(breaker.stats().breakDurationMs);
    }
    expect(durations).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('open duration returns to the base after a successful close', () => {
    const { clock, breaker } = openBreaker({ breakDurationMs: 1000 });
    clock.advance(1000);
    fail(breaker, clock);
    expect(breaker.stats().breakDurationMs).toBe(2000);
    clock.advance(2000);
    succeed(breaker, clock);
    fail(breaker, clock);
    expect(breaker.stats().breakDurationMs).toBe(1000);
  });

  it('jitter spreads the open duration with the injected random source', () => {
    const low = openBreaker({ jitter: 0.2, random: () => 0 });
    expect(low.breaker.stats().breakDurationMs).toBe(4000);
    const high = openBreaker({ jitter: 0.2, random: () => 0.75 });
    expect(high.breaker.stats().breakDurationMs).toBe(5500);
    const capped = openBreaker({ jitter: 0.5, random: () => 1, maxBreakDurationMs: 6000 });
    expect(capped.breaker.stats().breakDurationMs).toBe(6000);
  });
});

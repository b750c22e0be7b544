import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { boom, fail, openBreaker, rejection, setup } from './circuit-breaker.test-helpers.js';

describe('execute, events, JSON', () => {
  it('execute times the call with its clock and rethrows', async () => {
    const { clock, breaker } = setup({ slowCallDurationMs: 50 });
    await expect(breaker.execute(() => Promise.reject(boom))).rejects.toBe(boom);
    const value = await breaker.execute(() => {
      clock.advance(10);
      return 42;
    });
    expect(value).toBe(42);
    expect(breaker.stats()).toMatchObject({ calls: 2, failures: 1, slowCalls: 0 });
    breaker.isolate();
    await expect(breaker.execute(() => 1)).rejects.toMatchObject({ code: 'BALLAST_CIRCUIT_OPEN' });
  });

  it('on() returns an unsubscribe', () => {
    const { clock, breaker } = setup({ consecutiveFailures: 1 });
    const seen: unknown[] = [];
    const off = breaker.on('state-change', (e) => seen.push(e));
    off();
    fail(breaker, clock);
    expect(seen).toEqual([]);
  });

  it('publishes state changes on the ballast:breaker:state-change diagnostics channel', () => {
    const seen: unknown[] = [];
    const onMessage = (m: unknown) => seen.push(m);
    subscribe('ballast:breaker:state-change', onMessage);
    try {
      openBreaker({ name: 'diag' });
    } finally {
      unsubscribe('ballast:breaker:state-change', onMessage);
    }
    expect(seen).toContainEqual(expect.objectContaining({ name: 'diag', to: 'open' }));
  });

  it('toJSON round-trips', () => {
    const { clock, breaker } = openBreaker({ breakDurationMs: 1000 });
    clock.advance(1000);
    fail(breaker, clock); // reopened for 2000
    clock.advance(500);
    rejection(breaker, clock.now());
    const json = JSON.parse(JSON.stringify(breaker));
    expect(json).toEqual({
      version: 1,
      state: 'open',
      remainingOpenMs: 1500,
      breakDurationMs: 2000,
      reopenCount: 2,
      consecutiveFailures: 1,
      timesOpened: 2,
      rejected: 1,
    });
    const clock2 = new ManualClock(77);
    const restored = createCircuitBreaker({
      clock: clock2,
      jitter: 0,
      breakDurationMs: 1000,
      initialState: json,
    });
    expect(restored.toJSON()).toEqual(json);
    expect(restored.stats()).toMatchObject({ remainingOpenMs: 1500, openedAt: 77 - 500 });
    clock2.advance(1500);
    restored.onFailure(restored.acquire(clock2.now()), 1, clock2.now(), boom);
    expect(restored.stats().breakDurationMs).toBe(4000);
  });
});

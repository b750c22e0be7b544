import { type BallastError, isBallastError } from '../errors.js';
import { ManualClock } from '../testing/manual-clock.js';
import type { BreakerStateChangeEvent } from './breaker-events.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreaker } from './circuit-breaker-interface.js';
import type { CircuitBreakerOptions } from './circuit-breaker-options.js';

/** Shared by the circuit breaker's tests: a breaker on a ManualClock with jitter off, and call helpers. */
export const boom = new Error('boom');

export function setup(options: CircuitBreakerOptions = {}) {
  const clock = new ManualClock(1000);
  const breaker = createCircuitBreaker({ clock, jitter: 0, ...options });
  const changes: BreakerStateChangeEvent[] = [];
  breaker.on('state-change', (e) => changes.push(e));
  return { clock, breaker, changes };
}

export function fail(
  b: CircuitBreaker,
  clock: ManualClock,
  n = 1,
  error: unknown = boom,
  durationMs = 1,
): void {
  for (let i = 0; i < n; i++) b.onFailure(b.acquire(clock.now()), durationMs, clock.now(), error);
}

export function succeed(b: CircuitBreaker, clock: ManualClock, n = 1, durationMs = 1): void {
  for (let i = 0; i < n; i++) b.onSuccess(b.acquire(clock.now()), durationMs, clock.now());
}

export function rejection(b: CircuitBreaker, nowMs: number): BallastError {
  try {
    b.acquire(nowMs);
  } catch (error) {
    if (isBallastError(error, 'BALLAST_CIRCUIT_OPEN')) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

export function openBreaker(options: CircuitBreakerOptions = {}) {
  const s = setup({ consecutiveFailures: 1, ...options });
  fail(s.breaker, s.clock);
  if (s.breaker.state !== 'open') throw new Error(`expected open, got ${s.breaker.state}`);
  return s;
}

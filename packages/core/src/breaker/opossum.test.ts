import CircuitBreaker from 'opossum';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BallastError, isBallastError } from '../errors.js';
import { ManualClock } from '../testing/manual-clock.js';
import type { BreakerRejectedEvent, BreakerStateChangeEvent } from './breaker-events.js';
import { fromOpossum, type OpossumBreakerLike } from './opossum.js';

type Work = () => Promise<unknown>;
const created: CircuitBreaker<[Work]>[] = [];

function opossum(options: CircuitBreaker.Options<[Work]> = {}): CircuitBreaker<[Work]> {
  const breaker = new CircuitBreaker((work: Work) => work(), {
    timeout: false,
    resetTimeout: 20,
    volumeThreshold: 1,
    errorThresholdPercentage: 50,
    ...options,
  });
  created.push(breaker);
  return breaker;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  for (const b of created.splice(0)) b.shutdown();
});

describe('fromOpossum', () => {
  it('accepts a real opossum breaker as OpossumBreakerLike', () => {
    const b: OpossumBreakerLike = opossum();
    expect(fromOpossum(b).breaker).toBe(b);
  });

  it('runs work through fire() and returns its result', async () => {
    const ob = opossum();
    const fire = vi.spyOn(ob, 'fire');
    const breaker = fromOpossum(ob);
    expect(await breaker.wrap(async () => 42)).toBe(42);
    expect(fire).toHaveBeenCalledTimes(1);
    expect(ob.stats.successes).toBe(1);
    expect(breaker.acquire(0)).toBe(0);
    breaker.onSuccess(0, 1, 1);
    breaker.onFailure(0, 1, 1, new Error('x'));
    expect(breaker.state).toBe('closed');
  });

  it("passes the work's own errors through unchanged and lets opossum count them", async () => {
    const breaker = fromOpossum(opossum());
    const boom = Object.assign(new Error('socket timeout'), { code: 'ETIMEDOUT' });
    expect(await caught(breaker.wrap(() => Promise.reject(boom)))).toBe(boom);
    expect(breaker.state).toBe('open');
  });

  it('maps an open rejection to a retryable BALLAST_CIRCUIT_OPEN and emits rejected', async () => {
    const clock = new ManualClock();
    const ob = opossum({ resetTimeout: 10_000 });
    const breaker = fromOpossum({ breaker: ob, name: 'pg', clock });
    const rejected: BreakerRejectedEvent[] = [];
    breaker.on('rejected', (e) => rejected.push(e));
    ob.open();
    clock.advance(4000);
    const error = await caught(breaker.wrap(async () => 1));
    expect(isBallastError(error, 'BALLAST_CIRCUIT_OPEN')).toBe(true);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 6000, source: 'pg' });
    expect((error as BallastError).cause).toMatchObject({ code: 'EOPENBREAKER' });
    expect(rejected).toEqual([{ name: 'pg', state: 'open', retryAfterMs: 6000 }]);
  });

  it("maps opossum's timeout to BALLAST_DEADLINE_EXCEEDED keeping the cause", async () => {
    const breaker = fromOpossum(opossum({ timeout: 5 }));
    const error = await caught(breaker.wrap(() => new Promise(() => {})));
    expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect((error as BallastError).cause).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('maps a semaphore rejection to BALLAST_SHED with reason limit', async () => {
    const breaker = fromOpossum(opossum({ capacity: 1, volumeThreshold: 100 }));
    let release = (): void => {};
    const first = breaker.wrap(() => new Promise<void>((resolve) => (release = resolve)));
    const error = await caught(breaker.wrap(async () => 1));
    expect(isBallastError(error, 'BALLAST_SHED')).toBe(true);
    expect(error).toMatchObject({ reason: 'limit', retryable: true });
    expect((error as BallastError).cause).toMatchObject({ code: 'ESEMLOCKED' });
    release();
    await first;
  });

  it("maps opossum's open/halfOpen/close events onto state-change and reads its state", async () => {
    const ob = opossum();
    const breaker = fromOpossum(ob);
    const changes: BreakerStateChangeEvent[] = [];
    breaker.on('state-change', (e) => changes.push(e));
    await caught(breaker.wrap(() => Promise.reject(new Error('down'))));
    expect(breaker.state).toBe('open');
    await vi.waitFor(() => expect(breaker.state).toBe('half-open'), { timeout: 2000, interval: 5 });
    await breaker.wrap(async () => 'ok');
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => `${c.from}>${c.to}:${c.reason}`)).toEqual([
      'closed>open:failure-rate',
      'open>half-open:open-expired',
      'half-open>closed:probe-succeeded',
    ]);
  });

  it('reports a shut-down opossum breaker as isolated', () => {
    const ob = opossum();
    const breaker = fromOpossum(ob);
    ob.shutdown();
    expect(breaker.state).toBe('isolated');
  });

  it('dispose stops listening to the opossum breaker', () => {
    const ob = opossum();
    const breaker = fromOpossum(ob);
    const seen: unknown[] = [];
    breaker.on('state-change', (e) => seen.push(e));
    breaker.dispose();
    ob.open();
    expect(seen).toEqual([]);
  });

  it('throws BALLAST_INVALID_ARGUMENT without an opossum breaker', () => {
    expect(() => fromOpossum({} as never)).toThrow(/Invalid option opossum\.breaker/);
    expect(() => fromOpossum({ breaker: {} } as never)).toThrow(BallastError);
    expect(() => fromOpossum(null as never)).toThrow(BallastError);
  });
});

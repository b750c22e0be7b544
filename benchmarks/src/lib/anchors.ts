/**
 * The libraries Ballast is compared with, built the way a service would use them.
 * Each builder returns a call function and a `close()` that stops the library's timers.
 */

import { setMaxListeners } from 'node:events';
import {
  bulkhead,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import pLimit from 'p-limit';

/** A benchmarked way of calling `fn`. */
export interface Caller<T> {
  call(): Promise<T>;
  close(): void;
}

/** opossum's `fire()`; `timeoutMs: false` disables its per-call timer, `undefined` keeps the default (10 s). */
export function opossumCaller<T>(fn: () => Promise<T>, timeoutMs?: number | false): Caller<T> {
  const breaker = new CircuitBreaker<[], T>(fn, timeoutMs === undefined ? {} : { timeout: timeoutMs });
  return { call: () => breaker.fire(), close: () => breaker.shutdown() };
}

/** cockatiel's circuit breaker alone, as its README configures one. */
export function cockatielBreakerCaller<T>(fn: () => Promise<T>): Caller<T> {
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
  return { call: () => breaker.execute(fn), close: () => {} };
}

/** cockatiel's bulkhead + cooperative timeout + breaker: the stack closest to Ballast's default policy. */
export function cockatielStackCaller<T>(fn: () => Promise<T>): Caller<T> {
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
  const stack = wrap(bulkhead(1000, 1000), timeout(1000, TimeoutStrategy.Cooperative), breaker);
  // cockatiel's timeout adds an abort listener per call in flight to the parent signal (by default a shared
  // never-aborted one), so Node warns past 10 in flight. Pass an equivalent never-aborted signal without the limit.
  const parent = new AbortController().signal;
  setMaxListeners(0, parent);
  return { call: () => stack.execute(fn, parent), close: () => {} };
}

/** p-limit with a fixed concurrency. */
export function pLimitCaller<T>(fn: () => Promise<T>, concurrency: number): Caller<T> {
  const limit = pLimit(concurrency);
  return { call: () => limit(fn), close: () => limit.clearQueue() };
}

import type { Listener, Unsubscribe } from '../events.js';
import type { BreakerLike, BreakerState } from '../types.js';
import type { BreakerEvents } from './breaker-events.js';
import type { CircuitBreakerJSON } from './circuit-breaker-json.js';
import type { CircuitBreakerStats } from './circuit-breaker-stats.js';

/**
 * Ballast's circuit breaker: a {@link BreakerLike} for `createPolicy`, usable on its own through `execute`.
 *
 * States: `closed` (calls run; failures are counted) → `open` (calls fail fast with `BALLAST_CIRCUIT_OPEN`) →
 * `half-open` (up to `halfOpenProbes` probe calls run; all succeed → `closed`, one fails → `open` for longer).
 * `isolated` holds it open by hand until {@link CircuitBreaker.reset}. No timers: open → half-open happens in
 * `acquire` once the open duration has passed, or at once on a successful {@link CircuitBreaker.recordHealthCheck}.
 * A probe's permit names its half-open episode, so a probe left over from an earlier episode (hung past its lease,
 * then answering late) never decides the current one (see {@link CircuitBreaker.acquire}).
 * @example
 * const breaker = createCircuitBreaker({ name: 'pg-primary', consecutiveFailures: 5 });
 * const rows = await breaker.execute(() => pool.query('select 1'));
 */
export interface CircuitBreaker extends BreakerLike {
  readonly state: BreakerState;
  /**
   * Admits a call at clock time `nowMs` and returns its permit, to pass back to `onSuccess` / `onFailure`:
   * - `0`: a normal call;
   * - `> 0`: a half-open probe of a given episode. Every move into half-open starts a new episode (1, 2, 3, …),
   *   and its probes get its number.
   *
   * Only results of the current episode's probes decide half-open. Any other result (a normal call, or a probe
   * whose episode has ended, e.g. one that hung past its lease and through a reopening) is an ordinary call
   * outcome: counted in the window while closed, ignored while open, half-open or isolated.
   * @throws BallastError `BALLAST_CIRCUIT_OPEN` (retryable; `retryAfterMs` = remaining open time, or time until a
   * probe lease ends when half-open is full; undefined when isolated).
   */
  acquire(nowMs: number): number;
  /**
   * Runs `fn` through the breaker, timing it with the breaker's clock.
   * @throws BallastError `BALLAST_CIRCUIT_OPEN` when the breaker rejects the call; otherwise whatever `fn` throws.
   * @example const value = await breaker.execute(() => fetchValue());
   */
  execute<T>(fn: () => T | PromiseLike<T>): Promise<T>;
  /**
   * Holds the breaker open (state `isolated`) until {@link CircuitBreaker.reset}, e.g. during maintenance.
   * @example breaker.isolate();
   */
  isolate(): void;
  /**
   * Closes the breaker and clears its window, consecutive failures and backoff. Lifetime totals are kept.
   * @example breaker.reset();
   */
  reset(): void;
  /**
   * Reports an active health check. Success while open moves to half-open at once (recovery does not wait out a
   * long backoff); failure while half-open reopens; failure while closed counts as a failed call.
   * @param nowMs clock time of the result; defaults to the breaker's clock.
   * @example breaker.recordHealthCheck(await ping(), clock.now());
   */
  recordHealthCheck(ok: boolean, nowMs?: number): void;
  /**
   * A snapshot of state and window counts at `nowMs` (defaults to the breaker's clock).
   * @example const { failureRate } = breaker.stats();
   */
  stats(nowMs?: number): CircuitBreakerStats;
  /**
   * The state as plain JSON, for `initialState` or {@link restoreCircuitBreaker}. The window is not included.
   * @example await redis.set('breaker:pg', JSON.stringify(breaker));
   */
  toJSON(): CircuitBreakerJSON;
  /**
   * Adds a listener; returns a function that removes it.
   * @example const off = breaker.on('state-change', (e) => log.info(e)); off();
   */
  on<K extends keyof BreakerEvents>(event: K, listener: Listener<BreakerEvents[K]>): Unsubscribe;
}

import { BallastError } from '../errors.js';
import { Events, type Listener, type Unsubscribe } from '../events.js';
import type { BreakerState } from '../types.js';
import type { BreakerEvents, StateChangeReason } from './breaker-events.js';
import type { CircuitBreaker } from './circuit-breaker-interface.js';
import type { CircuitBreakerJSON } from './circuit-breaker-json.js';
import {
  type CircuitBreakerOptions,
  type ResolvedCircuitBreakerOptions,
  resolveCircuitBreakerOptions,
} from './circuit-breaker-options.js';
import type { CircuitBreakerStats } from './circuit-breaker-stats.js';
import { ProbeLeases } from './probe-leases.js';
import { RollingWindow } from './rolling-window.js';

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
type Code = 0 | 1 | 2 | 3;
const NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];
const CODES: Readonly<Record<BreakerState, Code>> = { closed: 0, open: 1, 'half-open': 2, isolated: 3 };

class BallastCircuitBreaker implements CircuitBreaker {
  readonly name: string;
  readonly #o: ResolvedCircuitBreakerOptions;
  readonly #events = new Events<BreakerEvents>('breaker');
  readonly #window: RollingWindow;
  readonly #leases: ProbeLeases;
  #s: Code = CLOSED;
  #consecutive = 0;
  #openedAt: number | undefined;
  #openUntil = 0;
  #breakMs = 0;
  /** Openings since the last successful close: the backoff exponent. */
  #reopens = 0;
  #probeOks = 0;
  /**
   * The half-open episode: counted up on every move into half-open (1 for the first, or for a restored half-open
   * state). A probe's permit is the episode that admitted it, so a late result of an earlier episode's probe is
   * told apart from the current probes' results. 0 (no episode yet) is never a probe permit: 0 is a normal call.
   */
  #episode = 0;
  #timesOpened = 0;
  #rejected = 0;

  constructor(o: ResolvedCircuitBreakerOptions) {
    this.#o = o;
    this.name = o.name;
    this.#window = new RollingWindow(o.windowMs, o.buckets);
    this.#leases = new ProbeLeases(o.halfOpenProbes);
    if (o.initialState !== undefined) this.#restore(o.initialState, o.clock.now());
  }

  get state(): BreakerState {
    return NAMES[this.#s] as BreakerState;
  }

  acquire(nowMs: number): number {
    if (this.#s === CLOSED) return 0;
    return this.#acquireSlow(nowMs);
  }

  onSuccess(permit: number, durationMs: number, nowMs: number): void {
    const slow = durationMs >= this.#o.slowCallDurationMs;
    if (this.#currentProbe(permit)) {
      this.#probeDone(!slow, slow ? 'slow-call-rate' : 'probe-failed', nowMs);
      return;
    }
    // Any other result (a normal call, or a probe of an episode that has ended) is an ordinary call outcome:
    // it counts while closed and decides nothing otherwise.
    if (this.#s !== CLOSED) return;
    this.#consecutive = 0;
    this.#window.record(nowMs, false, slow);
    this.#checkRates(nowMs);
  }

  onFailure(permit: number, durationMs: number, nowMs: number, error: unknown): void {
    const failure = this.#o.isFailure(error) === 'failure';
    const slow = durationMs >= this.#o.slowCallDurationMs;
    if (this.#currentProbe(permit)) {
      // An ignored error decides nothing, unless it was slow: then the dependency is still slow.
      if (failure || slow) this.#probeDone(false, failure ? 'probe-failed' : 'slow-call-rate', nowMs);
      return;
    }
    if (this.#s !== CLOSED) return;
    if (failure) this.#countFailure(nowMs, slow);
    else if (slow) {
      this.#window.record(nowMs, false, true);
      this.#checkRates(nowMs);
    }
  }

  async execute<T>(fn: () => T | PromiseLike<T>): Promise<T> {
    const clock = this.#o.clock;
    const start = clock.now();
    const permit = this.acquire(start);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      const end = clock.now();
      this.onFailure(permit, end - start, end, error);
      throw error;
    }
    const end = clock.now();
    this.onSuccess(permit, end - start, end);
    return result;
  }

  isolate(): void {
    if (this.#s !== ISOLATED) this.#move(ISOLATED, 'manual');
  }

  reset(): void {
    this.#window.clear();
    this.#consecutive = 0;
    this.#reopens = 0;
    this.#openUntil = 0;
    if (this.#s !== CLOSED) this.#move(CLOSED, 'manual');
  }

  recordHealthCheck(ok: boolean, nowMs: number = this.#o.clock.now()): void {
    if (this.#events.wants('probe'))
      this.#events.emit('probe', { name: this.name, ok, source: 'health-check' });
    if (this.#s === OPEN) {
      if (ok) this.#move(HALF_OPEN, 'health-check');
    } else if (this.#s === HALF_OPEN) {
      if (!ok) this.#open('health-check', nowMs);
    } else if (this.#s === CLOSED && !ok) {
      this.#countFailure(nowMs, false);
    }
  }

  stats(nowMs: number = this.#o.clock.now()): CircuitBreakerStats {
    const w = this.#window;
    w.expire(nowMs);
    return {
      name: this.name,
      state: this.state,
      calls: w.calls,
      failures: w.failures,
      slowCalls: w.slow,
      failureRate: w.calls === 0 ? 0 : w.failures / w.calls,
      slowCallRate: w.calls === 0 ? 0 : w.slow / w.calls,
      consecutiveFailures: this.#consecutive,
      openedAt: this.#openedAt,
      breakDurationMs: this.#breakMs,
      remainingOpenMs: this.#s === OPEN ? Math.max(0, this.#openUntil - nowMs) : 0,
      probesInFlight: this.#s === HALF_OPEN ? this.#leases.live(nowMs) : 0,
      timesOpened: this.#timesOpened,
      rejected: this.#rejected,
    };
  }

  toJSON(): CircuitBreakerJSON {
    const now = this.#o.clock.now();
    return {
      version: 1,
      state: this.state,
      remainingOpenMs: this.#s === OPEN ? Math.max(0, this.#openUntil - now) : 0,
      breakDurationMs: this.#breakMs,
      reopenCount: this.#reopens,
      consecutiveFailures: this.#consecutive,
      timesOpened: this.#timesOpened,
      rejected: this.#rejected,
    };
  }

  on<K extends keyof BreakerEvents>(event: K, listener: Listener<BreakerEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  #acquireSlow(nowMs: number): number {
    if (this.#s === OPEN) {
      if (nowMs < this.#openUntil) throw this.#reject(this.#openUntil - nowMs);
      this.#move(HALF_OPEN, 'open-expired');
    }
    if (this.#s === HALF_OPEN) {
      if (this.#leases.tryTake(nowMs, this.#breakMs)) return this.#episode;
      throw this.#reject(Math.max(0, this.#leases.nextEnd() - nowMs));
    }
    throw this.#reject(undefined);
  }

  #reject(retryAfterMs: number | undefined): BallastError<'BALLAST_CIRCUIT_OPEN'> {
    this.#rejected++;
    const state = this.state;
    if (this.#events.wants('rejected'))
      this.#events.emit('rejected', { name: this.name, state, retryAfterMs });
    return new BallastError('BALLAST_CIRCUIT_OPEN', `${this.name}: circuit ${state}`, {
      retryable: true,
      retryAfterMs,
      source: this.name,
    });
  }

  /**
   * Whether `permit` is a probe of the half-open episode in progress; if so, its lease is released. Only such a
   * result may decide half-open. A probe of an earlier episode has no lease left: its episode's leases were
   * dropped when that episode ended.
   */
  #currentProbe(permit: number): boolean {
    // While half-open, #episode >= 1, so a normal call's 0 never matches.
    if (permit !== this.#episode || this.#s !== HALF_OPEN) return false;
    this.#leases.release();
    return true;
  }

  #countFailure(nowMs: number, slow: boolean): void {
    this.#consecutive++;
    this.#window.record(nowMs, true, slow);
    const limit = this.#o.consecutiveFailures;
    if (limit > 0 && this.#consecutive >= limit) this.#open('consecutive-failures', nowMs);
    else this.#checkRates(nowMs);
  }

  #checkRates(nowMs: number): void {
    const w = this.#window;
    if (w.calls < this.#o.minimumThroughput) return;
    // Division, not multiplication: 3 / 10 >= 0.3 holds, 3 >= 0.3 * 10 does not.
    if (w.failures / w.calls >= this.#o.failureRateThreshold) this.#open('failure-rate', nowMs);
    else if (w.slow / w.calls >= this.#o.slowCallRateThreshold) this.#open('slow-call-rate', nowMs);
  }

  #probeDone(ok: boolean, failReason: StateChangeReason, nowMs: number): void {
    if (this.#events.wants('probe')) this.#events.emit('probe', { name: this.name, ok, source: 'call' });
    if (!ok) this.#open(failReason, nowMs);
    else if (++this.#probeOks >= this.#o.halfOpenProbes) {
      this.#reopens = 0;
      this.#window.clear();
      this.#consecutive = 0;
      this.#move(CLOSED, 'probe-succeeded');
    }
  }

  #open(reason: StateChangeReason, nowMs: number): void {
    const o = this.#o;
    const base = Math.min(o.breakDurationMs * o.backoffMultiplier ** this.#reopens, o.maxBreakDurationMs);
    const spread = 1 + o.jitter * (2 * o.random() - 1);
    this.#breakMs = Math.max(1, Math.min(base * spread, o.maxBreakDurationMs));
    this.#openedAt = nowMs;
    this.#openUntil = nowMs + this.#breakMs;
    this.#reopens++;
    this.#timesOpened++;
    this.#move(OPEN, reason);
  }

  #move(to: Code, reason: StateChangeReason): void {
    const from = this.#s;
    if (from === HALF_OPEN) this.#leases.clear();
    if (to === HALF_OPEN) {
      this.#probeOks = 0;
      this.#episode++;
    }
    this.#s = to;
    if (this.#events.wants('state-change')) {
      this.#events.emit('state-change', {
        name: this.name,
        from: NAMES[from] as BreakerState,
        to: NAMES[to] as BreakerState,
        reason,
        breakDurationMs: to === OPEN ? this.#breakMs : undefined,
      });
    }
  }

  #restore(json: CircuitBreakerJSON, nowMs: number): void {
    this.#s = CODES[json.state];
    this.#breakMs = json.breakDurationMs;
    this.#reopens = json.reopenCount;
    this.#consecutive = json.consecutiveFailures;
    this.#timesOpened = json.timesOpened;
    this.#rejected = json.rejected;
    if (this.#s === HALF_OPEN) this.#episode = 1;
    if (this.#s === OPEN) {
      this.#openUntil = nowMs + json.remainingOpenMs;
      this.#openedAt = this.#openUntil - json.breakDurationMs;
    }
    // A probe lease must last; a state saved before any opening has no break duration yet.
    if (this.#breakMs === 0 && this.#s === HALF_OPEN) this.#breakMs = this.#o.breakDurationMs;
  }
}

/**
 * Creates a circuit breaker (see {@link CircuitBreaker} for the state machine and {@link CircuitBreakerOptions}).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the invalid option, e.g. `breaker.failureRateThreshold`.
 * @example
 * const breaker = createCircuitBreaker({ name: 'redis', breakDurationMs: 2000 });
 * const permit = breaker.acquire(clock.now()); // throws BALLAST_CIRCUIT_OPEN when open
 */
export function createCircuitBreaker(options?: CircuitBreakerOptions): CircuitBreaker {
  return new BallastCircuitBreaker(resolveCircuitBreakerOptions(options));
}

/**
 * Creates a circuit breaker in the state `json` describes (from {@link CircuitBreaker.toJSON}).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` when `json` or an option is invalid (`breaker.initialState.*`).
 * @example const breaker = restoreCircuitBreaker(JSON.parse(saved), { name: 'pg' });
 */
export function restoreCircuitBreaker(
  json: CircuitBreakerJSON,
  options?: CircuitBreakerOptions,
): CircuitBreaker {
  return createCircuitBreaker({ ...options, initialState: json });
}

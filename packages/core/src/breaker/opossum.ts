import { type Clock, checkClock, systemClock } from '../clock.js';
import { BallastError, deadlineError, invalidArgument } from '../errors.js';
import { Events, type Listener, type Unsubscribe } from '../events.js';
import type { BreakerLike, BreakerState } from '../types.js';
import type { BreakerEvents, StateChangeReason } from './breaker-events.js';

/**
 * The part of an opossum `CircuitBreaker` (v8+) the adapter uses. Declared structurally so that opossum stays an
 * optional peer dependency: Ballast never imports it at runtime, nor needs its types.
 */
export interface OpossumBreakerLike {
  readonly name: string;
  readonly opened: boolean;
  readonly halfOpen: boolean;
  readonly closed: boolean;
  readonly isShutdown?: boolean;
  readonly options?: { readonly resetTimeout?: number | undefined } | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: opossum's action arguments are the caller's; `fire(work)` is all we use.
  fire(...args: any[]): Promise<unknown>;
  on(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/** Options of {@link fromOpossum}. */
export interface FromOpossumOptions {
  /** The opossum breaker. Its action must run the function it is given: `new CircuitBreaker((work) => work())`. */
  breaker: OpossumBreakerLike;
  /**
   * Name in Ballast errors and events.
   * @default the opossum breaker's `name`
   */
  name?: string | undefined;
  /**
   * Clock used to estimate `retryAfterMs` from opossum's `resetTimeout`.
   * @default systemClock
   */
  clock?: Clock | undefined;
}

/** A {@link BreakerLike} backed by an opossum breaker; see {@link fromOpossum}. */
export interface OpossumBreakerAdapter extends BreakerLike {
  /** Read from opossum: `opened` → open, `halfOpen` → half-open, shut down → isolated, otherwise closed. */
  readonly state: BreakerState;
  /** The opossum breaker it wraps. */
  readonly breaker: OpossumBreakerLike;
  /**
   * Runs `work` through `breaker.fire(work)`, mapping opossum's own rejections to Ballast errors.
   * @throws BallastError `BALLAST_CIRCUIT_OPEN` (EOPENBREAKER), `BALLAST_DEADLINE_EXCEEDED` (opossum's ETIMEDOUT,
   * cause kept), `BALLAST_SHED` with reason `limit` (ESEMLOCKED); any other error unchanged.
   */
  wrap<T>(work: () => Promise<T>): Promise<T>;
  /** Adds a listener of the mapped events; returns a function that removes it. */
  on<K extends keyof BreakerEvents>(event: K, listener: Listener<BreakerEvents[K]>): Unsubscribe;
  /** Stops listening to the opossum breaker's events. */
  dispose(): void;
}

/** opossum marks its own errors with a private symbol; its class exposes the check as a static method. */
function isOpossumError(breaker: OpossumBreakerLike, error: unknown): boolean {
  const isOurError = (breaker.constructor as { isOurError?: (e: unknown) => boolean }).isOurError;
  if (typeof isOurError === 'function') return isOurError(error);
  return error instanceof Error && /^(Breaker is open|Timed out after|Semaphore locked)/.test(error.message);
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Plugs an existing opossum breaker into Ballast (`createPolicy({ breaker: fromOpossum(b) })`).
 *
 * opossum has no public API to record an outcome except running work through `fire()`, so the adapter's
 * `wrap(work)` calls `breaker.fire(work)`: **the breaker's action must run the function it is given**, as in
 * `new CircuitBreaker((work) => work(), options)`. `acquire` returns 0 and `onSuccess`/`onFailure` do nothing.
 * opossum counts every rejection as a failure; pass `errorFilter: (e) => defaultClassifier(e) === 'ignore'` to
 * keep shed and caller-cancelled calls from opening it. Its `open`, `halfOpen`, `close` and `reject` events are
 * re-emitted as Ballast `state-change` and `rejected` events (and on `ballast:breaker:*` diagnostics channels).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` when no opossum breaker is given.
 * @example
 * import CircuitBreaker from 'opossum';
 * const ob = new CircuitBreaker((work: () => Promise<unknown>) => work(), { timeout: 3000 });
 * const breaker = fromOpossum(ob);
 * await breaker.wrap(() => pool.query('select 1'));
 */
export function fromOpossum(
  breakerOrOptions: OpossumBreakerLike | FromOpossumOptions,
): OpossumBreakerAdapter {
  const given = breakerOrOptions as Partial<OpossumBreakerLike> | null | undefined;
  const opts: FromOpossumOptions =
    typeof given?.fire === 'function'
      ? { breaker: breakerOrOptions as OpossumBreakerLike }
      : ((breakerOrOptions ?? {}) as FromOpossumOptions);
  const breaker = opts.breaker as OpossumBreakerLike | undefined;
  if (typeof breaker?.fire !== 'function' || typeof breaker.on !== 'function')
    throw invalidArgument('opossum.breaker', breaker, 'an opossum CircuitBreaker');
  const clock = checkClock('opossum.clock', opts.clock ?? systemClock);
  const name =
    opts.name ?? (typeof breaker.name === 'string' && breaker.name !== '' ? breaker.name : 'opossum');
  const events = new Events<BreakerEvents>('breaker');
  let openedAt: number | undefined;

  const readState = (): BreakerState => {
    if (breaker.isShutdown === true) return 'isolated';
    if (breaker.opened) return 'open';
    if (breaker.halfOpen) return 'half-open';
    return 'closed';
  };
  const retryAfter = (): number | undefined => {
    const reset = breaker.options?.resetTimeout;
    if (openedAt === undefined || typeof reset !== 'number') return undefined;
    return Math.max(0, openedAt + reset - clock.now());
  };

  // opossum emits after changing state, so the previous state is tracked here.
  let last = readState();
  const change = (to: BreakerState, reason: StateChangeReason): void => {
    const from = last;
    last = to;
    if (from !== to && events.wants('state-change')) events.emit('state-change', { name, from, to, reason });
  };
  const onOpen = (): void => {
    openedAt = clock.now();
    change('open', last === 'half-open' ? 'probe-failed' : 'failure-rate');
  };
  const onHalfOpen = (): void => change('half-open', 'open-expired');
  const onClose = (): void => change('closed', last === 'half-open' ? 'probe-succeeded' : 'manual');
  const onReject = (): void => {
    if (events.wants('rejected'))
      events.emit('rejected', { name, state: readState(), retryAfterMs: retryAfter() });
  };
  breaker.on('open', onOpen);
  breaker.on('halfOpen', onHalfOpen);
  breaker.on('close', onClose);
  breaker.on('reject', onReject);

  const mapError = (error: unknown): unknown => {
    const code = codeOf(error);
    if (code !== 'EOPENBREAKER' && code !== 'ETIMEDOUT' && code !== 'ESEMLOCKED') return error;
    // A socket ETIMEDOUT from the work itself is the dependency's failure: leave it alone.
    if (!isOpossumError(breaker, error)) return error;
    if (code === 'ETIMEDOUT') return deadlineError(name, error);
    if (code === 'ESEMLOCKED')
      return new BallastError('BALLAST_SHED', `${name}: shed (limit)`, {
        retryable: true,
        reason: 'limit',
        source: name,
        cause: error,
      });
    return new BallastError('BALLAST_CIRCUIT_OPEN', `${name}: circuit ${readState()}`, {
      retryable: true,
      retryAfterMs: retryAfter(),
      source: name,
      cause: error,
    });
  };

  return {
    name,
    breaker,
    get state() {
      return readState();
    },
    acquire: () => 0,
    onSuccess: () => {},
    onFailure: () => {},
    wrap<T>(work: () => Promise<T>): Promise<T> {
      return (breaker.fire(work) as Promise<T>).catch((error: unknown) => {
        throw mapError(error);
      });
    },
    on: (event, listener) => events.on(event, listener),
    dispose() {
      breaker.removeListener('open', onOpen);
      breaker.removeListener('halfOpen', onHalfOpen);
      breaker.removeListener('close', onClose);
      breaker.removeListener('reject', onReject);
    },
  };
}

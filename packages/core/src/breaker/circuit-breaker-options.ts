import { defaultClassifier } from '../classify.js';
import { type Clock, checkClock, systemClock } from '../clock.js';
import { invalidArgument } from '../errors.js';
import { checkFunction, checkInteger, checkNumber } from '../options.js';
import type { ErrorClassifier } from '../types.js';
import { type CircuitBreakerJSON, checkCircuitBreakerJSON } from './circuit-breaker-json.js';

/** Options of {@link createCircuitBreaker}. Every field is optional; see {@link DEFAULT_CIRCUIT_BREAKER}. */
export interface CircuitBreakerOptions {
  /**
   * Name used in errors, events and diagnostics.
   * @default 'breaker'
   */
  name?: string | undefined;
  /**
   * Opens after this many failures in a row, regardless of throughput. `0` turns the trigger off.
   * @default 5
   */
  consecutiveFailures?: number | undefined;
  /**
   * Opens when failures / calls in the window reaches this share, in (0, 1], once `minimumThroughput` calls are in it.
   * @default 0.5
   */
  failureRateThreshold?: number | undefined;
  /**
   * Opens when slow calls / calls in the window reaches this share, in (0, 1], once `minimumThroughput` calls are
   * in it. `1` opens only when every call in the window is slow.
   * @default 1
   */
  slowCallRateThreshold?: number | undefined;
  /**
   * A call that took at least this long (ms) is slow, whatever its outcome (ignored errors included).
   * `Infinity` turns slow-call detection off.
   * @default 2000
   */
  slowCallDurationMs?: number | undefined;
  /**
   * Calls the window must hold before the failure and slow-call rates are considered.
   * @default 20
   */
  minimumThroughput?: number | undefined;
  /**
   * Length of the sliding window of the rates, in ms.
   * @default 10000
   */
  windowMs?: number | undefined;
  /**
   * Number of buckets the window is split into; a bucket expires as a whole.
   * @default 10
   */
  buckets?: number | undefined;
  /**
   * Probes half-open admits at once. All of them must succeed to close.
   * @default 1
   */
  halfOpenProbes?: number | undefined;
  /**
   * Open duration (ms) after the first opening; also the lease of a half-open probe.
   * @default 5000
   */
  breakDurationMs?: number | undefined;
  /**
   * Cap of the open duration (ms) as it grows on each reopening.
   * @default 60000
   */
  maxBreakDurationMs?: number | undefined;
  /**
   * Factor the open duration grows by on each reopening without a successful close in between.
   * @default 2
   */
  backoffMultiplier?: number | undefined;
  /**
   * Relative random spread of each open duration, in [0, 1]: `0.2` gives ±20 %.
   * @default 0.2
   */
  jitter?: number | undefined;
  /**
   * Time source of `execute`, `stats` and `recordHealthCheck` when no time is passed.
   * @default systemClock
   */
  clock?: Clock | undefined;
  /**
   * Decides whether an error counts against the dependency.
   * @default defaultClassifier
   */
  isFailure?: ErrorClassifier | undefined;
  /**
   * Source of randomness for the jitter, returning a number in [0, 1).
   * @default Math.random
   */
  random?: (() => number) | undefined;
  /**
   * State to start from, as returned by {@link CircuitBreaker.toJSON} (e.g. persisted across a restart).
   * @default undefined (closed)
   */
  initialState?: CircuitBreakerJSON | undefined;
}

/** {@link CircuitBreakerOptions} after defaults and validation. */
export interface ResolvedCircuitBreakerOptions {
  readonly name: string;
  readonly consecutiveFailures: number;
  readonly failureRateThreshold: number;
  readonly slowCallRateThreshold: number;
  readonly slowCallDurationMs: number;
  readonly minimumThroughput: number;
  readonly windowMs: number;
  readonly buckets: number;
  readonly halfOpenProbes: number;
  readonly breakDurationMs: number;
  readonly maxBreakDurationMs: number;
  readonly backoffMultiplier: number;
  readonly jitter: number;
  readonly clock: Clock;
  readonly isFailure: ErrorClassifier;
  readonly random: () => number;
  readonly initialState: CircuitBreakerJSON | undefined;
}

/**
 * The defaults of {@link CircuitBreakerOptions}.
 * @example createCircuitBreaker({ ...DEFAULT_CIRCUIT_BREAKER, consecutiveFailures: 0 })
 */
export const DEFAULT_CIRCUIT_BREAKER: Readonly<Omit<ResolvedCircuitBreakerOptions, 'initialState'>> =
  Object.freeze({
    name: 'breaker',
    consecutiveFailures: 5,
    failureRateThreshold: 0.5,
    slowCallRateThreshold: 1,
    slowCallDurationMs: 2000,
    minimumThroughput: 20,
    windowMs: 10_000,
    buckets: 10,
    halfOpenProbes: 1,
    breakDurationMs: 5000,
    maxBreakDurationMs: 60_000,
    backoffMultiplier: 2,
    jitter: 0.2,
    clock: systemClock,
    isFailure: defaultClassifier,
    random: Math.random,
  });

const P = 'breaker';
const MAX_MS = Number.MAX_SAFE_INTEGER;

/** A number in (0, 1]. */
function checkShare(option: string, value: unknown): number {
  const v = checkNumber(option, value, 0, 1);
  if (v === 0) throw invalidArgument(option, value, 'a number in (0, 1]');
  return v;
}

/**
 * Merges `options` with {@link DEFAULT_CIRCUIT_BREAKER} and validates every field.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option (e.g. `breaker.failureRateThreshold`) and value.
 * @example const resolved = resolveCircuitBreakerOptions({ breakDurationMs: 1000 });
 */
export function resolveCircuitBreakerOptions(
  options: CircuitBreakerOptions = {},
): ResolvedCircuitBreakerOptions {
  const d = DEFAULT_CIRCUIT_BREAKER;
  const name = options.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument(`${P}.name`, name, 'a non-empty string');
  const slowCallDurationMs = checkNumber(
    `${P}.slowCallDurationMs`,
    options.slowCallDurationMs ?? d.slowCallDurationMs,
    0,
  );
  if (slowCallDurationMs === 0) throw invalidArgument(`${P}.slowCallDurationMs`, 0, 'a number > 0');
  const windowMs = checkNumber(`${P}.windowMs`, options.windowMs ?? d.windowMs, 1, MAX_MS);
  const buckets = checkInteger(`${P}.buckets`, options.buckets ?? d.buckets, 1, 1000);
  if (windowMs / buckets < 1)
    throw invalidArgument(`${P}.buckets`, buckets, `at most windowMs (${windowMs}) buckets`);
  const breakDurationMs = checkNumber(
    `${P}.breakDurationMs`,
    options.breakDurationMs ?? d.breakDurationMs,
    1,
    MAX_MS,
  );
  const maxBreakDurationMs = checkNumber(
    `${P}.maxBreakDurationMs`,
    options.maxBreakDurationMs ?? Math.max(d.maxBreakDurationMs, breakDurationMs),
    breakDurationMs,
    MAX_MS,
  );
  const initialState = options.initialState;
  return {
    name,
    consecutiveFailures: checkInteger(
      `${P}.consecutiveFailures`,
      options.consecutiveFailures ?? d.consecutiveFailures,
      0,
    ),
    failureRateThreshold: checkShare(
      `${P}.failureRateThreshold`,
      options.failureRateThreshold ?? d.failureRateThreshold,
    ),
    slowCallRateThreshold: checkShare(
      `${P}.slowCallRateThreshold`,
      options.slowCallRateThreshold ?? d.slowCallRateThreshold,
    ),
    slowCallDurationMs,
    minimumThroughput: checkInteger(
      `${P}.minimumThroughput`,
      options.minimumThroughput ?? d.minimumThroughput,
      1,
    ),
    windowMs,
    buckets,
    halfOpenProbes: checkInteger(`${P}.halfOpenProbes`, options.halfOpenProbes ?? d.halfOpenProbes, 1, 1000),
    breakDurationMs,
    maxBreakDurationMs,
    backoffMultiplier: checkNumber(
      `${P}.backoffMultiplier`,
      options.backoffMultiplier ?? d.backoffMultiplier,
      1,
      1000,
    ),
    jitter: checkNumber(`${P}.jitter`, options.jitter ?? d.jitter, 0, 1),
    clock: checkClock(`${P}.clock`, options.clock ?? d.clock),
    isFailure: checkFunction<ErrorClassifier>(`${P}.isFailure`, options.isFailure ?? d.isFailure),
    random: checkFunction<() => number>(`${P}.random`, options.random ?? d.random),
    initialState:
      initialState === undefined ? undefined : checkCircuitBreakerJSON(`${P}.initialState`, initialState),
  };
}

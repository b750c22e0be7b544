/**
 * Shared vocabulary of the policies. The interfaces here are the seams `createPolicy` composes:
 * a breaker and a limiter built by Ballast, or a user's own (`fromOpossum`), plug in through them.
 */

/** Call priorities, most important first. Under pressure the last ones are shed first. */
export type Priority = 'critical' | 'interactive' | 'batch' | 'background';

/** All priorities in order of importance. */
export const PRIORITIES: readonly Priority[] = Object.freeze([
  'critical',
  'interactive',
  'batch',
  'background',
]);

/** What an error says about the dependency: `failure` counts against it, `ignore` does not (shed, caller cancel, bad input). */
export type ErrorVerdict = 'failure' | 'ignore';

/** Decides whether an error is the dependency's failure. */
export type ErrorClassifier = (error: unknown) => ErrorVerdict;

/** The breaker's states. `isolated` is a manual hold-open until `reset()`. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/**
 * The contract between `createPolicy` and a circuit breaker.
 * Hot path: `acquire(now)` then exactly one of `onSuccess` / `onFailure` with the permit it returned.
 */
export interface BreakerLike {
  readonly name: string;
  readonly state: BreakerState;
  /**
   * Admits one call, synchronously. Returns a non-negative permit that the breaker reads back in `onSuccess` /
   * `onFailure`. Ballast's breaker: 0: a normal call; > 0: a half-open probe of a given episode.
   * @throws BallastError `BALLAST_CIRCUIT_OPEN` (retryable, `retryAfterMs` = remaining open time) when it must not run.
   */
  acquire(nowMs: number): number;
  /** The admitted call succeeded after `durationMs` (slow calls still count towards the slow-call rate). */
  onSuccess(permit: number, durationMs: number, nowMs: number): void;
  /** The admitted call failed. The breaker classifies `error`; ignored errors release a probe without counting. */
  onFailure(permit: number, durationMs: number, nowMs: number, error: unknown): void;
  /**
   * Optional: breakers that can only observe outcomes by running the work themselves (opossum) wrap it.
   * When present, `createPolicy` calls `wrap(work)` instead of `acquire`/`onSuccess`/`onFailure`.
   */
  wrap?<T>(work: () => Promise<T>): Promise<T>;
}

/** A concurrency permit; release it exactly once through the limiter that issued it. */
export interface LimiterPermit {
  /** Index into {@link PRIORITIES}. */
  readonly priority: number;
  /** In-flight count when the permit was granted (including this one). */
  readonly inflightAtStart: number;
}

/** How a call that held a permit ended, for the limit algorithm. */
export type LimiterOutcome =
  /** Completed (success, or an error that says nothing about overload): a latency sample. */
  | 'success'
  /** Timed out or failed in a way that signals overload: a drop for the algorithm (AIMD halves, etc.). */
  | 'dropped'
  /** Ended without a meaningful sample (caller cancelled): no sample. */
  | 'ignore';

/** The contract between `createPolicy` and a concurrency limiter with an admission queue. */
export interface LimiterLike {
  /** Current concurrency limit (may be fractional internally; effective limit is its floor, at least 1). */
  readonly limit: number;
  readonly inflight: number;
  readonly queued: number;
  /** Fast path: a permit when the call may start now, or `undefined` when it must queue (then call `acquire`). */
  tryAcquire(priority: Priority): LimiterPermit | undefined;
  /**
   * Waits in the admission queue.
   * @param deadlineAt absolute time in clock ms after which the wait is pointless (`Infinity`: none)
   * @throws BallastError `BALLAST_SHED` with `reason` when the call is shed; `BALLAST_ABORTED` when `signal` aborts.
   */
  acquire(priority: Priority, deadlineAt: number, signal?: AbortSignal): Promise<LimiterPermit>;
  /** Releases the permit once; a second release of the same permit is ignored and counted in stats. */
  release(permit: LimiterPermit, outcome: LimiterOutcome, rttMs: number): void;
}

import { BallastError } from '@ballast/core';

/**
 * Replica choice: power of two choices over peak-EWMA latency × (outstanding + 1), and outlier ejection.
 * Everything here is pure: time (`nowMs`) and randomness come from the caller.
 */

/**
 * Latencies below this (µs-scale, or a decayed estimate of an idle host) count as this, so that the cost
 * still grows with `outstanding` and one host with a near-zero estimate does not absorb every query.
 */
const MIN_COST_LATENCY_MS = 0.001;

/**
 * The load-balancing cost of a replica, lower is better: `latencyMs × (outstanding + 1)`, with `latencyMs`
 * taken as at least 1 µs so that queries in flight always count.
 * @param latencyMs its peak-EWMA latency ({@link PeakEwma.value})
 * @param outstanding queries in flight on it now
 */
export function replicaCost(latencyMs: number, outstanding: number): number {
  return Math.max(latencyMs, MIN_COST_LATENCY_MS) * (outstanding + 1);
}

/**
 * Picks a replica by the power of two choices: two distinct eligible candidates drawn uniformly at random,
 * the one with the lower cost wins (the first drawn on a tie). One eligible candidate is returned as is,
 * without a draw; none gives `undefined` (read from the primary, or wait).
 *
 * Allocation-free; O(n) in the number of candidates; `cost` is called twice.
 * @param cost a candidate's cost, e.g. `(h) => replicaCost(h.latency.value(now), h.outstanding)`
 * @param random uniform in [0, 1), e.g. `Math.random`; a value outside it counts as 0
 * @param eligible which candidates may serve this read (not ejected, breaker closed, caught up, lag within
 *   bounds); all when omitted. Called up to 3 times per candidate.
 */
export function pickReplica<T>(
  candidates: readonly T[],
  cost: (candidate: T) => number,
  random: () => number,
  eligible?: ((candidate: T) => boolean) | undefined,
): T | undefined {
  let count = 0;
  for (const c of candidates) if (eligible === undefined || eligible(c)) count++;
  if (count === 0) return undefined;
  if (count === 1) return nthEligible(candidates, 0, eligible);
  const i = randomIndex(random, count);
  // A distinct second index: draw among the other count - 1 and skip over i.
  let j = randomIndex(random, count - 1);
  if (j >= i) j++;
  const a = nthEligible(candidates, i, eligible);
  const b = nthEligible(candidates, j, eligible);
  if (a === undefined || b === undefined) return a ?? b;
  return cost(b) < cost(a) ? b : a;
}

function randomIndex(random: () => number, n: number): number {
  const r = random();
  // A misbehaving source (1, NaN, negative) must not index past the end: such a draw counts as 0.
  const i = Math.floor((r >= 0 && r < 1 ? r : 0) * n);
  return Math.min(i, n - 1);
}

function nthEligible<T>(
  candidates: readonly T[],
  n: number,
  eligible?: (candidate: T) => boolean,
): T | undefined {
  if (eligible === undefined) return candidates[n];
  let seen = 0;
  for (const c of candidates) {
    if (!eligible(c)) continue;
    if (seen === n) return c;
    seen++;
  }
  return undefined;
}

/** Options of {@link PeakEwma}. */
export interface PeakEwmaOptions {
  /**
   * Time constant of the decay, in ms: a sample below the estimate moves it by `1 - exp(-Δt / decayMs)` of
   * the gap, and without samples the estimate decays toward 0 at that rate (so a host that was slow once is
   * tried again).
   * @default 10_000
   */
  decayMs?: number | undefined;
  /**
   * The estimate before the first sample, in ms. The first sample replaces it. Feed health-check round trips
   * as samples too, so a host has a measured estimate before it serves reads.
   * @default 1
   */
  initialMs?: number | undefined;
}

/** Defaults of {@link PeakEwmaOptions}. */
export const DEFAULT_PEAK_EWMA = Object.freeze({ decayMs: 10_000, initialMs: 1 });

/**
 * A peak-sensitive moving average of latency (Finagle's and Linkerd's peak EWMA): a sample above the estimate
 * replaces it at once — a host that turns slow is avoided from its first slow reply — and a sample below it
 * pulls it down gradually, with time constant `decayMs` of the caller's clock.
 */
export class PeakEwma {
  readonly #decayMs: number;
  #valueMs: number;
  /** Clock ms of the last sample; undefined before the first one. */
  #stampMs: number | undefined;

  /** @throws BallastError `BALLAST_INVALID_ARGUMENT` when `decayMs` is not > 0 or `initialMs` not >= 0 (finite). */
  constructor(options: PeakEwmaOptions = {}) {
    const decayMs = options.decayMs ?? DEFAULT_PEAK_EWMA.decayMs;
    const initialMs = options.initialMs ?? DEFAULT_PEAK_EWMA.initialMs;
    if (!(Number.isFinite(decayMs) && decayMs > 0)) throw invalid('decayMs', decayMs, 'a finite number > 0');
    if (!(Number.isFinite(initialMs) && initialMs >= 0))
      throw invalid('initialMs', initialMs, 'a finite number >= 0');
    this.#decayMs = decayMs;
    this.#valueMs = initialMs;
  }

  /**
   * Adds a latency sample taken at `nowMs`. Non-finite or negative samples are ignored (a timeout should be
   * fed as the time waited, which is a peak). A `nowMs` earlier than the last sample counts as no time
   * elapsed.
   */
  record(latencyMs: number, nowMs: number): void {
    if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) return;
    if (this.#stampMs === undefined) {
      this.#valueMs = latencyMs;
    } else {
      const current = this.value(nowMs);
      if (latencyMs > current) this.#valueMs = latencyMs;
      else {
        const w = Math.exp(-Math.max(0, nowMs - this.#stampMs) / this.#decayMs);
        this.#valueMs = current * w + latencyMs * (1 - w);
      }
    }
    this.#stampMs = Math.max(nowMs, this.#stampMs ?? nowMs);
  }

  /** The estimate at `nowMs`, in ms: the last one decayed toward 0 for the time since the last sample. */
  value(nowMs: number): number {
    if (this.#stampMs === undefined) return this.#valueMs;
    const elapsed = nowMs - this.#stampMs;
    return elapsed > 0 ? this.#valueMs * Math.exp(-elapsed / this.#decayMs) : this.#valueMs;
  }
}

/** Options of {@link OutlierEjector}. */
export interface OutlierEjectorOptions {
  /** Consecutive failures that eject a replica. @default 5 */
  consecutiveFailures?: number | undefined;
  /** Ejection time per time ejected, in ms: the n-th ejection lasts `n × baseEjectionMs`. @default 30_000 */
  baseEjectionMs?: number | undefined;
  /** Longest ejection, in ms. @default 300_000 */
  maxEjectionMs?: number | undefined;
  /** At most this fraction of the replicas is ejected at once (rounded down). @default 0.5 */
  maxEjectedFraction?: number | undefined;
}

/** Defaults of {@link OutlierEjectorOptions}. */
export const DEFAULT_OUTLIER_EJECTOR = Object.freeze({
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectedFraction: 0.5,
});

/**
 * Whether one more replica may be ejected when `ejectedCount` of `total` already are: never more than
 * `maxEjectedFraction` of them (by default half, rounded down: none of 1, one of 2 or 3, two of 4 or 5).
 */
export function canEject(
  ejectedCount: number,
  total: number,
  maxEjectedFraction: number = DEFAULT_OUTLIER_EJECTOR.maxEjectedFraction,
): boolean {
  return ejectedCount + 1 <= Math.floor(total * maxEjectedFraction);
}

interface HostState {
  consecutiveFailures: number;
  timesEjected: number;
  /** Clock ms the current or last ejection ends; -Infinity when never ejected. */
  ejectedUntil: number;
}

/**
 * Ejects replicas that fail repeatedly (Envoy's outlier detection): `consecutiveFailures` failures in a row
 * eject a replica for `timesEjected × baseEjectionMs` (at most `maxEjectionMs`), unless that would eject more
 * than `maxEjectedFraction` of the replicas — then it stays in and is ejected on a later failure once there
 * is room. When an ejection ends the replica starts over with no failures; each `baseEjectionMs` it then
 * spends without being ejected takes one off `timesEjected`, so a replica that recovered is not punished
 * forever.
 *
 * Count only failures of the replica (connection errors, server errors that are not the caller's fault), not
 * sheds, deadlines or caller aborts. All times are the caller's clock ms.
 */
export class OutlierEjector {
  readonly #consecutiveFailures: number;
  readonly #baseEjectionMs: number;
  readonly #maxEjectionMs: number;
  readonly #maxEjectedFraction: number;
  readonly #hosts = new Map<string, HostState>();

  /** @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the option when one is out of range. */
  constructor(options: OutlierEjectorOptions = {}) {
    const d = DEFAULT_OUTLIER_EJECTOR;
    this.#consecutiveFailures = options.consecutiveFailures ?? d.consecutiveFailures;
    this.#baseEjectionMs = options.baseEjectionMs ?? d.baseEjectionMs;
    this.#maxEjectionMs = options.maxEjectionMs ?? d.maxEjectionMs;
    this.#maxEjectedFraction = options.maxEjectedFraction ?? d.maxEjectedFraction;
    if (!(Number.isInteger(this.#consecutiveFailures) && this.#consecutiveFailures >= 1))
      throw invalid('consecutiveFailures', this.#consecutiveFailures, 'an integer >= 1');
    if (!(Number.isFinite(this.#baseEjectionMs) && this.#baseEjectionMs > 0))
      throw invalid('baseEjectionMs', this.#baseEjectionMs, 'a finite number > 0');
    if (!(Number.isFinite(this.#maxEjectionMs) && this.#maxEjectionMs >= this.#baseEjectionMs))
      throw invalid('maxEjectionMs', this.#maxEjectionMs, 'a finite number >= baseEjectionMs');
    if (!(this.#maxEjectedFraction >= 0 && this.#maxEjectedFraction <= 1))
      throw invalid('maxEjectedFraction', this.#maxEjectedFraction, 'a number in [0, 1]');
  }

  /** A successful call on `id`: its run of failures ends. */
  onSuccess(id: string): void {
    const state = this.#hosts.get(id);
    if (state !== undefined) state.consecutiveFailures = 0;
  }

  /**
   * A failed call on `id` at `nowMs`, with `total` replicas in the set.
   * @returns true when this failure ejected it
   */
  onFailure(id: string, nowMs: number, total: number): boolean {
    let state = this.#hosts.get(id);
    if (state === undefined) {
      state = { consecutiveFailures: 0, timesEjected: 0, ejectedUntil: Number.NEGATIVE_INFINITY };
      this.#hosts.set(id, state);
    }
    // Failures of queries that were already in flight when it was ejected do not extend the ejection.
    if (state.ejectedUntil > nowMs) return false;
    state.consecutiveFailures++;
    if (state.consecutiveFailures < this.#consecutiveFailures) return false;
    if (!canEject(this.ejectedCount(nowMs), total, this.#maxEjectedFraction)) return false;
    if (state.timesEjected > 0) {
      const forgiven = Math.floor((nowMs - state.ejectedUntil) / this.#baseEjectionMs);
      state.timesEjected = Math.max(0, state.timesEjected - forgiven);
    }
    state.timesEjected++;
    state.ejectedUntil = nowMs + Math.min(state.timesEjected * this.#baseEjectionMs, this.#maxEjectionMs);
    state.consecutiveFailures = 0;
    return true;
  }

  /** Whether `id` is ejected at `nowMs`. */
  isEjected(id: string, nowMs: number): boolean {
    const state = this.#hosts.get(id);
    return state !== undefined && state.ejectedUntil > nowMs;
  }

  /** Clock ms when `id`'s ejection ends, or undefined when it is not ejected at `nowMs`. */
  ejectedUntil(id: string, nowMs: number): number | undefined {
    const state = this.#hosts.get(id);
    return state !== undefined && state.ejectedUntil > nowMs ? state.ejectedUntil : undefined;
  }

  /** Replicas ejected at `nowMs`. */
  ejectedCount(nowMs: number): number {
    let count = 0;
    for (const state of this.#hosts.values()) if (state.ejectedUntil > nowMs) count++;
    return count;
  }

  /** Forgets `id` (removed from the replica set). */
  remove(id: string): void {
    this.#hosts.delete(id);
  }
}

function invalid(option: string, value: number, expected: string): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  return new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `Invalid option ${option}: expected ${expected}, received ${String(value)}`,
  );
}

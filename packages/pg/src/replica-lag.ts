import { BallastError } from '@ballast/core';

/**
 * Replica lag in time, from positions: a short history of the primary's LSN (from its health checks) tells
 * how long ago the primary was where a replica is now. Used for `maxReplicaLagMs` on eventual reads. Pure:
 * time comes from the caller.
 */

/** Options of {@link ReplicaLag}. */
export interface ReplicaLagOptions {
  /**
   * Samples kept. The history spans about `maxSamples` × the health-check interval (an idle primary uses two
   * samples however long it stays idle); a replica behind all of it has an unknown, `Infinity`, lag. Size it
   * so the span exceeds the largest `maxReplicaLagMs` in use.
   * @default 64
   */
  maxSamples?: number | undefined;
}

/** Defaults of {@link ReplicaLagOptions}. */
export const DEFAULT_REPLICA_LAG = Object.freeze({ maxSamples: 64 });

/**
 * The primary's recent positions, `(time, LSN)` samples in time order, and the lag they imply for a replica.
 * Record samples of one timeline: a sample whose LSN is below the last one (a failover to a replica that was
 * behind) starts the history over.
 * @example
 * const lag = new ReplicaLag();
 * lag.record(primaryHealth.lsn, primaryHealth.at);
 * const eligible = lag.lagMs(replicaHealth.lsn, clock.now()) <= maxReplicaLagMs;
 */
export class ReplicaLag {
  readonly #maxSamples: number;
  readonly #times: number[] = [];
  readonly #lsns: bigint[] = [];

  /** @throws BallastError `BALLAST_INVALID_ARGUMENT` when `maxSamples` is not an integer >= 2. */
  constructor(options: ReplicaLagOptions = {}) {
    const maxSamples = options.maxSamples ?? DEFAULT_REPLICA_LAG.maxSamples;
    if (!Number.isInteger(maxSamples) || maxSamples < 2) {
      throw new BallastError(
        'BALLAST_INVALID_ARGUMENT',
        `Invalid option maxSamples: expected an integer >= 2, received ${String(maxSamples)}`,
      );
    }
    this.#maxSamples = maxSamples;
  }

  /** Samples currently held. */
  get size(): number {
    return this.#times.length;
  }

  /**
   * Adds a sample: the primary was at `lsn` at clock ms `at` (its health's `lsn` and `at`). A sample older
   * than the latest is ignored; one whose LSN is below the latest clears the history first. While the LSN
   * does not move only the first and the latest sample of the run are kept, so an idle primary does not push
   * older positions out.
   */
  record(lsn: bigint, at: number): void {
    const n = this.#times.length;
    const lastAt = this.#times[n - 1];
    const lastLsn = this.#lsns[n - 1];
    if (lastAt !== undefined && lastLsn !== undefined) {
      if (!(at >= lastAt)) return;
      if (lsn < lastLsn) this.clear();
      else if (lsn === lastLsn && this.#lsns[n - 2] === lsn) {
        this.#times[n - 1] = at;
        return;
      }
    }
    this.#times.push(at);
    this.#lsns.push(lsn);
    if (this.#times.length > this.#maxSamples) {
      this.#times.shift();
      this.#lsns.shift();
    }
  }

  /** Forgets every sample (a new primary, a new timeline). */
  clear(): void {
    this.#times.length = 0;
    this.#lsns.length = 0;
  }

  /**
   * How long ago, in ms before `now`, the primary was at `replicaLsn`.
   * - 0 when `replicaLsn` is at or past the latest sample (and when the history is empty: nothing to compare
   *   with).
   * - Between two samples `(t0, l0)` and `(t1, l1)` with `l0 <= replicaLsn < l1`: `now - t`, where `t` is
   *   interpolated linearly between `t0` and `t1`. The true lag lies in `[now - t1, now - t0]`.
   * - `Infinity` when `replicaLsn` is below every sample: older than the history can tell.
   * Never negative, never NaN for finite inputs. O(log n).
   */
  lagMs(replicaLsn: bigint, now: number): number {
    const n = this.#lsns.length;
    const latest = this.#lsns[n - 1];
    if (latest === undefined || replicaLsn >= latest) return 0;
    // First sample whose LSN is above the replica's: the primary was past the replica from then on.
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#lsns[mid] as bigint) > replicaLsn) hi = mid;
      else lo = mid + 1;
    }
    if (lo === 0) return Number.POSITIVE_INFINITY;
    const t0 = this.#times[lo - 1] as number;
    const t1 = this.#times[lo] as number;
    const l0 = this.#lsns[lo - 1] as bigint;
    const l1 = this.#lsns[lo] as bigint;
    const fraction = Number(replicaLsn - l0) / Number(l1 - l0);
    const at = t0 + (t1 - t0) * fraction;
    return Math.max(0, now - at);
  }
}

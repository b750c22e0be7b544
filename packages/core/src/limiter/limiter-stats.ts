import type { ShedReason } from '../errors.js';
import type { Priority } from '../types.js';

/** A count per priority. */
export type PerPriority = Record<Priority, number>;

/** A snapshot of a limiter, from {@link Limiter.stats}. */
export interface LimiterStats {
  readonly name: string;
  /** Effective limit: `max(1, floor(algorithmLimit))`. */
  readonly limit: number;
  /** The algorithm's raw (possibly fractional) limit. */
  readonly algorithmLimit: number;
  readonly inflight: number;
  readonly inflightByPriority: PerPriority;
  readonly queued: number;
  readonly queuedByPriority: PerPriority;
  /** Calls shed, by reason and priority. */
  readonly shed: Record<ShedReason, PerPriority>;
  readonly shedTotal: number;
  /** Queued calls whose signal aborted. */
  readonly aborted: number;
  /** Releases of an already released permit (ignored). */
  readonly doubleReleases: number;
  /** The current expected service time in milliseconds (0 when unknown or disabled). */
  readonly expectedServiceTimeMs: number;
}

/** Events of a limiter (component `limiter`; diagnostics channels `ballast:limiter:<event>`). */
export interface LimiterEvents {
  /** The effective (integer) limit changed. */
  'limit-change': { readonly name: string; readonly from: number; readonly to: number };
  /** A call was shed. */
  shed: { readonly name: string; readonly priority: Priority; readonly reason: ShedReason };
}

/** Builds a {@link PerPriority} from counts indexed like `PRIORITIES`. Internal. */
export function perPriority(counts: readonly number[]): PerPriority {
  return {
    critical: counts[0] ?? 0,
    interactive: counts[1] ?? 0,
    batch: counts[2] ?? 0,
    background: counts[3] ?? 0,
  };
}

import type { Clock } from '../clock.js';
import { abortedError, invalidArgument, type ShedReason, shedError } from '../errors.js';
import { Events, type Listener, type Unsubscribe } from '../events.js';
import {
  type LimiterLike,
  type LimiterOutcome,
  type LimiterPermit,
  PRIORITIES,
  type Priority,
} from '../types.js';
import { AdmissionQueue } from './admission-queue.js';
import type { LimitAlgorithm } from './limit-algorithm.js';
import { type LimiterOptions, resolveLimiterOptions } from './limiter-options.js';
import { type LimiterEvents, type LimiterStats, type PerPriority, perPriority } from './limiter-stats.js';
import type { ServiceTimeEstimator } from './service-time.js';
import { Permit } from './waiter.js';

/** An adaptive concurrency limiter with a bounded, prioritised admission queue. */
export interface Limiter extends LimiterLike {
  readonly name: string;
  /** The algorithm's current limit (may be fractional; the effective limit is `max(1, floor(limit))`). */
  readonly limit: number;
  /** A snapshot of counters. Allocates; not for the hot path. */
  stats(): LimiterStats;
  /** Listens to `'limit-change'` or `'shed'`; returns a function that removes the listener. */
  on<K extends keyof LimiterEvents>(event: K, listener: Listener<LimiterEvents[K]>): Unsubscribe;
}

const CRITICAL = 0;
const LOWEST = 3;
const SHED_REASONS: readonly ShedReason[] = ['queue-full', 'deadline', 'priority', 'limit'];

function priorityIndex(priority: Priority): number {
  switch (priority) {
    case 'critical':
      return 0;
    case 'interactive':
      return 1;
    case 'batch':
      return 2;
    case 'background':
      return 3;
    default:
      throw invalidArgument('priority', priority, "'critical', 'interactive', 'batch' or 'background'");
  }
}

/**
 * Creates a concurrency limiter. The limit comes from a {@link LimitAlgorithm} (Gradient2 by default) and is
 * shared by priorities: each non-critical priority is guaranteed `floor(limit × share)` (interactive at least 1)
 * when it competes for a freed slot, and borrows any free slot otherwise. `critical` takes any free slot, jumps
 * every queue and evicts the lowest-priority waiter from a full queue; with `criticalOverdraft: k` it may also
 * hold up to `k` permits above the limit. Admissions never take in-flight above the effective limit otherwise.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `limiter.<option>` when an option is invalid.
 * @example
 * const limiter = createLimiter({ name: 'pg-primary', maxQueue: 500 });
 * const permit = limiter.tryAcquire('interactive') ?? (await limiter.acquire('interactive', deadlineAt, signal));
 * const start = clock.now();
 * try { await work(); limiter.release(permit, 'success', clock.now() - start); }
 * catch (e) { limiter.release(permit, isOverload(e) ? 'dropped' : 'ignore', clock.now() - start); throw e; }
 */
export function createLimiter(options?: LimiterOptions): Limiter {
  return new AdaptiveLimiter(options);
}

class AdaptiveLimiter implements Limiter {
  readonly name: string;
  readonly #algorithm: LimitAlgorithm;
  readonly #clock: Clock;
  readonly #serviceTime: ServiceTimeEstimator | undefined;
  readonly #shares: readonly number[];
  readonly #overdraft: number;
  readonly #events = new Events<LimiterEvents>('limiter');
  readonly #queue: AdmissionQueue;

  #rawLimit = Number.NaN;
  #limit = 0;
  readonly #guaranteed = [0, 0, 0, 0];
  #inflight = 0;
  readonly #inflightBy = [0, 0, 0, 0];
  readonly #shed: number[][] = SHED_REASONS.map(() => [0, 0, 0, 0]);
  #doubleReleases = 0;
  #dispatching = false;

  constructor(options?: LimiterOptions) {
    const o = resolveLimiterOptions(options);
    this.name = o.name;
    this.#algorithm = o.algorithm;
    this.#clock = o.clock;
    this.#serviceTime = o.serviceTime;
    this.#shares = o.shares;
    this.#overdraft = o.criticalOverdraft;
    this.#queue = new AdmissionQueue(o, (p, reason) => this.#shedError(p, reason));
    this.#setLimit(this.#algorithm.limit, false);
  }

  get limit(): number {
    return this.#rawLimit;
  }

  get inflight(): number {
    return this.#inflight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  on<K extends keyof LimiterEvents>(event: K, listener: Listener<LimiterEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  tryAcquire(priority: Priority): LimiterPermit | undefined {
    return this.#tryAcquire(priorityIndex(priority));
  }

  #tryAcquire(p: number): Permit | undefined {
    if (p === CRITICAL) {
      if (this.#inflight >= this.#limit + this.#overdraft) return undefined;
    } else if (this.#inflight >= this.#limit || this.#queue.size !== 0) return undefined;
    this.#inflight++;
    this.#inflightBy[p] = (this.#inflightBy[p] as number) + 1;
    return new Permit(p, this.#inflight, this);
  }

  acquire(priority: Priority, deadlineAt: number, signal?: AbortSignal): Promise<LimiterPermit> {
    let p: number;
    try {
      p = priorityIndex(priority);
      if (typeof deadlineAt !== 'number' || Number.isNaN(deadlineAt))
        throw invalidArgument('deadlineAt', deadlineAt, 'a number of clock milliseconds (Infinity: none)');
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(abortedError(this.name, signal.reason));
    const permit = this.#tryAcquire(p);
    if (permit !== undefined) return Promise.resolve(permit);
    const queued = this.#queue.offer(p, deadlineAt, this.#clock.now(), signal, this.#limit);
    return typeof queued === 'string' ? Promise.reject(this.#shedError(p, queued)) : queued;
  }

  release(permit: LimiterPermit, outcome: LimiterOutcome, rttMs: number): void {
    if (!(permit instanceof Permit) || permit.owner !== this)
      throw invalidArgument('permit', permit, 'a permit issued by this limiter');
    if (permit.released) {
      this.#doubleReleases++;
      return;
    }
    permit.released = true;
    this.#inflight--;
    const p = permit.priority;
    this.#inflightBy[p] = (this.#inflightBy[p] as number) - 1;
    if (outcome !== 'ignore' && rttMs >= 0 && rttMs < Number.POSITIVE_INFINITY) {
      this.#algorithm.onSample(rttMs, permit.inflightAtStart, outcome === 'dropped');
      if (outcome === 'success') this.#serviceTime?.onSample(rttMs);
      const raw = this.#algorithm.limit;
      if (raw !== this.#rawLimit) this.#setLimit(raw, true);
    }
    if (this.#queue.size !== 0) this.#dispatch();
  }

  stats(): LimiterStats {
    const shed = {} as Record<ShedReason, PerPriority>;
    let shedTotal = 0;
    SHED_REASONS.forEach((reason, i) => {
      const counts = this.#shed[i] as number[];
      shed[reason] = perPriority(counts);
      for (const c of counts) shedTotal += c;
    });
    return {
      name: this.name,
      limit: this.#limit,
      algorithmLimit: this.#rawLimit,
      inflight: this.#inflight,
      inflightByPriority: perPriority(this.#inflightBy),
      queued: this.#queue.size,
      queuedByPriority: perPriority(this.#queue.queuedBy),
      shed,
      shedTotal,
      aborted: this.#queue.aborted,
      doubleReleases: this.#doubleReleases,
      expectedServiceTimeMs: this.#serviceTime?.expectedMs ?? 0,
    };
  }

  #setLimit(raw: number, emit: boolean): void {
    this.#rawLimit = raw;
    const next = raw >= 1 ? Math.floor(raw) : 1;
    if (next === this.#limit) return;
    const from = this.#limit;
    this.#limit = next;
    // The epsilon keeps 10 × 0.7 = 7.000…1 and 30 × 0.1 = 3.000…4 from flooring a share away.
    for (let p = 1; p <= LOWEST; p++) {
      const share = this.#shares[p] as number;
      const g = Math.floor(next * share + 1e-9);
      this.#guaranteed[p] = p === 1 && share > 0 ? Math.max(1, g) : g;
    }
    if (emit && this.#events.wants('limit-change'))
      this.#events.emit('limit-change', { name: this.name, from, to: next });
  }

  /** Grants free capacity to waiters, by priority and partition guarantee, until none is admissible. */
  #dispatch(): void {
    // A 'shed' listener may release or acquire re-entrantly; the outer loop re-reads the state each turn.
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      let now = Number.NaN;
      while (this.#queue.size !== 0) {
        const p = this.#nextPriority();
        if (p < 0) break;
        if (Number.isNaN(now)) now = this.#clock.now();
        const w = this.#queue.take(p, now);
        if (w === undefined) continue;
        this.#inflight++;
        this.#inflightBy[p] = (this.#inflightBy[p] as number) + 1;
        w.resolve(new Permit(p, this.#inflight, this));
      }
    } finally {
      this.#dispatching = false;
    }
  }

  /**
   * The priority whose waiter gets the next free slot, or -1 when none is admissible: critical first (within
   * limit + overdraft), then any priority still under its guaranteed share, then plain priority order.
   */
  #nextPriority(): number {
    const q = this.#queue.queuedBy;
    if (q[CRITICAL] !== 0 && this.#inflight < this.#limit + this.#overdraft) return CRITICAL;
    if (this.#inflight >= this.#limit) return -1;
    for (let p = 1; p <= LOWEST; p++)
      if (q[p] !== 0 && (this.#inflightBy[p] as number) < (this.#guaranteed[p] as number)) return p;
    for (let p = 1; p <= LOWEST; p++) if (q[p] !== 0) return p;
    return -1;
  }

  #shedError(p: number, reason: ShedReason): Error {
    const counts = this.#shed[SHED_REASONS.indexOf(reason)] as number[];
    counts[p] = (counts[p] as number) + 1;
    if (this.#events.wants('shed'))
      this.#events.emit('shed', { name: this.name, priority: PRIORITIES[p] as Priority, reason });
    return shedError(reason, this.name);
  }
}

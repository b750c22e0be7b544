const FREE = Number.NEGATIVE_INFINITY;

/**
 * The half-open probe slots. A probe holds a lease that ends after the break duration, so a hung probe cannot wedge
 * the breaker: once its lease ends, its slot may go to a new probe.
 *
 * Holds the leases of one half-open episode only. A probe's permit names its episode, not its slot, so the breaker
 * hands {@link ProbeLeases.release} only results of the episode in progress; when the episode ends,
 * {@link ProbeLeases.clear} forgets its leases, and the late results of its probes never come back here.
 *
 * Within an episode, a result cannot say which lease it ends. The bookkeeping stays conservative instead: a result
 * first settles an *orphan* (a probe of this episode whose slot was taken over after its lease ended), and
 * otherwise frees the oldest lease. Either way the slots the breaker believes taken never end earlier than those
 * of the probes really running, so no more than `n` probes with live leases can ever be in flight.
 * @internal
 */
export class ProbeLeases {
  readonly #ends: Float64Array;
  #orphans = 0;

  constructor(n: number) {
    this.#ends = new Float64Array(n).fill(FREE);
  }

  /** Takes a slot until `nowMs + leaseMs`; false when every slot holds a live lease. */
  tryTake(nowMs: number, leaseMs: number): boolean {
    const ends = this.#ends;
    let slot = -1;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] ?? FREE;
      if (end === FREE) {
        slot = i;
        break;
      }
      if (end <= nowMs && slot < 0) slot = i;
    }
    if (slot < 0) return false;
    // The probe whose lease ended may still report; count it so its result does not free a live lease.
    if (ends[slot] !== FREE) this.#orphans++;
    ends[slot] = nowMs + leaseMs;
    return true;
  }

  /** A probe of the episode in progress reported its result. */
  release(): void {
    if (this.#orphans > 0) {
      this.#orphans--;
      return;
    }
    const ends = this.#ends;
    let oldest = -1;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] ?? FREE;
      if (end !== FREE && (oldest < 0 || end < (ends[oldest] ?? FREE))) oldest = i;
    }
    if (oldest >= 0) ends[oldest] = FREE;
  }

  /**
   * The episode ended: every slot is free for the next one. Its probes still running need no bookkeeping: their
   * permits name the ended episode, so the breaker does not pass their results to {@link ProbeLeases.release}.
   */
  clear(): void {
    this.#ends.fill(FREE);
    this.#orphans = 0;
  }

  /** Earliest end of a held lease (Infinity when none is held). */
  nextEnd(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const end of this.#ends) if (end !== FREE && end < min) min = end;
    return min;
  }

  /** Leases still live at `nowMs`. */
  live(nowMs: number): number {
    let n = 0;
    for (const end of this.#ends) if (end !== FREE && end > nowMs) n++;
    return n;
  }
}

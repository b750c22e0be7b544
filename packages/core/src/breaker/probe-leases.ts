const FREE = Number.NEGATIVE_INFINITY;

/**
 * The half-open probe slots. A probe holds a lease that ends after the break duration, so a hung probe cannot wedge
 * the breaker: once its lease ends, its slot may go to a new probe.
 *
 * Permits carry no identity (a probe's permit is just `1`), so a result cannot say which lease it ends. The
 * bookkeeping stays conservative instead: a result first settles an *orphan* (a probe whose slot was taken over
 * after its lease ended, or that was still running when half-open ended), and otherwise frees the oldest lease.
 * Either way the slots the breaker believes taken never end earlier than those of the probes really running, so
 * no more than `n` probes with live leases can ever be in flight.
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

  /** A probe reported its result. */
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

  /** Half-open ended: the probes still running become orphans. */
  abandon(): void {
    const ends = this.#ends;
    for (let i = 0; i < ends.length; i++) {
      if (ends[i] !== FREE) {
        this.#orphans++;
        ends[i] = FREE;
      }
    }
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

/**
 * Call counts over a sliding time window: a ring of buckets, each covering `windowMs / buckets` ms.
 * Buckets expire lazily when time reaches their slot again, so there are no timers, and recording never allocates.
 * @internal
 */
export class RollingWindow {
  readonly #bucketMs: number;
  readonly #n: number;
  readonly #calls: Float64Array;
  readonly #failures: Float64Array;
  readonly #slow: Float64Array;
  /** Index (time / bucketMs) of the newest slot the ring holds. */
  #head = Number.NEGATIVE_INFINITY;
  calls = 0;
  failures = 0;
  slow = 0;

  constructor(windowMs: number, buckets: number) {
    this.#bucketMs = windowMs / buckets;
    this.#n = buckets;
    this.#calls = new Float64Array(buckets);
    this.#failures = new Float64Array(buckets);
    this.#slow = new Float64Array(buckets);
  }

  /** Records one call ending at `nowMs`. */
  record(nowMs: number, failure: boolean, slow: boolean): void {
    const slot = Math.floor(nowMs / this.#bucketMs);
    if (slot > this.#head) this.#advance(slot);
    // A result reported slightly out of order still lands in its own bucket while that bucket is in the window.
    else if (this.#head - slot >= this.#n) return;
    let i = slot % this.#n;
    if (i < 0) i += this.#n;
    this.#calls[i] = (this.#calls[i] ?? 0) + 1;
    this.calls++;
    if (failure) {
      this.#failures[i] = (this.#failures[i] ?? 0) + 1;
      this.failures++;
    }
    if (slow) {
      this.#slow[i] = (this.#slow[i] ?? 0) + 1;
      this.slow++;
    }
  }

  /** Drops the buckets that fell out of the window by `nowMs`; call before reading the totals. */
  expire(nowMs: number): void {
    const slot = Math.floor(nowMs / this.#bucketMs);
    if (slot > this.#head) this.#advance(slot);
  }

  /** Empties the window. */
  clear(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }

  #advance(slot: number): void {
    const gap = slot - this.#head;
    this.#head = slot;
    if (gap >= this.#n) {
      this.clear();
      return;
    }
    for (let k = 0; k < gap; k++) {
      let i = (slot - k) % this.#n;
      if (i < 0) i += this.#n;
      this.calls -= this.#calls[i] ?? 0;
      this.failures -= this.#failures[i] ?? 0;
      this.slow -= this.#slow[i] ?? 0;
      this.#calls[i] = 0;
      this.#failures[i] = 0;
      this.#slow[i] = 0;
    }
  }
}

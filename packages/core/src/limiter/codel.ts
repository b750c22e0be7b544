/**
 * CoDel (RFC 8289) adapted to a wait queue: evaluated when a waiter would be dequeued, with the sojourn of the
 * oldest waiter. When that sojourn has stayed above `targetMs` for a whole `intervalMs`, the queue is standing:
 * drop the oldest waiter, then keep dropping at the control-law rate `interval / sqrt(count)` until the
 * sojourn falls below target. Internal; one instance per priority queue.
 */
export class CoDel {
  readonly #targetMs: number;
  readonly #intervalMs: number;
  #firstAboveAt = Number.NaN;
  #dropping = false;
  #dropNextAt = 0;
  #count = 0;
  #lastCount = 0;

  constructor(targetMs: number, intervalMs: number) {
    this.#targetMs = targetMs;
    this.#intervalMs = intervalMs;
  }

  /** True while CoDel is in its dropping state: a standing queue exists. */
  get dropping(): boolean {
    return this.#dropping;
  }

  /**
   * Decides whether the oldest waiter (queued `sojournMs`, `queued` waiters in this queue) must be dropped now.
   * A single waiter is never dropped (RFC 8289's "less than one MTU queued").
   */
  shouldDrop(nowMs: number, sojournMs: number, queued: number): boolean {
    let okToDrop = false;
    if (sojournMs < this.#targetMs || queued <= 1) this.#firstAboveAt = Number.NaN;
    else if (Number.isNaN(this.#firstAboveAt)) this.#firstAboveAt = nowMs + this.#intervalMs;
    else if (nowMs >= this.#firstAboveAt) okToDrop = true;

    if (this.#dropping) {
      if (!okToDrop) {
        this.#dropping = false;
        return false;
      }
      if (nowMs < this.#dropNextAt) return false;
      this.#count++;
      this.#dropNextAt = this.#controlLaw(this.#dropNextAt);
      return true;
    }
    if (!okToDrop) return false;
    this.#dropping = true;
    // Re-entering soon after leaving: resume near the previous drop rate instead of starting over.
    const delta = this.#count - this.#lastCount;
    this.#count = delta > 1 && nowMs - this.#dropNextAt < 16 * this.#intervalMs ? delta : 1;
    this.#lastCount = this.#count;
    this.#dropNextAt = this.#controlLaw(nowMs);
    return true;
  }

  /** The queue emptied: no standing queue any more. */
  reset(): void {
    this.#firstAboveAt = Number.NaN;
    this.#dropping = false;
  }

  #controlLaw(t: number): number {
    return t + this.#intervalMs / Math.sqrt(this.#count);
  }
}

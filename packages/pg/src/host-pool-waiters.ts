import type { Clock, TimerHandle } from '@ballast/core';
import type { PooledConnection, SignalLike } from './types.js';

/** A connection being opened or validated on behalf of one waiter. */
export interface Cover {
  requester: Waiter | undefined;
}

/**
 * One caller waiting for a connection. It is its own abort listener (`handleEvent`), so waiting allocates no
 * closure beyond the promise's.
 */
export class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queued = false;
  /** The pending connection opened (or being validated) for this waiter, if any. */
  cover: Cover | undefined = undefined;
  readonly promise: Promise<PooledConnection>;
  resolve!: (c: PooledConnection) => void;
  reject!: (e: unknown) => void;

  constructor(
    readonly deadlineAt: number,
    readonly signal: SignalLike | undefined,
    private readonly onAbort: (w: Waiter) => void,
  ) {
    this.promise = new Promise<PooledConnection>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  handleEvent(): void {
    this.onAbort(this);
  }
}

/**
 * The bounded FIFO of waiters: an intrusive doubly linked list (O(1) removal from the middle when a waiter
 * times out or aborts) with ONE clock timer, armed for the earliest deadline among the waiters. When it fires,
 * every waiter whose deadline has passed is expired and the timer is re-armed for the next earliest.
 */
export class WaiterQueue {
  #head: Waiter | undefined = undefined;
  #tail: Waiter | undefined = undefined;
  #size = 0;
  /** Waiters with a pending connection opened or validated for them. */
  #covered = 0;
  #timer: TimerHandle | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  readonly #onTimer = (): void => this.#expireDue();

  constructor(
    private readonly clock: Clock,
    private readonly onExpire: (w: Waiter) => void,
  ) {}

  get size(): number {
    return this.#size;
  }

  /** Waiters without a pending connection working for them. */
  get uncovered(): number {
    return this.#size - this.#covered;
  }

  get head(): Waiter | undefined {
    return this.#head;
  }

  push(w: Waiter): void {
    w.queued = true;
    w.prev = this.#tail;
    w.next = undefined;
    if (this.#tail === undefined) this.#head = w;
    else this.#tail.next = w;
    this.#tail = w;
    this.#size++;
    if (w.deadlineAt < this.#timerAt) this.#arm(w.deadlineAt);
  }

  /** Unlinks `w` (a no-op when not queued) and hands its pending connection to the next uncovered waiter. */
  remove(w: Waiter): void {
    if (!w.queued) return;
    w.queued = false;
    if (w.prev === undefined) this.#head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.#tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = undefined;
    w.next = undefined;
    this.#size--;
    const cover = w.cover;
    if (cover !== undefined) {
      w.cover = undefined;
      this.#covered--;
      cover.requester = undefined;
      this.coverNext(cover);
    }
    if (this.#size === 0 && this.#timer !== undefined) {
      this.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
    }
  }

  /** The first waiter without a pending connection working for it. */
  firstUncovered(): Waiter | undefined {
    if (this.#covered >= this.#size) return undefined;
    // At most `covered` waiters are skipped: covers are few (connecting + validating).
    for (let w = this.#head; w !== undefined; w = w.next) if (w.cover === undefined) return w;
    return undefined;
  }

  /** Assigns `cover` to the first waiter without one; returns that waiter, if any. */
  coverNext(cover: Cover): Waiter | undefined {
    const w = this.firstUncovered();
    if (w === undefined) return undefined;
    w.cover = cover;
    cover.requester = w;
    this.#covered++;
    return w;
  }

  /** Ends the cover of `cover`'s requester (the pending connection is ready or gone). */
  uncover(cover: Cover): void {
    const w = cover.requester;
    if (w === undefined) return;
    cover.requester = undefined;
    if (w.cover === cover) {
      w.cover = undefined;
      this.#covered--;
    }
  }

  /** Removes and returns every waiter (close). */
  takeAll(): Waiter[] {
    const all: Waiter[] = [];
    while (this.#head !== undefined) {
      const w = this.#head;
      this.remove(w);
      all.push(w);
    }
    return all;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.clock.setTimeout(this.#onTimer, Math.max(1, Math.ceil(at - this.clock.now())));
  }

  #expireDue(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (let w = this.#head; w !== undefined; ) {
      const after = w.next;
      if (w.deadlineAt <= now) {
        this.remove(w);
        this.onExpire(w);
      } else if (w.deadlineAt < next) next = w.deadlineAt;
      w = after;
    }
    // onExpire may have pushed or re-armed; arm only for what is still earliest.
    if (next < this.#timerAt) this.#arm(next);
  }
}

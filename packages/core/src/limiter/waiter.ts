import type { LimiterPermit } from '../types.js';
import type { HeapItem } from './deadline-heap.js';

/** The permit object handed out by the limiter; `released` makes a second release detectable. Internal. */
export class Permit implements LimiterPermit {
  released = false;
  constructor(
    readonly priority: number,
    readonly inflightAtStart: number,
    readonly owner: object,
  ) {}
}

/**
 * A call waiting in the admission queue. It is its own abort listener (`handleEvent`), so queueing allocates
 * no closure for the signal. `queued` turns false exactly once, when it leaves the queue. Internal.
 */
export class Waiter implements HeapItem {
  heapIndex = -1;
  queued = true;
  readonly promise: Promise<LimiterPermit>;
  resolve!: (permit: LimiterPermit) => void;
  reject!: (error: unknown) => void;

  constructor(
    readonly priority: number,
    readonly deadlineAt: number,
    readonly enqueuedAt: number,
    readonly signal: AbortSignal | undefined,
    readonly onAbort: (waiter: Waiter) => void,
  ) {
    this.promise = new Promise<LimiterPermit>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  handleEvent(): void {
    this.onAbort(this);
  }
}

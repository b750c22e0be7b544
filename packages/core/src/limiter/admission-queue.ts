import type { Clock, TimerHandle } from '../clock.js';
import { abortedError, type ShedReason } from '../errors.js';
import type { LimiterPermit } from '../types.js';
import { CoDel } from './codel.js';
import { DeadlineHeap } from './deadline-heap.js';
import { DEFAULT_LIMITER, type ResolvedLimiterOptions } from './limiter-options.js';
import { RingDeque } from './ring-deque.js';
import type { ServiceTimeEstimator } from './service-time.js';
import { Waiter } from './waiter.js';

const LOWEST = 3;

/** Builds (and accounts for) the error of a shed call. */
export type ShedFn = (priority: number, reason: ShedReason) => Error;

/**
 * The bounded admission queue: one deque per priority, CoDel per deque, adaptive LIFO, shedding of waiters that
 * cannot meet their deadline, and ONE clock timer for the earliest queued deadline. Which priority is served is
 * the limiter's decision; the queue decides which waiter of that priority. Internal.
 *
 * A call that will be refused hears it on arrival, not after waiting: a newcomer is expected to wait
 * `ahead × expectedServiceTime / limit` (`ahead`: queued waiters of its priority or higher, in FIFO order).
 * It is shed `'deadline'` when that wait plus one service time exceeds its remaining deadline. With CoDel on and
 * calls arriving faster than they are served, it is also shed `'limit'` when that wait exceeds the interval
 * (Facebook's CoDel would time it out there) or, while a standing queue exists, when it would be served past the
 * target: the queue then holds only what keeps the dependency busy. Without that overload a long expected wait
 * is not shed: the estimate is inflated at a cold start (the first calls wait for connections to open, 300 ms
 * for 32 of them here), and a closed loop of callers over the limit always queues without overloading anything.
 * CoDel head drops and deadline expiries of queued waiters remain as a backstop.
 *
 * Adaptive LIFO serves the newest first while a queue builds up (head past the target) and is not yet
 * standing. Once it is standing, admission keeps every waiter's expected wait within the target, so FIFO
 * serves all of them in time, whereas LIFO would leave the bottom of the queue to starve: measured in
 * overload-sim, LIFO over such a short queue shed most waiters after 5–100 ms of waiting instead of at once.
 * Where LIFO is still used in a standing queue (`lifo: true`), an overtaken waiter past the target is shed
 * at once rather than left to starve until its deadline.
 */
export class AdmissionQueue {
  #winStart = Number.NEGATIVE_INFINITY;
  #winOffers = 0;
  #winTakes = 0;
  #overloaded = false;
  /** Live waiters per priority. */
  readonly queuedBy = [0, 0, 0, 0];
  size = 0;
  aborted = 0;
  readonly #queues = [
    new RingDeque<Waiter>(),
    new RingDeque<Waiter>(),
    new RingDeque<Waiter>(),
    new RingDeque<Waiter>(),
  ];
  readonly #codel: (CoDel | undefined)[];
  readonly #deadlines = new DeadlineHeap<Waiter>();
  readonly #clock: Clock;
  readonly #serviceTime: ServiceTimeEstimator | undefined;
  readonly #caps: readonly number[];
  readonly #total: number;
  readonly #lifo: 'adaptive' | boolean;
  readonly #targetMs: number;
  readonly #intervalMs: number;
  /** Per priority: since when calls have had to queue at least once an interval (NaN: never). */
  readonly #busySince = [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
  /** Per priority: when a call last had to queue. */
  readonly #lastOfferAt = [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
  readonly #name: string;
  readonly #shed: ShedFn;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(o: ResolvedLimiterOptions, shed: ShedFn) {
    this.#clock = o.clock;
    this.#serviceTime = o.serviceTime;
    this.#caps = o.queueCaps;
    this.#total = o.totalQueue;
    this.#lifo = o.lifo;
    this.#targetMs = o.codel?.targetMs ?? DEFAULT_LIMITER.codel.targetMs;
    this.#intervalMs = o.codel?.intervalMs ?? DEFAULT_LIMITER.codel.intervalMs;
    this.#name = o.name;
    this.#shed = shed;
    const codel = o.codel;
    this.#codel = this.#queues.map(() => (codel ? new CoDel(codel.targetMs, codel.intervalMs) : undefined));
  }

  /**
   * The standing-queue wait CoDel tolerates: its target, or one expected service time when that is longer. With
   * 100 ms calls and a limit of 10 a permit frees every 10 ms: a 5 ms target let each priority queue one waiter, so
   * interactive arrivals were shed as often as batch ones while batch held the permits (priority-mix: 41–51 % of
   * interactive calls answered at 3x load). Waiting up to one service time keeps the queue's delay within what the
   * dependency's own latency already costs.
   */
  #allowedWait(): number {
    return Math.max(this.#targetMs, this.#serviceTime?.expectedMs ?? 0);
  }

  /** True when a waiter with this deadline cannot be served in time (remaining below the expected service time). */
  tooLate(deadlineAt: number, now: number): boolean {
    const remaining = deadlineAt - now;
    return remaining <= 0 || remaining < (this.#serviceTime?.expectedMs ?? 0);
  }

  /**
   * A standing queue exists for priority `p` (CoDel on only): CoDel is dropping, or calls of `p` have found the
   * limit full at least once an interval for a whole interval. (Facebook's "the queue has not been empty for
   * the last interval", measured on arrivals: a queue kept short by shedding still means overload.)
   */
  /**
   * Closes the measuring window every CoDel interval: the queue is overloaded when, over the last window, calls
   * offered to it outnumbered those it served by a quarter (plus a few, so an idle queue never counts).
   */
  #roll(now: number): void {
    if (now - this.#winStart < this.#intervalMs) return;
    this.#overloaded = this.#winOffers > 1.25 * this.#winTakes + 4;
    this.#winStart = now;
    this.#winOffers = 0;
    this.#winTakes = 0;
  }

  standing(p: number, now: number): boolean {
    const codel = this.#codel[p];
    return (
      codel !== undefined && (codel.dropping || now - (this.#busySince[p] as number) >= this.#intervalMs)
    );
  }

  /**
   * Queues a call of priority `p`, evicting the oldest waiter of the lowest priority below `p` when the queue
   * is full. Returns the waiter's promise, or the reason the call itself is shed. `limit` is the effective limit.
   */
  offer(
    p: number,
    deadlineAt: number,
    now: number,
    signal: AbortSignal | undefined,
    limit: number,
  ): Promise<LimiterPermit> | ShedReason {
    const codel = this.#codel[p] !== undefined;
    this.#winOffers++;
    if (codel) {
      if (!(now - (this.#lastOfferAt[p] as number) < this.#intervalMs)) this.#busySince[p] = now;
      this.#lastOfferAt[p] = now;
    }
    const serviceMs = this.#serviceTime?.expectedMs ?? 0;
    const remaining = deadlineAt - now;
    if (remaining <= 0 || remaining < serviceMs) return 'deadline';
    let ahead = 0;
    for (let q = 0; q <= p; q++) ahead += this.queuedBy[q] as number;
    if (ahead !== 0 && serviceMs > 0) {
      const slotMs = serviceMs / Math.max(limit, 1);
      const waitMs = ahead * slotMs;
      if (waitMs + serviceMs > remaining) return 'deadline';
      // Its own turn comes one slot after the last waiter ahead's: that is when it would be served.
      // A standing queue is not overload by itself: more callers than the limit (32 handlers over a limit of 20)
      // always keep one, and shedding them would turn a healthy dependency's queue into errors. Overload is a
      // queue that calls arrive at faster than it is served (see #roll): only then is a wait past the target shed.
      this.#roll(now);
      if (
        codel &&
        this.#overloaded &&
        !this.#lowerWaiting(p) &&
        (waitMs > this.#intervalMs || (waitMs + slotMs > this.#allowedWait() && this.standing(p, now)))
      )
        return 'limit';
    }
    if ((this.queuedBy[p] as number) >= (this.#caps[p] as number)) return 'queue-full';
    if (this.size >= this.#total && !this.#evictBelow(p)) return 'queue-full';
    const w = new Waiter(p, deadlineAt, now, signal, this.#onAbort);
    this.#queues[p]?.pushBack(w);
    this.queuedBy[p] = (this.queuedBy[p] as number) + 1;
    this.size++;
    if (deadlineAt !== Number.POSITIVE_INFINITY) {
      this.#deadlines.push(w);
      this.#armTimer(now);
    }
    signal?.addEventListener('abort', w);
    return w.promise;
  }

  /**
   * Removes and returns the next waiter of priority `p`, shedding on the way those that can no longer meet
   * their deadline and those CoDel drops from the head. Adaptive LIFO: newest first while a queue builds up.
   */
  take(p: number, now: number): Waiter | undefined {
    const queue = this.#queues[p] as RingDeque<Waiter>;
    const codel = this.#codel[p];
    for (;;) {
      const head = liveFront(queue);
      if (head === undefined) return undefined;
      if (this.tooLate(head.deadlineAt, now)) {
        this.#shedWaiter(head, 'deadline');
        continue;
      }
      const sojourn = now - head.enqueuedAt;
      // CoDel keeps its state either way, and drops only while calls arrive faster than they are served. It judges
      // the wait beyond what one service time makes unavoidable (see #allowedWait).
      const excess = this.#allowedWait() - this.#targetMs;
      const drop = codel?.shouldDrop(now, sojourn - excess, this.queuedBy[p] as number) === true;
      this.#roll(now);
      if (drop && this.#overloaded && !this.#lowerWaiting(p)) {
        this.#shedWaiter(head, 'limit');
        continue;
      }
      let lifo = this.#lifo === true;
      if (this.#lifo === 'adaptive' && sojourn > this.#allowedWait()) lifo = !this.standing(p, now);
      let w = head;
      if (lifo) {
        if (this.#lifo === true && sojourn > this.#allowedWait() && this.standing(p, now)) {
          this.#shedWaiter(head, 'limit');
          continue;
        }
        w = liveBack(queue) as Waiter;
        if (this.tooLate(w.deadlineAt, now)) {
          this.#shedWaiter(w, 'deadline');
          continue;
        }
      }
      if (w === head) queue.popFront();
      else queue.popBack();
      this.#leave(w);
      this.#winTakes++;
      return w;
    }
  }

  /**
   * Waiters of a lower priority than `p` are queued. While there are, overload is relieved by shedding them (their
   * own CoDel does), not `p`'s calls: `p` is shed only for its deadline. Served first, `p`'s wait is what its own
   * queue and its share of the limit make it.
   */
  #lowerWaiting(p: number): boolean {
    for (let q = LOWEST; q > p; q--) if ((this.queuedBy[q] as number) > 0) return true;
    return false;
  }

  #evictBelow(p: number): boolean {
    for (let q = LOWEST; q > p; q--) {
      if (this.queuedBy[q] === 0) continue;
      const victim = liveFront(this.#queues[q] as RingDeque<Waiter>);
      if (victim === undefined) continue;
      this.#shedWaiter(victim, 'priority');
      return true;
    }
    return false;
  }

  /** Takes a waiter out of every index; its deque entry is skipped lazily or dropped by compaction. */
  #leave(w: Waiter): void {
    const p = w.priority;
    w.queued = false;
    this.queuedBy[p] = (this.queuedBy[p] as number) - 1;
    this.size--;
    if (w.heapIndex >= 0) {
      this.#deadlines.remove(w);
      if (this.#deadlines.size === 0) this.#clearTimer();
    }
    w.signal?.removeEventListener('abort', w);
    const queue = this.#queues[p] as RingDeque<Waiter>;
    const left = this.queuedBy[p] as number;
    if (left === 0) {
      queue.clear();
      this.#codel[p]?.reset();
    } else if (queue.length > 64 && queue.length > 4 * left) queue.retain(isQueued);
  }

  #shedWaiter(w: Waiter, reason: ShedReason): void {
    this.#leave(w);
    w.reject(this.#shed(w.priority, reason));
  }

  readonly #onAbort = (w: Waiter): void => {
    if (!w.queued) return;
    this.#leave(w);
    this.aborted++;
    w.reject(abortedError(this.#name, w.signal?.reason));
  };

  /** Arms the one timer for the earliest deadline; a stale earlier timer simply re-arms when it fires. */
  #armTimer(now: number): void {
    const first = this.#deadlines.peek();
    if (first === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined) {
      if (this.#timerAt <= first.deadlineAt) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerAt = first.deadlineAt;
    this.#timer = this.#clock.setTimeout(this.#onTimer, first.deadlineAt - now);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (let w = this.#deadlines.peek(); w !== undefined && w.deadlineAt <= now; w = this.#deadlines.peek())
      this.#shedWaiter(w, 'deadline');
    this.#armTimer(now);
  };
}

function liveFront(queue: RingDeque<Waiter>): Waiter | undefined {
  for (let w = queue.peekFront(); w !== undefined; w = queue.peekFront()) {
    if (w.queued) return w;
    queue.popFront();
  }
  return undefined;
}

function liveBack(queue: RingDeque<Waiter>): Waiter | undefined {
  for (let w = queue.peekBack(); w !== undefined; w = queue.peekBack()) {
    if (w.queued) return w;
    queue.popBack();
  }
  return undefined;
}

function isQueued(w: Waiter): boolean {
  return w.queued;
}

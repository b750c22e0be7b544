import type { Clock, TimerHandle } from './clock.js';

/**
 * Something with a deadline that the wheel calls once when it passes, unless removed first. The wheel links
 * entries through their own fields (an intrusive list), so adding and removing allocate nothing.
 */
export interface Expirable {
  /** Absolute clock time in ms. */
  readonly deadlineAt: number;
  expire(): void;
  /** Owned by the wheel: the slot holding the entry (-1: none) and its neighbours in that slot. */
  wheelSlot: number;
  wheelPrev: Expirable | undefined;
  wheelNext: Expirable | undefined;
}

/**
 * A coarse hashed timing wheel: one clock timer for every pending deadline of the process, ticking every
 * `tickMs` while anything is pending. Add and remove are O(1) pointer updates on the entry itself: no timer,
 * closure, set or array operation per call, and an entry removed at once can be collected young. The timer
 * stops only at a tick that finds the wheel empty, so calls that come and go do not re-arm it each time.
 * An entry expires on the first tick at or after its deadline (late by less than `tickMs`).
 */
export class DeadlineWheel {
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #heads: (Expirable | undefined)[];
  #size = 0;
  /** The tick number processed last. */
  #cursor = -1;
  #timer: TimerHandle | undefined;
  #ticking = false;
  readonly #onTick = (): void => this.#tick();

  constructor(clock: Clock, tickMs = 2, slotCount = 1024) {
    this.#clock = clock;
    this.#tickMs = tickMs;
    this.#heads = new Array<Expirable | undefined>(slotCount).fill(undefined);
  }

  get size(): number {
    return this.#size;
  }

  add(entry: Expirable): void {
    const now = this.#clock.now();
    if (entry.deadlineAt <= now) {
      entry.expire();
      return;
    }
    // While a tick runs (an expiry's abort listener may start another call), the tick re-arms the timer itself.
    if (this.#timer === undefined && !this.#ticking) {
      this.#cursor = Math.floor(now / this.#tickMs);
      this.#timer = this.#clock.setTimeout(this.#onTick, this.#tickMs);
    }
    // Deadlines beyond one revolution land in an earlier slot and are kept (not expired) when visited early.
    this.#link(entry, Math.ceil(entry.deadlineAt / this.#tickMs) % this.#heads.length);
  }

  remove(entry: Expirable): void {
    const slot = entry.wheelSlot;
    if (slot < 0) return;
    const { wheelPrev: prev, wheelNext: next } = entry;
    if (prev === undefined) this.#heads[slot] = next;
    else prev.wheelNext = next;
    if (next !== undefined) next.wheelPrev = prev;
    entry.wheelSlot = -1;
    entry.wheelPrev = undefined;
    entry.wheelNext = undefined;
    this.#size--;
  }

  #link(entry: Expirable, slot: number): void {
    const head = this.#heads[slot];
    entry.wheelSlot = slot;
    entry.wheelPrev = undefined;
    entry.wheelNext = head;
    if (head !== undefined) head.wheelPrev = entry;
    this.#heads[slot] = entry;
    this.#size++;
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#size === 0) return;
    this.#ticking = true;
    try {
      const now = this.#clock.now();
      const last = Math.floor(now / this.#tickMs);
      const n = this.#heads.length;
      // Visit every tick since the last one, but never more than one revolution.
      for (let t = Math.max(this.#cursor + 1, last - n + 1); t <= last && this.#size > 0; t++) {
        const slot = t % n;
        let entry = this.#heads[slot];
        while (entry !== undefined) {
          const next = entry.wheelNext;
          if (entry.deadlineAt <= now) {
            this.remove(entry);
            entry.expire();
            // An expiry may settle other calls and so unlink `next`: start over from the slot's head.
            if (next !== undefined && next.wheelSlot !== slot) {
              entry = this.#heads[slot];
              continue;
            }
          }
          entry = next;
        }
      }
      this.#cursor = last;
    } finally {
      this.#ticking = false;
    }
    if (this.#timer === undefined) this.#timer = this.#clock.setTimeout(this.#onTick, this.#tickMs);
  }
}

const wheels = new WeakMap<Clock, DeadlineWheel>();

/** The process-wide wheel for a clock (one per clock, so a ManualClock in a test gets its own). */
export function deadlineWheelFor(clock: Clock): DeadlineWheel {
  let wheel = wheels.get(clock);
  if (wheel === undefined) {
    wheel = new DeadlineWheel(clock);
    wheels.set(clock, wheel);
  }
  return wheel;
}

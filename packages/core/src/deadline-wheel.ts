import type { Clock, TimerHandle } from './clock.js';

/** Something with a deadline that the wheel calls once when it passes, unless removed first. */
export interface Expirable {
  /** Absolute clock time in ms. */
  readonly deadlineAt: number;
  expire(): void;
  /** Set by the wheel: the slot holding it, so removal is O(1). */
  wheelSlot: Set<Expirable> | undefined;
}

/**
 * A coarse hashed timing wheel: one clock timer for every pending deadline of the process, ticking every
 * `tickMs` only while something is pending. Adding and removing are O(1) set operations — no timer, no
 * closure per call. An entry expires on the first tick at or after its deadline (late by < `tickMs`).
 */
export class DeadlineWheel {
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #slots: Set<Expirable>[];
  #size = 0;
  /** The tick number processed last. */
  #cursor = -1;
  #timer: TimerHandle | undefined;
  readonly #onTick = (): void => this.#tick();

  constructor(clock: Clock, tickMs = 2, slotCount = 1024) {
    this.#clock = clock;
    this.#tickMs = tickMs;
    this.#slots = Array.from({ length: slotCount }, () => new Set<Expirable>());
  }

  get size(): number {
    return this.#size;
  }

  add(entry: Expirable): void {
    const now = this.#clock.now();
    if (entry.deadlineAt <= now) {
      entry.wheelSlot = undefined;
      entry.expire();
      return;
    }
    if (this.#size === 0) this.#cursor = Math.floor(now / this.#tickMs);
    // Deadlines beyond one revolution land in an earlier slot and are re-checked (not expired) when visited.
    const tick = Math.ceil(entry.deadlineAt / this.#tickMs);
    const slot = this.#slots[tick % this.#slots.length] as Set<Expirable>;
    slot.add(entry);
    entry.wheelSlot = slot;
    this.#size++;
    if (this.#timer === undefined) this.#timer = this.#clock.setTimeout(this.#onTick, this.#tickMs);
  }

  remove(entry: Expirable): void {
    const slot = entry.wheelSlot;
    if (slot === undefined) return;
    entry.wheelSlot = undefined;
    if (slot.delete(entry)) this.#size--;
  }

  #tick(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    const last = Math.floor(now / this.#tickMs);
    const n = this.#slots.length;
    // Visit every tick since the last one, but never more than one revolution.
    const first = Math.max(this.#cursor + 1, last - n + 1);
    for (let t = first; t <= last && this.#size > 0; t++) {
      const slot = this.#slots[t % n] as Set<Expirable>;
      if (slot.size === 0) continue;
      for (const entry of slot) {
        if (entry.deadlineAt > now) continue;
        slot.delete(entry);
        entry.wheelSlot = undefined;
        this.#size--;
        entry.expire();
      }
    }
    this.#cursor = last;
    if (this.#size > 0) this.#timer = this.#clock.setTimeout(this.#onTick, this.#tickMs);
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

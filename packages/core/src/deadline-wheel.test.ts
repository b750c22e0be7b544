import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineWheel, type Expirable } from './deadline-wheel.js';
import { ManualClock } from './testing/manual-clock.js';

function entry(deadlineAt: number, fired: number[]): Expirable {
  return {
    deadlineAt,
    wheelSlot: -1,
    wheelPrev: undefined,
    wheelNext: undefined,
    expire() {
      fired.push(deadlineAt);
    },
  };
}

describe('DeadlineWheel', () => {
  it('expires an entry on the first tick at or after its deadline, never before', () => {
    const clock = new ManualClock(1000);
    const wheel = new DeadlineWheel(clock, 2, 16);
    const fired: number[] = [];
    wheel.add(entry(1005, fired));
    clock.advance(4);
    expect(fired).toEqual([]);
    clock.advance(2);
    expect(fired).toEqual([1005]);
    expect(wheel.size).toBe(0);
  });

  it('stops its timer at the first tick that finds nothing pending', () => {
    const clock = new ManualClock();
    const wheel = new DeadlineWheel(clock, 2, 16);
    const e = entry(10, []);
    wheel.add(e);
    expect(clock.pendingTimers).toBe(1);
    wheel.remove(e);
    expect(wheel.size).toBe(0);
    clock.advance(10);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a removed entry never expires', () => {
    const clock = new ManualClock();
    const wheel = new DeadlineWheel(clock, 2, 16);
    const fired: number[] = [];
    const e = entry(10, fired);
    wheel.add(e);
    wheel.remove(e);
    clock.advance(100);
    expect(fired).toEqual([]);
  });

  it('expires at once an entry whose deadline has already passed', () => {
    const clock = new ManualClock(50);
    const wheel = new DeadlineWheel(clock, 2, 16);
    const fired: number[] = [];
    wheel.add(entry(40, fired));
    expect(fired).toEqual([40]);
  });

  it('keeps deadlines beyond one revolution until they are due', () => {
    const clock = new ManualClock();
    const wheel = new DeadlineWheel(clock, 2, 8); // one revolution = 16 ms
    const fired: number[] = [];
    wheel.add(entry(100, fired));
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(2);
    expect(fired).toEqual([100]);
  });

  it('an expiry that adds a new deadline (re-entrantly) does not start a second timer chain', () => {
    const clock = new ManualClock();
    const wheel = new DeadlineWheel(clock, 2, 16);
    const chain = (at: number): Expirable => ({
      deadlineAt: at,
      wheelSlot: -1,
      wheelPrev: undefined,
      wheelNext: undefined,
      expire() {
        wheel.add(chain(clock.now() + 10));
      },
    });
    wheel.add(chain(5));
    for (let i = 0; i < 5; i++) {
      clock.advance(10);
      expect(clock.pendingTimers).toBe(1);
    }
  });

  it('an expiry that removes the next entry of its slot does not hide the rest of the slot', () => {
    const clock = new ManualClock();
    const wheel = new DeadlineWheel(clock, 2, 16);
    const fired: number[] = [];
    const c = entry(10, fired);
    const b = entry(10, fired);
    // Linked at the head: the slot reads a, b, c. a's expiry removes b.
    const a: Expirable = { ...entry(10, fired), expire: () => wheel.remove(b) };
    wheel.add(c);
    wheel.add(b);
    wheel.add(a);
    clock.advance(12);
    expect(fired).toEqual([10]); // c expired in this tick, b never
    expect(wheel.size).toBe(0);
  });

  it('property: every unremoved entry expires exactly once, within one tick after its deadline; removed ones never', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 500 }), removed: fc.boolean() }), {
          maxLength: 40,
        }),
        fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 1, maxLength: 40 }),
        (entries, steps) => {
          const clock = new ManualClock();
          const tickMs = 3;
          const wheel = new DeadlineWheel(clock, tickMs, 8);
          const firedAt = new Map<Expirable, number[]>();
          const all = entries.map(({ at, removed }) => {
            const e: Expirable = {
              deadlineAt: at + 1,
              wheelSlot: -1,
              wheelPrev: undefined,
              wheelNext: undefined,
              expire() {
                firedAt.set(e, [...(firedAt.get(e) ?? []), clock.now()]);
              },
            };
            wheel.add(e);
            if (removed) wheel.remove(e);
            return { e, removed };
          });
          for (const s of steps) clock.advance(s);
          clock.advance(600);
          for (const { e, removed } of all) {
            const fired = firedAt.get(e) ?? [];
            if (removed) expect(fired).toEqual([]);
            else {
              expect(fired).toHaveLength(1);
              expect(fired[0]).toBeGreaterThanOrEqual(e.deadlineAt);
              expect(fired[0]).toBeLessThan(e.deadlineAt + 2 * tickMs);
            }
          }
          expect(wheel.size).toBe(0);
        },
      ),
    );
  });
});

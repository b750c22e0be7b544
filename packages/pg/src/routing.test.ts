import { isBallastError } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canEject, OutlierEjector, PeakEwma, pickReplica, replicaCost } from './routing.js';

interface Replica {
  id: string;
  latencyMs: number;
  outstanding: number;
  eligible: boolean;
}

const replica = (id: string, latencyMs: number, outstanding = 0, eligible = true): Replica => ({
  id,
  latencyMs,
  outstanding,
  eligible,
});

/** A random source that replays `values` and records how many were drawn. */
function scripted(...values: number[]): (() => number) & { drawn: number } {
  const fn = Object.assign(
    () => {
      const v = values[fn.drawn++];
      if (v === undefined) throw new Error('drew more random numbers than scripted');
      return v;
    },
    { drawn: 0 },
  );
  return fn;
}

const isEligible = (r: Replica) => r.eligible;
const cost = (r: Replica) => replicaCost(r.latencyMs, r.outstanding);

describe('pickReplica', () => {
  it('returns undefined when nothing is eligible, and the only eligible one without drawing', () => {
    expect(pickReplica([], cost, Math.random)).toBeUndefined();
    expect(pickReplica([replica('a', 1, 0, false)], cost, Math.random, isEligible)).toBeUndefined();
    const random = scripted();
    const b = replica('b', 50);
    expect(pickReplica([replica('a', 1, 0, false), b], cost, random, isEligible)).toBe(b);
    expect(random.drawn).toBe(0);
  });

  it('draws two distinct candidates and takes the cheaper by latency × (outstanding + 1)', () => {
    const [a, b, c] = [replica('a', 10, 0), replica('b', 2, 9), replica('c', 3, 1)];
    // Costs: a 10, b 20, c 6.
    expect(pickReplica([a, b, c], cost, scripted(0, 0))).toBe(a); // draws a, then b (index 0 of the others skips a)
    expect(pickReplica([a, b, c], cost, scripted(0, 0.99))).toBe(c); // a and c
    expect(pickReplica([a, b, c], cost, scripted(0.5, 0))).toBe(a); // b and a
    expect(pickReplica([a, b, c], cost, scripted(0.5, 0.99))).toBe(c); // b and c
  });

  it('maps draws onto eligible candidates only', () => {
    const [a, x, b] = [replica('a', 5), replica('x', 0, 0, false), replica('b', 1)];
    for (let i = 0; i < 50; i++) expect(pickReplica([a, x, b], cost, Math.random, isEligible)).toBe(b);
  });

  it('keeps the first drawn on a tie, and survives a random source outside [0, 1)', () => {
    const [a, b] = [replica('a', 1), replica('b', 1)];
    expect(pickReplica([a, b], cost, scripted(0.9, 0))).toBe(b);
    // A draw outside [0, 1) counts as 0.
    expect(pickReplica([a, b], cost, scripted(1, 1))).toBe(a);
    expect(pickReplica([a, b], cost, scripted(Number.NaN, -1))).toBe(a);
    expect(pickReplica([b, a], cost, scripted(0.99, Number.POSITIVE_INFINITY))).toBe(a);
  });

  it('still weighs outstanding queries when a latency estimate decayed to about 0', () => {
    expect(replicaCost(0, 0)).toBeLessThan(replicaCost(0, 3));
    expect(replicaCost(2, 3)).toBe(8);
  });

  const candidates = fc.array(
    fc.record({
      id: fc.string(),
      latencyMs: fc.double({ min: 0, max: 1000, noNaN: true }),
      outstanding: fc.nat(50),
      eligible: fc.boolean(),
    }),
    { maxLength: 12 },
  );

  it('never picks an ineligible candidate, and picks one whenever any is eligible', () => {
    fc.assert(
      fc.property(
        candidates,
        fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
        (cs, rs) => {
          const picked = pickReplica(cs, cost, () => rs.next().value, isEligible);
          if (cs.some(isEligible)) expect(picked?.eligible).toBe(true);
          else expect(picked).toBeUndefined();
        },
      ),
    );
  });

  it('never picks the strictly worse of the two it drew', () => {
    fc.assert(
      fc.property(
        candidates,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (cs, r1, r2) => {
          const eligible = cs.filter(isEligible);
          fc.pre(eligible.length >= 2);
          // Recover the draw independently: the first is uniform over the eligible, the second over the others.
          const first = eligible[Math.floor(r1 * eligible.length)] as Replica;
          const others = eligible.filter((c) => c !== first);
          const second = others[Math.floor(r2 * others.length)] as Replica;
          const picked = pickReplica(cs, cost, scripted(r1, r2), isEligible);
          expect([first, second]).toContain(picked);
          expect(cost(picked as Replica)).toBeLessThanOrEqual(Math.max(cost(first), cost(second)));
          if (cost(first) !== cost(second)) {
            expect(cost(picked as Replica)).toBe(Math.min(cost(first), cost(second)));
          }
        },
      ),
    );
  });

  it('with two or more eligible, never picks a strictly worst candidate', () => {
    fc.assert(
      fc.property(
        candidates,
        fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
        (cs, rs) => {
          const eligible = cs.filter(isEligible);
          fc.pre(eligible.length >= 2);
          const picked = pickReplica(cs, cost, () => rs.next().value, isEligible) as Replica;
          const worst = Math.max(...eligible.map(cost));
          const worstCount = eligible.filter((c) => cost(c) === worst).length;
          if (worstCount === 1) expect(cost(picked)).toBeLessThan(worst);
        },
      ),
    );
  });
});

describe('PeakEwma', () => {
  it('starts at initialMs, and the first sample replaces it', () => {
    const e = new PeakEwma({ initialMs: 7 });
    expect(e.value(0)).toBe(7);
    expect(e.value(1e9)).toBe(7);
    e.record(2, 100);
    expect(e.value(100)).toBe(2);
  });

  it('jumps to a sample above the estimate', () => {
    const e = new PeakEwma();
    e.record(1, 0);
    e.record(50, 1);
    expect(e.value(1)).toBe(50);
  });

  it('moves toward a lower sample by 1 - exp(-Δt / decayMs) of the gap', () => {
    const e = new PeakEwma({ decayMs: 1000 });
    e.record(100, 0);
    e.record(100, 0); // no time elapsed: no change
    expect(e.value(0)).toBe(100);
    e.record(0, 1000);
    // The estimate had decayed to 100/e by then; a 0 sample pulls it a further 1 - 1/e of the way.
    expect(e.value(1000)).toBeCloseTo(100 * Math.exp(-2), 9);
    const f = new PeakEwma({ decayMs: 1000 });
    f.record(100, 0);
    f.record(10, 10);
    const w = Math.exp(-10 / 1000);
    expect(f.value(10)).toBeCloseTo(100 * w * w + 10 * (1 - w), 9);
  });

  it('decays toward 0 without samples, so a host slow once gets tried again', () => {
    const e = new PeakEwma({ decayMs: 10_000 });
    e.record(300, 0);
    expect(e.value(10_000)).toBeCloseTo(300 / Math.E, 9);
    expect(e.value(-5)).toBe(300);
  });

  it('ignores samples that are not finite non-negative numbers', () => {
    const e = new PeakEwma();
    e.record(5, 0);
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) e.record(bad, 0);
    expect(e.value(0)).toBe(5);
  });

  it('stays within [lowest, highest sample] and jumps to every new peak', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.integer({ min: 0, max: 5000 })), {
          minLength: 1,
        }),
        (steps) => {
          const e = new PeakEwma();
          let now = 0;
          for (const [sample, dt] of steps) {
            now += dt;
            const before = e.value(now);
            e.record(sample, now);
            const after = e.value(now);
            if (sample >= before) expect(after).toBe(sample);
            else {
              expect(after).toBeGreaterThanOrEqual(sample);
              expect(after).toBeLessThanOrEqual(before);
            }
          }
        },
      ),
    );
  });

  it('refuses bad options, naming them', () => {
    for (const [options, name] of [
      [{ decayMs: 0 }, 'decayMs'],
      [{ decayMs: Number.POSITIVE_INFINITY }, 'decayMs'],
      [{ initialMs: -1 }, 'initialMs'],
    ] as const) {
      try {
        new PeakEwma(options);
        expect.unreachable();
      } catch (error) {
        expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
        expect((error as Error).message).toContain(name);
      }
    }
  });
});

describe('canEject', () => {
  it('never ejects more than half of the replicas', () => {
    expect(canEject(0, 1)).toBe(false);
    expect(canEject(0, 2)).toBe(true);
    expect(canEject(1, 2)).toBe(false);
    expect(canEject(0, 3)).toBe(true);
    expect(canEject(1, 3)).toBe(false);
    expect(canEject(1, 4)).toBe(true);
    expect(canEject(2, 4)).toBe(false);
    expect(canEject(0, 4, 0)).toBe(false);
    expect(canEject(3, 4, 1)).toBe(true);
  });
});

describe('OutlierEjector', () => {
  function fail(ej: OutlierEjector, id: string, times: number, now: number, total = 4): boolean {
    let ejected = false;
    for (let i = 0; i < times; i++) ejected = ej.onFailure(id, now, total);
    return ejected;
  }

  it('ejects after 5 consecutive failures, for 30 s', () => {
    const ej = new OutlierEjector();
    expect(fail(ej, 'a', 4, 0)).toBe(false);
    expect(ej.isEjected('a', 0)).toBe(false);
    expect(ej.onFailure('a', 0, 4)).toBe(true);
    expect(ej.isEjected('a', 29_999)).toBe(true);
    expect(ej.ejectedUntil('a', 0)).toBe(30_000);
    expect(ej.isEjected('a', 30_000)).toBe(false);
    expect(ej.ejectedUntil('a', 30_000)).toBeUndefined();
  });

  it('a success ends the run of failures', () => {
    const ej = new OutlierEjector();
    fail(ej, 'a', 4, 0);
    ej.onSuccess('a');
    expect(fail(ej, 'a', 4, 0)).toBe(false);
    expect(ej.onFailure('a', 0, 4)).toBe(true);
    ej.onSuccess('never-seen');
  });

  it('ejects for 30 s × times ejected, at most 300 s, and starts over with no failures', () => {
    const ej = new OutlierEjector();
    let now = 0;
    const durations: number[] = [];
    for (let i = 0; i < 12; i++) {
      expect(fail(ej, 'a', 4, now)).toBe(false);
      expect(ej.onFailure('a', now, 4)).toBe(true);
      const until = ej.ejectedUntil('a', now) as number;
      durations.push(until - now);
      // Failures of calls in flight when it was ejected do not count.
      expect(fail(ej, 'a', 10, now + 1)).toBe(false);
      expect(ej.ejectedUntil('a', now)).toBe(until);
      now = until; // fails again right after the ejection ends
    }
    expect(durations).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300].map((s) => s * 1000));
  });

  it('forgives one ejection per 30 s spent without one', () => {
    const ej = new OutlierEjector();
    fail(ej, 'a', 5, 0); // 30 s, until 30 s
    fail(ej, 'a', 5, 30_000); // 60 s, until 90 s
    fail(ej, 'a', 5, 90_000 + 60_000); // 60 s without: times 2 → 0, then the 1st again
    expect(ej.ejectedUntil('a', 150_000)).toBe(180_000);
  });

  it('never ejects more than half of the replicas; a later failure ejects once there is room', () => {
    const ej = new OutlierEjector();
    expect(fail(ej, 'a', 5, 0, 3)).toBe(true);
    expect(fail(ej, 'b', 5, 0, 3)).toBe(false);
    expect(ej.ejectedCount(0)).toBe(1);
    expect(ej.isEjected('b', 0)).toBe(false);
    expect(ej.onFailure('b', 30_000, 3)).toBe(true); // a is back: room for b
    expect(ej.ejectedCount(30_000)).toBe(1);
    expect(fail(new OutlierEjector(), 'only', 100, 0, 1)).toBe(false);
  });

  it('forgets a removed replica', () => {
    const ej = new OutlierEjector();
    fail(ej, 'a', 5, 0);
    ej.remove('a');
    expect(ej.isEjected('a', 0)).toBe(false);
    expect(ej.ejectedCount(0)).toBe(0);
  });

  it('never has more than half ejected, whatever the failures', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.nat(7), fc.boolean(), fc.integer({ min: 0, max: 20_000 })), { maxLength: 300 }),
        (total, events) => {
          const ej = new OutlierEjector();
          let now = 0;
          for (const [host, failed, dt] of events) {
            now += dt;
            const id = `r${host % total}`;
            if (failed) ej.onFailure(id, now, total);
            else ej.onSuccess(id);
            expect(ej.ejectedCount(now)).toBeLessThanOrEqual(Math.floor(total / 2));
          }
        },
      ),
    );
  });

  it('refuses bad options, naming them', () => {
    for (const [options, name] of [
      [{ consecutiveFailures: 0 }, 'consecutiveFailures'],
      [{ baseEjectionMs: -1 }, 'baseEjectionMs'],
      [{ maxEjectionMs: 1000 }, 'maxEjectionMs'],
      [{ maxEjectedFraction: 2 }, 'maxEjectedFraction'],
    ] as const) {
      expect(() => new OutlierEjector(options)).toThrow(new RegExp(`Invalid option ${name}`));
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBallastError, shedError } from '../errors.js';
import { ManualClock } from '../testing/manual-clock.js';
import type { BreakerState } from '../types.js';
import type { BreakerStateChangeEvent } from './breaker-events.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreaker } from './circuit-breaker-interface.js';

type Outcome = 'ok' | 'fail' | 'ignore';

type Op =
  /** With `delayMs`, the admitted call reports `outcome` by itself once `delayMs` has passed (Infinity: hangs). */
  | { t: 'acquire'; delayMs?: number; outcome?: Outcome }
  | { t: 'complete'; pick: number; outcome: Outcome; durationMs: number }
  | { t: 'advance'; ms: number }
  | { t: 'health'; ok: boolean }
  | { t: 'isolate' }
  | { t: 'reset' };

const outcome = fc.constantFrom<Outcome>('ok', 'fail', 'ignore');

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Op>({ t: 'acquire' }) },
  {
    // Results that arrive late, often after the half-open episode that admitted the call has ended.
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      delayMs: fc.constantFrom(0, 1, 10, 40, 100, 250, 1000, Number.POSITIVE_INFINITY),
      outcome,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('complete' as const),
      pick: fc.nat(),
      outcome,
      durationMs: fc.integer({ min: 0, max: 100 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(0, 1, 10, 40, 100, 250) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('health' as const), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant<Op>({ t: 'isolate' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ t: 'reset' }) },
);

const options = fc.record({
  halfOpenProbes: fc.integer({ min: 1, max: 3 }),
  consecutiveFailures: fc.integer({ min: 0, max: 4 }),
  minimumThroughput: fc.integer({ min: 1, max: 6 }),
  breakDurationMs: fc.integer({ min: 10, max: 100 }),
  maxBreakDurationMs: fc.constant(400),
  buckets: fc.integer({ min: 1, max: 5 }),
  windowMs: fc.constant(200),
  slowCallDurationMs: fc.constant(60),
  slowCallRateThreshold: fc.double({ min: 0.1, max: 1, noNaN: true }),
  jitter: fc.double({ min: 0, max: 0.5, noNaN: true }),
});

function legal(e: BreakerStateChangeEvent): boolean {
  if (e.to === 'isolated' || (e.to === 'closed' && e.reason === 'manual')) return e.reason === 'manual';
  const move = `${e.from}>${e.to}`;
  if (move === 'closed>open')
    return ['consecutive-failures', 'failure-rate', 'slow-call-rate'].includes(e.reason);
  if (move === 'open>half-open') return e.reason === 'open-expired' || e.reason === 'health-check';
  if (move === 'half-open>closed') return e.reason === 'probe-succeeded';
  if (move === 'half-open>open') return ['probe-failed', 'slow-call-rate', 'health-check'].includes(e.reason);
  return false;
}

const HALF_OPEN = {
  version: 1,
  state: 'half-open',
  remainingOpenMs: 0,
  breakDurationMs: 100,
  reopenCount: 1,
  consecutiveFailures: 0,
  timesOpened: 1,
  rejected: 0,
} as const;

const ACQUIRE: Op = { t: 'acquire' };
const IGNORE_FIRST: Op = { t: 'complete', pick: 0, outcome: 'ignore', durationMs: 0 };

interface Outstanding {
  permit: number;
  atMs: number;
  /** The model's half-open episode when the call was admitted. */
  episode: number;
  /** When the call reports by itself (undefined: only a `complete` op ends it). */
  dueMs?: number | undefined;
  outcome?: Outcome | undefined;
}

function report(
  breaker: CircuitBreaker,
  call: Outstanding,
  outcome: Outcome,
  durationMs: number,
  now: number,
) {
  if (outcome === 'ok') breaker.onSuccess(call.permit, durationMs, now);
  else {
    const error = outcome === 'fail' ? new Error('down') : shedError('limit', 'test');
    breaker.onFailure(call.permit, durationMs, now, error);
  }
}

const LATE_EXAMPLE_OPTIONS = {
  halfOpenProbes: 1,
  consecutiveFailures: 1,
  minimumThroughput: 1,
  breakDurationMs: 40,
  maxBreakDurationMs: 400,
  buckets: 1,
  windowMs: 200,
  slowCallDurationMs: 60,
  slowCallRateThreshold: 1,
  jitter: 0,
};
const adv = (ms: number): Op => ({ t: 'advance', ms });
/** The reviewer's sequence: probe P1 of episode 1 hangs, answers slowly while P3 of episode 2 runs. */
const LATE_EXAMPLE_OPS: Op[] = [
  { t: 'acquire', delayMs: 0, outcome: 'fail' },
  adv(0), // opens for 40
  adv(40),
  { t: 'acquire', delayMs: 250, outcome: 'ok' }, // P1, episode 1
  adv(40), // P1's lease ends
  { t: 'acquire', delayMs: 0, outcome: 'fail' }, // P2 takes the slot
  adv(0), // P2 fails: open for 80
  adv(40),
  adv(40),
  { t: 'acquire', delayMs: 250, outcome: 'ok' }, // P3, episode 2
  adv(100),
  adv(40), // P1 answers, slow
  adv(100),
  adv(10), // P3 answers
];

describe('circuit breaker state machine (property)', () => {
  it('makes only legal moves, leaves half-open only on a result of its own probes, never holds more than halfOpenProbes live probes, and rejects only when it must', () => {
    fc.assert(
      fc.property(
        options,
        fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 1, maxLength: 8 }),
        fc.array(op, { minLength: 20, maxLength: 150, size: 'max' }),
        (opts, randoms, ops) => {
          const clock = new ManualClock();
          let r = 0;
          const breaker = createCircuitBreaker({
            ...opts,
            clock,
            random: () => randoms[r++ % randoms.length] ?? 0,
          });
          let episode = 0;
          let state = 'closed' as BreakerState;
          /** The op being applied, and the call whose result is being reported (if any). */
          let current: Op | undefined;
          let reporting: Outstanding | undefined;
          const permitOf = new Map<number, number>();
          // A listener that throws is isolated by the breaker's events, so violations are collected instead.
          const violations: string[] = [];
          breaker.on('state-change', (e) => {
            const move = `${e.from} > ${e.to} (${e.reason})`;
            if (e.from !== state) violations.push(`${move} while the model is ${state}`);
            if (!legal(e)) violations.push(`illegal ${move}`);
            if (e.from === 'half-open') {
              const by = current?.t;
              if (e.reason === 'health-check') {
                if (by !== 'health') violations.push(`${move} during ${by}`);
              } else if (e.reason === 'manual') {
                if (by !== 'isolate' && by !== 'reset') violations.push(`${move} during ${by}`);
              } else if (reporting === undefined) violations.push(`${move} without a result`);
              // probe-succeeded, probe-failed, slow-call-rate: a probe of this very episode reported.
              else if (reporting.episode !== episode || reporting.permit !== permitOf.get(episode))
                violations.push(`${move} in episode ${episode} by a result of episode ${reporting.episode}`);
            }
            state = e.to;
            if (e.to === 'half-open') episode++;
          });
          const outstanding: Outstanding[] = [];
          const deliver = (call: Outstanding, outcome: Outcome, durationMs: number, now: number) => {
            reporting = call;
            report(breaker, call, outcome, durationMs, now);
            reporting = undefined;
          };

          for (const o of ops) {
            current = o;
            const now = clock.now();
            if (o.t === 'acquire') {
              const before = breaker.state;
              try {
                const permit = breaker.acquire(now);
                // 0: a normal call; > 0: a probe, one permit per episode, never another episode's.
                if (breaker.state === 'half-open') {
                  expect(permit).toBeGreaterThan(0);
                  const known = permitOf.get(episode);
                  if (known === undefined) {
                    expect([...permitOf.values()]).not.toContain(permit);
                    permitOf.set(episode, permit);
                  } else expect(permit).toBe(known);
                } else expect(permit).toBe(0);
                const dueMs = o.delayMs === undefined ? undefined : now + o.delayMs;
                outstanding.push({ permit, atMs: now, episode, dueMs, outcome: o.outcome });
              } catch (error) {
                expect(isBallastError(error, 'BALLAST_CIRCUIT_OPEN')).toBe(true);
                expect(before).not.toBe('closed');
                const s = breaker.stats(now);
                if (s.state === 'open') expect(s.remainingOpenMs).toBeGreaterThan(0);
                else if (s.state === 'half-open') expect(s.probesInFlight).toBe(opts.halfOpenProbes);
                else expect(s.state).toBe('isolated');
              }
            } else if (o.t === 'complete') {
              if (outstanding.length === 0) continue;
              const [call] = outstanding.splice(o.pick % outstanding.length, 1);
              if (call === undefined) continue;
              deliver(call, o.outcome, o.durationMs, now);
            } else if (o.t === 'advance') {
              clock.advance(o.ms);
              const t = clock.now();
              // Calls due by now report in the order they end, timed by the clock: hung ones are slow.
              const due = outstanding
                .filter((c) => c.dueMs !== undefined && c.dueMs <= t)
                .sort((a, b) => (a.dueMs ?? 0) - (b.dueMs ?? 0));
              for (const call of due) {
                outstanding.splice(outstanding.indexOf(call), 1);
                deliver(call, call.outcome ?? 'ok', t - call.atMs, t);
              }
            } else if (o.t === 'health') breaker.recordHealthCheck(o.ok, now);
            else if (o.t === 'isolate') breaker.isolate();
            else breaker.reset();

            expect(violations).toEqual([]);
            expect(breaker.state).toBe(state);
            if (state === 'half-open') {
              const t = clock.now();
              const s = breaker.stats(t);
              const live = outstanding.filter(
                (c) => c.permit > 0 && c.episode === episode && c.atMs + s.breakDurationMs > t,
              ).length;
              expect(live).toBeLessThanOrEqual(opts.halfOpenProbes);
              expect(s.probesInFlight).toBeLessThanOrEqual(opts.halfOpenProbes);
            }
          }
        },
      ),
      { numRuns: 400, examples: [[LATE_EXAMPLE_OPTIONS, [0.5], LATE_EXAMPLE_OPS]] },
    );
  });

  it('half-open never has more than halfOpenProbes un-expired probes in flight, whatever order results come in', () => {
    const probeOps = fc.array(
      fc.oneof(
        fc.constant<Op>({ t: 'acquire' }),
        fc.record({
          t: fc.constant('complete' as const),
          pick: fc.nat(),
          outcome: fc.constantFrom('ok' as const, 'ignore' as const, 'fail' as const),
          durationMs: fc.constant(0),
        }),
        fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(0, 10, 25, 50, 100, 150) }),
      ),
      { minLength: 20, maxLength: 60, size: 'max' },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), probeOps, (halfOpenProbes, ops) => {
        const clock = new ManualClock();
        const breaker = createCircuitBreaker({
          clock,
          halfOpenProbes,
          breakDurationMs: 100,
          backoffMultiplier: 1,
          jitter: 0,
          consecutiveFailures: 1,
          initialState: { ...HALF_OPEN, breakDurationMs: 100 },
        });
        let episode = 0;
        breaker.on('state-change', (e) => {
          if (e.to === 'half-open') episode++;
        });
        const outstanding: Outstanding[] = [];
        for (const o of ops) {
          const now = clock.now();
          if (o.t === 'acquire') {
            try {
              outstanding.push({ permit: breaker.acquire(now), atMs: now, episode });
            } catch {}
          } else if (o.t === 'complete' && outstanding.length > 0) {
            const [call] = outstanding.splice(o.pick % outstanding.length, 1);
            if (call === undefined) continue;
            if (o.outcome === 'ok') breaker.onSuccess(call.permit, 0, now);
            else
              breaker.onFailure(
                call.permit,
                0,
                now,
                o.outcome === 'fail' ? new Error('x') : shedError('limit', 't'),
              );
          } else if (o.t === 'advance') clock.advance(o.ms);
          if (breaker.state === 'half-open') {
            const t = clock.now();
            const live = outstanding.filter((c) => c.permit > 0 && c.episode === episode && c.atMs + 100 > t);
            expect(live.length).toBeLessThanOrEqual(halfOpenProbes);
          }
        }
      }),
      {
        numRuns: 1000,
        // A late result of a probe whose lease ended must not free the slot of the probe that replaced it.
        examples: [[1, [ACQUIRE, { t: 'advance', ms: 100 }, ACQUIRE, IGNORE_FIRST, ACQUIRE]]],
      },
    );
  });
});

/**
 * Per-call cost of Ballast's policies and of the anchors over a direct `await fn()`, where `fn` is an async
 * function that resolves at once. Measured with 32 calls in flight and with 1, in interleaved rounds.
 */

import { createPolicy, type Policy } from '@ballast/core';
import {
  type Caller,
  cockatielBreakerCaller,
  cockatielStackCaller,
  opossumCaller,
  pLimitCaller,
} from '../lib/anchors.js';
import { median, prng, quantile, round, shuffle } from '../lib/stats.js';
import type { Bar, ResultRow, ScenarioContext, ScenarioResult } from '../lib/types.js';

export const name = 'micro';
export const description =
  'Per-call overhead over a direct `await fn()` (fn already resolved): Ballast policies vs opossum, cockatiel, p-limit; 32 in flight and sequential.';

/** The per-call goal from the issue, informational: the CI bars compare against the anchors instead. */
const GOAL_OVERHEAD_NS = 150;
const IN_FLIGHT = 32;

const SETTINGS = {
  full: { rounds: 21, warmupMs: 300, roundTargetMs: 40 },
  ci: { rounds: 15, warmupMs: 100, roundTargetMs: 12 },
} as const;

type Mode = 'concurrent' | 'sequential';
const MODE_LABEL: Record<Mode, string> = {
  concurrent: `${IN_FLIGHT} in flight`,
  sequential: '1 in flight (sequential)',
};

async function fn(): Promise<number> {
  return 42;
}

interface Variant {
  id: string;
  label: string;
  call: () => Promise<unknown>;
  close: () => void;
}

function policyVariant(id: string, label: string, policy: Policy, deadlineMs?: number): Variant {
  const options = deadlineMs === undefined ? undefined : { deadlineMs };
  return {
    id,
    label,
    call: options === undefined ? () => policy.execute(fn) : () => policy.execute(fn, options),
    close: () => {},
  };
}

function anchorVariant(id: string, label: string, caller: Caller<unknown>): Variant {
  return { id, label, call: caller.call, close: caller.close };
}

function buildVariants(): Variant[] {
  return [
    { id: 'direct', label: 'direct `await fn()`', call: fn, close: () => {} },
    policyVariant('ballast', 'ballast default stack', createPolicy({ name: 'bench' })),
    policyVariant(
      'ballast-deadline',
      'ballast default + deadlineMs 1000',
      createPolicy({ name: 'bench-deadline' }),
      1000,
    ),
    policyVariant(
      'ballast-breaker',
      'ballast breaker only',
      createPolicy({ name: 'bench-breaker', breaker: {}, limiter: false, retry: false }),
    ),
    policyVariant(
      'ballast-limiter',
      'ballast limiter only',
      createPolicy({ name: 'bench-limiter', breaker: false, limiter: {}, retry: false }),
    ),
    policyVariant(
      'ballast-retry',
      'ballast retry only',
      createPolicy({ name: 'bench-retry', breaker: false, limiter: false, retry: {} }),
    ),
    policyVariant(
      'ballast-bare',
      'ballast, every part off',
      createPolicy({ name: 'bench-bare', breaker: false, limiter: false, retry: false }),
    ),
    anchorVariant('opossum', 'opossum fire (timeout: false)', opossumCaller(fn, false)),
    anchorVariant('opossum-timeout', 'opossum fire (default timeout)', opossumCaller(fn)),
    anchorVariant('cockatiel-breaker', 'cockatiel breaker', cockatielBreakerCaller(fn)),
    anchorVariant('cockatiel-stack', 'cockatiel bulkhead+timeout+breaker', cockatielStackCaller(fn)),
    anchorVariant('p-limit', 'p-limit(1000)', pLimitCaller(fn, 1000)),
  ];
}

/** ns per call of `n` calls of `call`, one at a time. */
async function timeSequential(call: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  return Number(process.hrtime.bigint() - t0) / n;
}

/** ns per call of `n` calls of `call` in batches of {@link IN_FLIGHT} awaited together. */
async function timeConcurrent(call: () => Promise<unknown>, n: number): Promise<number> {
  const batches = Math.max(1, Math.round(n / IN_FLIGHT));
  const batch = new Array<Promise<unknown>>(IN_FLIGHT);
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    for (let j = 0; j < IN_FLIGHT; j++) batch[j] = call();
    await Promise.all(batch);
  }
  return Number(process.hrtime.bigint() - t0) / (batches * IN_FLIGHT);
}

function timer(mode: Mode): (call: () => Promise<unknown>, n: number) => Promise<number> {
  return mode === 'concurrent' ? timeConcurrent : timeSequential;
}

/** Warms `call` up for about `ms` and returns how many calls take `targetMs`. */
async function calibrate(
  mode: Mode,
  call: () => Promise<unknown>,
  ms: number,
  targetMs: number,
): Promise<number> {
  const time = timer(mode);
  let n = 256;
  // the fastest warm-up sample: a sample slowed by a GC or a preemption would make every round too short
  let best = await time(call, n);
  const until = performance.now() + ms;
  while (performance.now() < until) {
    n = Math.min(1_000_000, Math.max(256, Math.round((ms * 1e6) / 10 / best)));
    best = Math.min(best, await time(call, n));
  }
  return Math.min(2_000_000, Math.max(IN_FLIGHT * 8, Math.round((targetMs * 1e6) / best)));
}

interface ModeResult {
  samples: Record<string, number[]>;
  callsPerRound: Record<string, number>;
}

async function measureMode(
  mode: Mode,
  variants: Variant[],
  settings: (typeof SETTINGS)[keyof typeof SETTINGS],
  ctx: ScenarioContext,
  random: () => number,
): Promise<ModeResult> {
  const time = timer(mode);
  const callsPerRound: Record<string, number> = {};
  const samples: Record<string, number[]> = {};
  // One full GC before the mode, none between samples: a forced GC shrinks the heap, and the next sample of an
  // allocating variant then pays for regrowing it (p-limit measured 2-3x slower and 5x noisier that way).
  ctx.gc();
  for (const v of variants) {
    ctx.progress(`${MODE_LABEL[mode]}: warming up ${v.label}`);
    callsPerRound[v.id] = await calibrate(mode, v.call, settings.warmupMs, settings.roundTargetMs);
    samples[v.id] = [];
  }
  for (let r = 0; r < settings.rounds; r++) {
    ctx.progress(`${MODE_LABEL[mode]}: round ${r + 1}/${settings.rounds}`);
    for (const v of shuffle([...variants], random)) {
      samples[v.id]?.push(await time(v.call, callsPerRound[v.id] ?? 0));
    }
  }
  return { samples, callsPerRound };
}

async function checkVariants(variants: Variant[]): Promise<void> {
  for (const v of variants) {
    const value = await v.call();
    if (value !== 42) throw new Error(`${v.id} returned ${String(value)}, expected 42`);
  }
}

/** Anchors the Ballast default stack must not be slower than (overhead ratio ≤ 1). */
const BAR_ANCHORS = [
  ['opossum', 'opossum fire (timeout: false)'],
  ['cockatiel-breaker', 'cockatiel breaker'],
  ['p-limit', 'p-limit'],
] as const;

/** Keeps the timed loops' results alive so the JIT cannot drop them. */
export let sink = 0;

/** ns per `performance.now()`: why Ballast's default clock reads it at most once per event-loop turn. */
function clockReadNs(): number {
  const n = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += performance.now();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  return ns;
}

export async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const settings = ctx.ci ? SETTINGS.ci : SETTINGS.full;
  clockReadNs(); // warm-up
  const clockNs = clockReadNs();
  const seed = 0xba11a57;
  const random = prng(seed);
  const rows: ResultRow[] = [];
  const bars: Bar[] = [];
  const notes: string[] = [];
  const raw: Record<string, unknown> = {};

  for (const mode of ['concurrent', 'sequential'] as const) {
    // fresh instances per mode so one mode's state (limits, windows) does not carry into the other
    const variants = buildVariants();
    try {
      await checkVariants(variants);
      const { samples, callsPerRound } = await measureMode(mode, variants, settings, ctx, random);
      const medians: Record<string, number> = {};
      for (const v of variants) medians[v.id] = median(samples[v.id] ?? []);
      const direct = medians.direct ?? Number.NaN;
      const overhead = (id: string) => (medians[id] ?? Number.NaN) - direct;
      for (const v of variants) {
        const s = samples[v.id] ?? [];
        rows.push({
          label: v.label,
          group: MODE_LABEL[mode],
          metrics: {
            medianNs: round(medians[v.id] ?? Number.NaN, 1),
            overheadNs: v.id === 'direct' ? 0 : round(overhead(v.id), 1),
            iqrNs: round(quantile(s, 0.75) - quantile(s, 0.25), 1),
            callsPerRound: callsPerRound[v.id] ?? 0,
          },
        });
      }
      for (const [id, label] of BAR_ANCHORS) {
        bars.push({
          name: `${mode}-ballast-vs-${id}`,
          value: round(overhead('ballast') / overhead(id), 3),
          bar: 1,
          op: '<=',
          description: `${MODE_LABEL[mode]}: Ballast default-stack overhead / ${label} overhead`,
        });
      }
      const ballastNs = overhead('ballast');
      notes.push(
        `${MODE_LABEL[mode]}: Ballast default stack adds ${round(ballastNs, 0)} ns a call ` +
          `(goal ≤ ${GOAL_OVERHEAD_NS} ns: ${ballastNs <= GOAL_OVERHEAD_NS ? 'met' : 'NOT met'}); ` +
          `with deadlineMs ${round(overhead('ballast-deadline'), 0)} ns.`,
      );
      raw[mode] = { nsPerCallByRound: samples, callsPerRound };
    } finally {
      for (const v of variants) v.close();
    }
  }
  notes.push(
    `performance.now() costs ${round(clockNs, 0)} ns here (informational: Ballast's systemClock reads it at most once per event-loop turn; in this benchmark the calls of one round share a turn, in a server each I/O completion starts a new one).`,
  );
  return {
    rows,
    bars,
    notes,
    config: {
      clockReadNs: round(clockNs, 1),
      ...settings,
      inFlight: IN_FLIGHT,
      seed,
      goalOverheadNs: GOAL_OVERHEAD_NS,
      timer: 'process.hrtime.bigint',
    },
    raw,
  };
}

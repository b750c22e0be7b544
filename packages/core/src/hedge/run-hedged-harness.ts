import type { Clock, TimerHandle } from '../clock.js';
import { ManualClock } from '../testing/manual-clock.js';
import { createHedge, type Hedge } from './hedge.js';
import type { HedgeOptions } from './hedge-options.js';
import { type HedgeAttemptContext, runHedged } from './run-hedged.js';

/* Test harness for run-hedged*.test.ts: scripted attempts on a ManualClock. Not exported from the package. */

/** The clock handed to runHedged: counts its timers so tests can tell them from the attempts' own. */
export class CountingClock implements Clock {
  started = 0;
  readonly pending = new Set<TimerHandle>();
  constructor(readonly inner: ManualClock) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    this.started++;
    const handle: TimerHandle = this.inner.setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, delayMs);
    this.pending.add(handle);
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle);
    this.inner.clearTimeout(handle);
  }
}

export interface Plan {
  ms: number;
  ok: boolean;
}
export interface Started {
  index: number;
  at: number;
  signal: AbortSignal;
  endedAt?: number;
}

/** Work whose attempt `i` takes `plan[i].ms` and then succeeds with `i` or fails; it stops when aborted. */
export function plannedWork(clock: ManualClock, plan: readonly Plan[], started: Started[]) {
  return (ctx: HedgeAttemptContext): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const index = ctx.hedge ?? 0;
      const entry: Started = { index, at: clock.now(), signal: ctx.signal };
      started.push(entry);
      const p = plan[index] ?? { ms: 1e9, ok: true };
      const timer = clock.setTimeout(() => {
        entry.endedAt = clock.now();
        if (p.ok) resolve(index);
        else reject(Object.assign(new Error(`attempt ${index} failed`), { code: 'ECONNRESET', index }));
      }, p.ms);
      ctx.signal.addEventListener('abort', () => {
        clock.clearTimeout(timer);
        reject(ctx.signal.reason);
      });
    });
}

export function parentContext(signal: AbortSignal = new AbortController().signal): HedgeAttemptContext {
  return {
    signal,
    attempt: 1,
    deadlineAt: Number.POSITIVE_INFINITY,
    remainingMs: () => Number.POSITIVE_INFINITY,
  };
}

/** A hedge whose tracker already holds latencies of 1..100 ms (p95 ≈ 95 ms). */
export function warmHedge(options: HedgeOptions = {}, samples = 100): Hedge {
  const hedge = createHedge({ budget: false, ...options });
  for (let i = 1; i <= samples; i++) hedge.record(i, 0);
  return hedge;
}

export function setup(hedge: Hedge, plan: Plan[], signal?: AbortSignal) {
  const manual = new ManualClock();
  const clock = new CountingClock(manual);
  const started: Started[] = [];
  const outcome: { value?: number; error?: unknown; settled: number } = { settled: 0 };
  const promise = runHedged(
    hedge,
    plannedWork(manual, plan, started),
    parentContext(signal),
    clock,
    manual.now(),
  );
  promise.then(
    (value) => {
      outcome.settled++;
      outcome.value = value;
    },
    (error: unknown) => {
      outcome.settled++;
      outcome.error = error;
    },
  );
  return { manual, clock, started, outcome, promise };
}

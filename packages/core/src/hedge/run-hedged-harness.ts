import type { Clock, TimerHandle } from '../clock.js';
import { ManualClock } from '../testing/manual-clock.js';
import { createHedge, type Hedge } from './hedge.js';
import type { HedgeOptions } from './hedge-options.js';
import { type HedgeAdmit, type HedgeAttemptContext, runHedgedTracked } from './run-hedged.js';

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
  /** The work goes on until `ms` even after its signal aborted (it never reads it). */
  ignoresAbort?: boolean;
}
export interface Started {
  index: number;
  at: number;
  signal: AbortSignal;
  /** When the planned time ran out (not set when the work stopped on its aborted signal). */
  endedAt?: number;
  /** When the work's promise settled, however. */
  settledAt?: number;
  /** Attempts running when this one started, itself included. */
  runningAtStart: number;
  /** Admitted hedges not yet released when this one started. */
  outstandingAtStart: number;
}

/** What runs, and which admits are out, while a harness call goes on. */
export interface Live {
  running: number;
  maxRunning: number;
  /** Admits handed out and not yet released. */
  outstanding: number;
  admitCalls: number;
  /** Calls of each handed-out release function, in admit order. */
  releaseCalls: number[];
  /** Clock time of each release function's first call. */
  releasedAt: number[];
}

export function newLive(): Live {
  return { running: 0, maxRunning: 0, outstanding: 0, admitCalls: 0, releaseCalls: [], releasedAt: [] };
}

/** Work whose attempt `i` takes `plan[i].ms` and then succeeds with `i` or fails; it stops when aborted. */
export function plannedWork(clock: ManualClock, plan: readonly Plan[], started: Started[], live = newLive()) {
  return (ctx: HedgeAttemptContext): Promise<number> => {
    const index = ctx.hedge ?? 0;
    live.running++;
    live.maxRunning = Math.max(live.maxRunning, live.running);
    const entry: Started = {
      index,
      at: clock.now(),
      signal: ctx.signal,
      runningAtStart: live.running,
      outstandingAtStart: live.outstanding,
    };
    started.push(entry);
    const p = plan[index] ?? { ms: 1e9, ok: true };
    const work = new Promise<number>((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        entry.endedAt = clock.now();
        if (p.ok) resolve(index);
        else reject(Object.assign(new Error(`attempt ${index} failed`), { code: 'ECONNRESET', index }));
      }, p.ms);
      if (p.ignoresAbort !== true)
        ctx.signal.addEventListener('abort', () => {
          clock.clearTimeout(timer);
          reject(ctx.signal.reason);
        });
    });
    const settled = (): void => {
      entry.settledAt = clock.now();
      live.running--;
    };
    work.then(settled, settled);
    return work;
  };
}

export function parentContext(signal: AbortSignal = new AbortController().signal): HedgeAttemptContext {
  return {
    signal,
    endSignal: signal,
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

/** An admit of at most `capacity` outstanding hedges that counts every release call in `live`. */
export function capacityAdmit(clock: ManualClock, live: Live, capacity: number): HedgeAdmit {
  return () => {
    live.admitCalls++;
    if (live.outstanding >= capacity) return undefined;
    live.outstanding++;
    const id = live.releaseCalls.push(0) - 1;
    return () => {
      live.releaseCalls[id] = (live.releaseCalls[id] as number) + 1;
      if (live.releaseCalls[id] === 1) {
        live.outstanding--;
        live.releasedAt[id] = clock.now();
      }
    };
  };
}

export interface SetupOptions {
  /** The parent's signal (a fresh one when absent); ignored when `parent` is given. */
  signal?: AbortSignal | undefined;
  parent?: HedgeAttemptContext | undefined;
  /** Admits at most this many outstanding hedges (see {@link capacityAdmit}); no admit when absent. */
  admitCapacity?: number | undefined;
  /** A custom admit; wins over `admitCapacity`. */
  admit?: HedgeAdmit | undefined;
}

export function setup(hedge: Hedge, plan: Plan[], options: SetupOptions = {}) {
  const manual = new ManualClock();
  const clock = new CountingClock(manual);
  const started: Started[] = [];
  const live = newLive();
  const outcome: {
    value?: number;
    error?: unknown;
    settled: number;
    settledAt?: number;
    /** Attempts still running when the result settled. */
    runningAtSettle?: number;
    done: number;
    doneAt?: number;
    runningAtDone?: number;
  } = { settled: 0, done: 0 };
  const admit =
    options.admit ??
    (options.admitCapacity === undefined ? undefined : capacityAdmit(manual, live, options.admitCapacity));
  const { result, done } = runHedgedTracked(
    hedge,
    plannedWork(manual, plan, started, live),
    options.parent ?? parentContext(options.signal),
    clock,
    manual.now(),
    admit,
  );
  const settled = (): void => {
    outcome.settled++;
    outcome.settledAt = manual.now();
    outcome.runningAtSettle = live.running;
  };
  result.then(
    (value) => {
      settled();
      outcome.value = value;
    },
    (error: unknown) => {
      settled();
      outcome.error = error;
    },
  );
  done.then(() => {
    outcome.done++;
    outcome.doneAt = manual.now();
    outcome.runningAtDone = live.running;
  });
  return { manual, clock, started, outcome, live, promise: result, done };
}

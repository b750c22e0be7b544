import type { Clock, TimerHandle } from '@ballast/core';
import pg from 'pg';
import { createHostPool, type HostPoolOptions } from './host-pool.js';
import type { HostPool } from './types.js';

/** Pools and clients a test opened, closed after it. */
export class Opened {
  readonly #pools: HostPool[] = [];
  readonly #clients: pg.Client[] = [];

  pool(options: HostPoolOptions): HostPool {
    const pool = createHostPool(options);
    this.#pools.push(pool);
    return pool;
  }

  async client(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    this.#clients.push(client);
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all([
      ...this.#pools.splice(0).map((p) => p.close()),
      ...this.#clients.splice(0).map((c) => c.end().catch(() => {})),
    ]);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 10 ms until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await check()) return true;
    await sleep(10);
  }
  return check();
}

export function pidOf(client: pg.Client): number {
  return (client as unknown as { processID: number }).processID;
}

/**
 * A clock that moves only when told, for the pool's timers (core's ManualClock lives outside this package's
 * rootDir and behind a subpath the test alias does not map). Timers fire in time order during `advance`.
 */
export class StepClock implements Clock {
  #now: number;
  #nextId = 1;
  /** Timers set so far. */
  timersSet = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.timersSet++;
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers)
        if (entry[1].at <= target && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = target;
  }
}

/** Lets promise continuations run. */
export async function flushMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

import type { Clock } from '@ballast/core';
import type { CacheStore, CommandOptions } from './store.js';

/** A promise with its settle functions outside. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** How the in-memory store behaves: `'ok'`, failing every command, or never answering. */
export type StoreMode = 'ok' | 'fail' | 'hang';

/**
 * A CacheStore in memory for unit tests: PX expiry on the given clock, a switch that makes every command fail or
 * hang, and the commands it received.
 */
export class MemoryStore implements CacheStore {
  readonly data = new Map<string, { value: string; expiresAt: number }>();
  readonly log: { op: 'get' | 'set' | 'del'; key: string; ttlMs?: number; options?: CommandOptions }[] = [];
  mode: StoreMode = 'ok';
  /** Only writes fail (reads work). */
  failWrites = false;

  constructor(private readonly clock: Clock) {}

  getRaw(key: string, options?: CommandOptions): Promise<string | null> {
    this.log.push({ op: 'get', key, ...(options && { options }) });
    return this.#answer(() => {
      const item = this.data.get(key);
      if (item === undefined || item.expiresAt <= this.clock.now()) return null;
      return item.value;
    });
  }

  setRaw(key: string, value: string, ttlMs: number, options?: CommandOptions): Promise<void> {
    this.log.push({ op: 'set', key, ttlMs, ...(options && { options }) });
    if (this.failWrites) return Promise.reject(Object.assign(new Error('write failed'), { code: 'EWRITE' }));
    return this.#answer(() => {
      this.data.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    });
  }

  delRaw(key: string, options?: CommandOptions): Promise<void> {
    this.log.push({ op: 'del', key, ...(options && { options }) });
    return this.#answer(() => {
      this.data.delete(key);
    });
  }

  /** Commands of one kind received so far. */
  count(op: 'get' | 'set' | 'del'): number {
    return this.log.filter((entry) => entry.op === op).length;
  }

  #answer<T>(fn: () => T): Promise<T> {
    if (this.mode === 'hang') return new Promise<T>(() => {});
    if (this.mode === 'fail')
      return Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }));
    return Promise.resolve(fn());
  }
}

/**
 * A loader whose calls the test settles by hand, recording per key the calls made and the most in flight at once.
 */
export class ControlledLoader<T = string> {
  readonly calls: { key: string; signal: AbortSignal; done: Deferred<T> }[] = [];
  readonly inflight = new Map<string, number>();
  readonly maxInflight = new Map<string, number>();

  for(key: string): (ctx: { signal: AbortSignal }) => Promise<T> {
    return ({ signal }) => {
      const done = deferred<T>();
      this.calls.push({ key, signal, done });
      const now = (this.inflight.get(key) ?? 0) + 1;
      this.inflight.set(key, now);
      this.maxInflight.set(key, Math.max(now, this.maxInflight.get(key) ?? 0));
      const settle = () => this.inflight.set(key, (this.inflight.get(key) ?? 1) - 1);
      done.promise.then(settle, settle);
      return done.promise;
    };
  }

  /** Calls made for `key`. */
  callsFor(key: string): number {
    return this.calls.filter((c) => c.key === key).length;
  }

  /** The most recent call (for `key`, when given). */
  last(key?: string): { key: string; signal: AbortSignal; done: Deferred<T> } {
    const list = key === undefined ? this.calls : this.calls.filter((c) => c.key === key);
    const call = list[list.length - 1];
    if (call === undefined) throw new Error(`no loader call${key === undefined ? '' : ` for ${key}`}`);
    return call;
  }
}

/** Settles a promise into `{ value }` or `{ error }`, so a test can check it without unhandled rejections. */
export function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

import type { Clock, TimerHandle } from '@ballast/core';
import type { Conn } from './host-pool-connection.js';

/**
 * The pool's background upkeep, each with at most ONE clock timer: the hold watch (connections held too long),
 * the idle reaper (idle connections above `min`), and the pre-reuse validation of a stale idle connection.
 * Internal.
 */

/**
 * Warns once per checkout about a connection held longer than `holdWarningMs`. Its timer runs only while a
 * connection is checked out: it stops at the first tick that finds none.
 */
export class HoldWatch {
  #timer: TimerHandle | undefined = undefined;
  readonly #onTick = (): void => this.#tick();

  constructor(
    private readonly clock: Clock,
    private readonly holdWarningMs: number,
    private readonly conns: ReadonlySet<Conn>,
    private readonly onHeld: (heldMs: number) => void,
  ) {}

  /** Called on every checkout: one branch when already running. */
  ensureRunning(): void {
    if (this.#timer === undefined && this.holdWarningMs > 0) this.#arm();
  }

  stop(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    // A quarter of the threshold: a warning comes at most 25 % late.
    this.#timer = this.clock.setTimeout(this.#onTick, Math.max(1, this.holdWarningMs / 4));
  }

  #tick(): void {
    this.#timer = undefined;
    const now = this.clock.now();
    let busy = false;
    for (const conn of this.conns) {
      if (conn.state !== 'busy') continue;
      busy = true;
      if (conn.heldWarned) continue;
      const heldMs = now - conn.checkedOutAt;
      if (heldMs < this.holdWarningMs) continue;
      conn.heldWarned = true;
      this.onHeld(heldMs);
    }
    if (busy) this.#arm();
  }
}

/**
 * Closes idle connections unused for `idleTimeoutMs` while the pool is above `min`, least recently used first.
 * Its one timer is set for the oldest idle connection (`idle[0]`: the idle stack is ordered by last use).
 */
export class IdleReaper {
  #timer: TimerHandle | undefined = undefined;
  readonly #onTick = (): void => this.#tick();

  constructor(
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly idle: readonly Conn[],
    private readonly aboveMin: () => boolean,
    private readonly destroy: (conn: Conn) => void,
  ) {}

  /** Called when a connection goes idle: one branch when already armed. */
  ensureArmed(now: number): void {
    if (this.#timer === undefined && this.idleTimeoutMs > 0 && this.aboveMin()) this.#arm(now);
  }

  stop(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(now: number): void {
    const oldest = this.idle[0];
    if (oldest === undefined) return;
    const delay = oldest.lastUsedAt + this.idleTimeoutMs - now;
    this.#timer = this.clock.setTimeout(this.#onTick, Math.max(1, Math.ceil(delay)));
  }

  #tick(): void {
    this.#timer = undefined;
    const now = this.clock.now();
    while (this.aboveMin()) {
      const oldest = this.idle[0];
      if (oldest === undefined || now - oldest.lastUsedAt < this.idleTimeoutMs) break;
      this.destroy(oldest);
    }
    if (this.idle.length > 0 && this.aboveMin()) this.#arm(now);
  }
}

/**
 * Runs `SELECT 1` on a connection that sat idle a long time. Resolves with `undefined` when it answered within
 * `timeoutMs`, else with the error (its own, or a timeout: a half-open socket answers nothing).
 */
export function validateConnection(conn: Conn, clock: Clock, timeoutMs: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      resolve(error);
    };
    const timer = clock.setTimeout(
      () => finish(new Error(`pg-pool ${conn.host}: validation (SELECT 1) timed out after ${timeoutMs} ms`)),
      Math.max(1, timeoutMs),
    );
    conn.client.query('SELECT 1').then(
      () => finish(undefined),
      (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

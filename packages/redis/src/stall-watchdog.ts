/**
 * Finds connections that went silent: commands are waiting and none has been answered for `stallTimeoutMs`.
 * Redis answers in order, so the oldest pending command (the head of ioredis' `commandQueue`) staying the same
 * object across checks means no reply at all arrived meanwhile. Nothing is done per command: the check reads one
 * field per connection, on a coarse periodic tick.
 */

/** The part of an ioredis connection the watchdog reads. */
export interface WatchedConnection {
  readonly commandQueue: { readonly length: number; peekFront(): unknown };
}

/** Commands that may legitimately wait for their reply: never a stall. */
const BLOCKING: ReadonlySet<string> = new Set([
  'blpop',
  'brpop',
  'brpoplpush',
  'blmove',
  'blmpop',
  'bzpopmin',
  'bzpopmax',
  'bzmpop',
  'xread',
  'xreadgroup',
  'wait',
  'waitaof',
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'monitor',
]);

function isBlocking(item: unknown): boolean {
  const name = (item as { command?: { name?: unknown } } | undefined)?.command?.name;
  return typeof name === 'string' && BLOCKING.has(name.toLowerCase());
}

interface Seen {
  head: unknown;
  since: number;
}

export class StallWatchdog {
  readonly #seen = new WeakMap<object, Seen>();

  /** @param stallTimeoutMs silence (ms) with commands pending after which a connection counts as stalled */
  constructor(readonly stallTimeoutMs: number) {}

  /**
   * Looks at `connection` at clock time `nowMs`; call it periodically. Returns how long (ms) its oldest pending
   * command has waited with no reply, once that reaches `stallTimeoutMs`; otherwise 0. The wait is counted from
   * the first check that saw the command at the head, so a stall is found between one and two periods late.
   */
  check(connection: WatchedConnection, nowMs: number): number {
    const queue = connection.commandQueue;
    const head = queue.length === 0 ? undefined : queue.peekFront();
    if (head === undefined || isBlocking(head)) {
      this.#seen.delete(connection);
      return 0;
    }
    const seen = this.#seen.get(connection);
    if (seen === undefined || seen.head !== head) {
      this.#seen.set(connection, { head, since: nowMs });
      return 0;
    }
    const silentMs = nowMs - seen.since;
    return silentMs >= this.stallTimeoutMs ? silentMs : 0;
  }

  /** Forgets `connection` (after it was closed): its next check starts counting afresh. */
  forget(connection: WatchedConnection): void {
    this.#seen.delete(connection);
  }
}

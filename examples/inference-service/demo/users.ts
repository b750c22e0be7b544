/**
 * Simulated chat users: each has its own conversation and session token, sends one request at a time, each to the
 * other instance than its previous one, and checks that every answer's history shows what it wrote before.
 */

import { HISTORY_LIMIT } from '../src/chat.js';

/**
 * True when a chat's history read missed a write the user is owed (read-your-writes across instances): the
 * message just written (`messageId`), or any message or reply id this user got back earlier in the conversation.
 * An earlier id only counts when it falls inside the window the read returns, the newest {@link HISTORY_LIMIT}
 * messages: a full window whose oldest id is above it has simply scrolled past it.
 */
export function isStaleRead(
  historyIds: readonly number[],
  messageId: number,
  earlierIds: Iterable<number>,
): boolean {
  const seen = new Set(historyIds);
  if (!seen.has(messageId)) return true;
  const oldestShown = historyIds.length >= HISTORY_LIMIT ? Math.min(...historyIds) : Number.NEGATIVE_INFINITY;
  for (const id of earlierIds) if (id > oldestShown && !seen.has(id)) return true;
  return false;
}

/** One simulated user. */
export interface SimulatedUser {
  readonly conversationId: string;
  /** The `x-ballast-session` token of its last response that carried one. */
  token: string | undefined;
  /** The instance (index) its previous request went to. */
  lastInstance: number;
  /** Every message and reply id it got back in this conversation. */
  readonly ids: Set<number>;
}

/** The users of one mode's run; hands out idle users, longest idle first, so every user keeps coming back. */
export class UserPool {
  /** Idle users from `head` on; the slots before it were handed out. */
  private readonly idle: SimulatedUser[] = [];
  private head = 0;

  /**
   * @param count users (≥ 1)
   * @param prefix makes the conversation ids unique to the run and mode
   * @param instances how many instances the requests alternate between
   */
  constructor(
    readonly count: number,
    private readonly prefix: string,
    private readonly instances: number,
  ) {
    for (let i = 0; i < count; i++) {
      // the first request of user i goes to instance i mod n, so both instances get traffic from the start
      const lastInstance = (i + instances - 1) % instances;
      this.idle.push({ conversationId: `${prefix}-u${i}`, token: undefined, lastInstance, ids: new Set() });
    }
  }

  /** An idle user, now busy, and the instance its request goes to; `undefined` when every user is busy. */
  take(): { user: SimulatedUser; instance: number } | undefined {
    const user = this.idle[this.head];
    if (user === undefined) return undefined;
    this.head++;
    // drop the handed-out slots now and then rather than shifting the array on every take
    if (this.head >= 1024) {
      this.idle.splice(0, this.head);
      this.head = 0;
    }
    const instance = (user.lastInstance + 1) % this.instances;
    user.lastInstance = instance;
    return { user, instance };
  }

  /** Marks `user` idle again. */
  release(user: SimulatedUser): void {
    this.idle.push(user);
  }

  /** Users with a request in flight. */
  busy(): number {
    return this.count - (this.idle.length - this.head);
  }

  /** The conversation id of user `i mod count` (eventual reads pick any conversation). */
  conversationOf(i: number): string {
    return `${this.prefix}-u${i % this.count}`;
  }
}

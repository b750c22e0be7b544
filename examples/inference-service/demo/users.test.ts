import { describe, expect, it } from 'vitest';
import { HISTORY_LIMIT } from '../src/chat.js';
import { isStaleRead, UserPool } from './users.js';

describe('isStaleRead', () => {
  it('is stale when the history misses the message the request just wrote', () => {
    expect(isStaleRead([1, 2, 3], 4, [1, 2, 3])).toBe(true);
  });

  it('is stale when the history misses an id the user got back in an earlier answer (another instance)', () => {
    // ids 5 (message) and 6 (reply) came back from instance a; instance b's read shows 7 but not 6
    expect(isStaleRead([5, 7], 7, [5, 6])).toBe(true);
  });

  it('is not stale when every id the user is owed is there', () => {
    expect(isStaleRead([5, 6, 7], 7, [5, 6])).toBe(false);
    expect(isStaleRead([42], 42, [])).toBe(false);
  });

  it('does not count ids a full window has scrolled past', () => {
    const window = Array.from({ length: HISTORY_LIMIT }, (_, i) => 100 + i);
    expect(isStaleRead(window, 119, [3, 4, 118])).toBe(false);
    // inside the window a missing earlier id still counts
    expect(
      isStaleRead(
        window.filter((id) => id !== 110),
        119,
        [110],
      ),
    ).toBe(true);
  });

  it('counts every earlier id while the window is not full', () => {
    expect(isStaleRead([10, 11, 12], 12, [1])).toBe(true);
  });
});

describe('UserPool', () => {
  it('sends each user to the other instance than its previous request', () => {
    const pool = new UserPool(2, 'r-ballast', 2);
    const first = pool.take();
    expect(first?.user.conversationId).toBe('r-ballast-u0');
    expect(first?.instance).toBe(0);
    const second = pool.take();
    expect(second?.instance).toBe(1);
    if (first === undefined) throw new Error('no user');
    pool.release(first.user);
    expect(pool.take()?.instance).toBe(1);
  });

  it('hands out each user once until it is released, and none when all are busy', () => {
    const pool = new UserPool(3, 'p', 2);
    const ids = [pool.take(), pool.take(), pool.take()].map((t) => t?.user.conversationId);
    expect(new Set(ids).size).toBe(3);
    expect(pool.take()).toBeUndefined();
    expect(pool.busy()).toBe(3);
  });

  it('keeps working past the point where it compacts its queue', () => {
    const pool = new UserPool(2, 'p', 2);
    for (let i = 0; i < 3000; i++) {
      const taken = pool.take();
      if (taken === undefined) throw new Error(`no idle user at ${i}`);
      pool.release(taken.user);
    }
    expect(pool.busy()).toBe(0);
  });
});

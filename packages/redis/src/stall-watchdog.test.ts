import { ManualClock } from '@ballast/core/testing';
import { describe, expect, it } from 'vitest';
import { StallWatchdog, type WatchedConnection } from './stall-watchdog.js';

/** A connection's command queue as ioredis keeps it: items `{ command: { name } }`, oldest first. */
class Queue implements WatchedConnection {
  readonly items: { command: { name: string } }[] = [];
  readonly commandQueue = {
    get length(): number {
      return 0;
    },
    peekFront: (): unknown => this.items[0],
  };

  constructor() {
    Object.defineProperty(this.commandQueue, 'length', { get: () => this.items.length });
  }

  send(name: string): void {
    this.items.push({ command: { name } });
  }

  reply(): void {
    this.items.shift();
  }
}

describe('StallWatchdog', () => {
  it('reports a connection whose oldest command had no reply for stallTimeoutMs, counted from first sight', () => {
    const clock = new ManualClock();
    const watchdog = new StallWatchdog(1_000);
    const c = new Queue();
    expect(watchdog.check(c, clock.now())).toBe(0);
    c.send('get');
    expect(watchdog.check(c, clock.now())).toBe(0);
    clock.advance(999);
    expect(watchdog.check(c, clock.now())).toBe(0);
    clock.advance(1);
    expect(watchdog.check(c, clock.now())).toBe(1_000);
    clock.advance(250);
    expect(watchdog.check(c, clock.now())).toBe(1_250);
  });

  it('any reply is progress: a new head starts the count again', () => {
    const clock = new ManualClock();
    const watchdog = new StallWatchdog(1_000);
    const c = new Queue();
    c.send('get');
    c.send('get');
    watchdog.check(c, clock.now());
    clock.advance(900);
    c.reply();
    expect(watchdog.check(c, clock.now())).toBe(0);
    clock.advance(900);
    expect(watchdog.check(c, clock.now())).toBe(0);
    clock.advance(100);
    expect(watchdog.check(c, clock.now())).toBe(1_000);
  });

  it('an idle connection and a blocking command at the head are never stalled', () => {
    const clock = new ManualClock();
    const watchdog = new StallWatchdog(100);
    const idle = new Queue();
    const blocked = new Queue();
    blocked.send('BLPOP');
    blocked.send('get');
    for (let i = 0; i < 10; i++) {
      clock.advance(100);
      expect(watchdog.check(idle, clock.now())).toBe(0);
      expect(watchdog.check(blocked, clock.now())).toBe(0);
    }
  });

  it('forget() starts the count afresh (after the connection was closed)', () => {
    const clock = new ManualClock();
    const watchdog = new StallWatchdog(100);
    const c = new Queue();
    c.send('get');
    watchdog.check(c, clock.now());
    clock.advance(100);
    expect(watchdog.check(c, clock.now())).toBe(100);
    watchdog.forget(c);
    expect(watchdog.check(c, clock.now())).toBe(0);
    clock.advance(100);
    expect(watchdog.check(c, clock.now())).toBe(100);
  });
});

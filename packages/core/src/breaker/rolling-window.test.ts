import { describe, expect, it } from 'vitest';
import { RollingWindow } from './rolling-window.js';

describe('RollingWindow', () => {
  it('counts calls, failures and slow calls', () => {
    const w = new RollingWindow(1000, 10);
    w.record(0, true, false);
    w.record(50, false, true);
    w.record(150, true, true);
    expect([w.calls, w.failures, w.slow]).toEqual([3, 2, 2]);
  });

  it('expires each bucket when time reaches its slot again', () => {
    const w = new RollingWindow(1000, 10);
    w.record(0, true, false);
    w.record(150, true, false);
    w.expire(999);
    expect(w.calls).toBe(2);
    w.expire(1000);
    expect(w.calls).toBe(1);
    w.expire(1100);
    expect(w.calls).toBe(0);
  });

  it('empties after a gap longer than the window', () => {
    const w = new RollingWindow(1000, 10);
    for (let t = 0; t < 1000; t += 10) w.record(t, true, true);
    w.record(50_000, false, false);
    expect([w.calls, w.failures, w.slow]).toEqual([1, 0, 0]);
  });

  it('puts a slightly late result in its own bucket and drops one older than the window', () => {
    const w = new RollingWindow(1000, 10);
    w.record(950, false, false);
    w.record(420, true, false);
    w.record(-100, true, false);
    expect([w.calls, w.failures]).toEqual([2, 1]);
    w.expire(1450);
    expect([w.calls, w.failures]).toEqual([1, 0]);
  });
});

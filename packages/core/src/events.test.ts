import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it, vi } from 'vitest';
import { Events } from './events.js';

interface TestEvents {
  ping: { n: number };
}

describe('Events', () => {
  it('delivers to listeners until unsubscribed', () => {
    const events = new Events<TestEvents>('test');
    const seen: number[] = [];
    const off = events.on('ping', (e) => seen.push(e.n));
    events.emit('ping', { n: 1 });
    off();
    events.emit('ping', { n: 2 });
    expect(seen).toEqual([1]);
  });

  it('publishes on diagnostics_channel ballast:<component>:<event>', () => {
    const events = new Events<TestEvents>('unit-test-component');
    const seen: unknown[] = [];
    const onMessage = (m: unknown) => seen.push(m);
    expect(events.wants('ping')).toBe(false);
    subscribe('ballast:unit-test-component:ping', onMessage);
    expect(events.wants('ping')).toBe(true);
    events.emit('ping', { n: 7 });
    unsubscribe('ballast:unit-test-component:ping', onMessage);
    expect(seen).toEqual([{ n: 7 }]);
  });

  it('a throwing listener does not stop the others', () => {
    const events = new Events<TestEvents>('test');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const seen: number[] = [];
    events.on('ping', () => {
      throw new Error('boom');
    });
    events.on('ping', (e) => seen.push(e.n));
    events.emit('ping', { n: 3 });
    expect(seen).toEqual([3]);
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
  });

  it('dispose() is the same as calling the unsubscribe', () => {
    const events = new Events<TestEvents>('test');
    const fn = vi.fn();
    events.on('ping', fn).dispose();
    events.emit('ping', { n: 1 });
    expect(fn).not.toHaveBeenCalled();
    expect(events.wants('ping')).toBe(false);
  });
});

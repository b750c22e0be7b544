import { describe, expect, it } from 'vitest';
import { groupBySlot, keySlot } from './key-slot.js';

describe('keySlot', () => {
  it('is CRC16/XMODEM modulo 16384', () => {
    // The CRC16/XMODEM check value of "123456789" is 0x31C3 (Redis Cluster specification).
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot(Buffer.from('foo'))).toBe(12182);
    expect(keySlot('')).toBe(0);
  });

  it('hashes only a non-empty {hash tag}, the first one', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });

  it('groupBySlot keeps the indexes of keys of one slot together, in first-seen order', () => {
    expect(groupBySlot(['{a}1', '{b}1', '{a}2', '{b}2', '{c}'])).toEqual([[0, 2], [1, 3], [4]]);
  });
});

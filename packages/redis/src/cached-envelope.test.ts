import { describe, expect, test } from 'vitest';
import { decodeEnvelope, encodeEnvelope, entryTimes } from './cached-envelope.js';
import { jsonSerializer } from './serializer.js';

describe('envelope', () => {
  test('round-trips the value and its freshness', () => {
    const times = { freshUntil: 1_000, swrUntil: 1_500, errorUntil: 9_000 };
    const raw = encodeEnvelope(times, JSON.stringify({ a: [1, 'x:y'] }));
    expect(raw).toBe('b1:1000:1500:9000:{"a":[1,"x:y"]}');
    expect(decodeEnvelope(raw, jsonSerializer)).toEqual({ ...times, value: { a: [1, 'x:y'] }, size: 15 });
  });

  test.each([
    ['not an envelope', 'hello', 'format'],
    ['another version', 'b2:1:1:1:1', 'format'],
    ['a missing field', 'b1:1:1:1', 'format'],
    ['a non-numeric time', 'b1:1:x:1:1', 'format'],
    ['an empty time', 'b1::1:1:1', 'format'],
    ['times out of order', 'b1:5:4:6:1', 'format'],
    ['a payload JSON rejects', 'b1:1:1:1:{', 'deserialize'],
    ['an empty payload', 'b1:1:1:1:', 'deserialize'],
  ])('%s is reported as corrupt, never thrown', (_, raw, reason) => {
    expect(decodeEnvelope(raw, jsonSerializer)).toBe(reason);
  });

  test('a serializer that returns undefined makes the envelope corrupt', () => {
    const serializer = { serialize: String, deserialize: () => undefined };
    expect(decodeEnvelope('b1:1:1:1:x', serializer)).toBe('deserialize');
  });
});

describe('entryTimes', () => {
  test('fresh for ttlMs shortened by jitter × random; the stale windows count from the end of freshness', () => {
    expect(entryTimes(1_000, 1_000, 200, 5_000, 0.2, 0.5)).toEqual({
      freshUntil: 1_900,
      swrUntil: 2_100,
      errorUntil: 6_900,
    });
  });

  test('the error window is never shorter than the revalidate window', () => {
    expect(entryTimes(0, 100, 500, 0, 0, 0)).toEqual({ freshUntil: 100, swrUntil: 600, errorUntil: 600 });
  });

  test('a value is fresh for at least 1 ms', () => {
    expect(entryTimes(0, 0.2, 0, 0, 0, 0).freshUntil).toBe(1);
  });
});

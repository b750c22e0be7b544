import { isBallastError } from '@ballast/core';
import { describe, expect, test } from 'vitest';
import { describeKey, jsonSerializer, serializeValue } from './serializer.js';

describe('serializeValue', () => {
  test('JSON by default', () => {
    expect(serializeValue(jsonSerializer, 'k', { a: 1 }, 'cached')).toBe('{"a":1}');
    expect(serializeValue(jsonSerializer, 'k', null, 'cached')).toBe('null');
  });

  test('a serializer error is the cause; the message names the key and the type, not the value', () => {
    const secret = { token: 'sk-secret', big: 12345678901234567890n };
    let error: unknown;
    try {
      serializeValue(jsonSerializer, 'session:1', secret, 'cached');
    } catch (e) {
      error = e;
    }
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    const { message, cause, source } = error as Error & { source: string };
    expect(message).toBe(
      'cached: the value for key "session:1" cannot be serialized: expected a value the serializer can store, received a value of type object',
    );
    expect(message).not.toContain('sk-secret');
    expect(cause).toBeInstanceOf(TypeError);
    expect(source).toBe('cached');
  });

  test('a serializer returning something other than a string is rejected', () => {
    const serializer = { serialize: () => 42 as unknown as string, deserialize: (t: string) => t };
    expect(() => serializeValue(serializer, 'k', 'v', 'cached')).toThrow(/cannot be serialized/);
  });

  test('long keys are cut in messages', () => {
    expect(describeKey('x'.repeat(500))).toBe(`"${'x'.repeat(100)}…"`);
  });
});

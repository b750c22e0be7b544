import { isBallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { ackRequest, checkKeys, checkValue, setArguments } from './command-args.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('command arguments', () => {
  it('setArguments: PX for ttlMs, NX or XX', () => {
    expect(setArguments({})).toEqual([]);
    expect(setArguments({ ttlMs: 1500 })).toEqual(['PX', 1500]);
    expect(setArguments({ ttlMs: 10, nx: true })).toEqual(['PX', 10, 'NX']);
    expect(setArguments({ xx: true, nx: false })).toEqual(['XX']);
  });

  it('setArguments rejects what Redis would (or what would silently mean something else)', () => {
    for (const options of [
      { ttlMs: 0 },
      { ttlMs: -5 },
      { ttlMs: 2.5 },
      { ttlMs: Number.POSITIVE_INFINITY },
    ]) {
      const error = thrown(() => setArguments(options));
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toMatch(/option ttlMs: expected an integer >= 1/);
    }
    expect((thrown(() => setArguments({ nx: 'yes' as never })) as Error).message).toMatch(/option nx.*"yes"/);
    expect((thrown(() => setArguments({ nx: true, xx: true })) as Error).message).toMatch(
      /not together with xx/,
    );
  });

  it('values: strings, Buffers and finite numbers; keys: strings and Buffers', () => {
    for (const ok of ['', 'x', Buffer.alloc(0), 0, -1.5]) expect(checkValue(ok)).toBeUndefined();
    for (const bad of [undefined, null, true, {}, [], Number.NaN, Number.POSITIVE_INFINITY, 1n, () => 1])
      expect(isBallastError(checkValue(bad), 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    expect(checkKeys(['a', Buffer.from('b')])).toBeUndefined();
    expect((checkKeys(['a', 1]) as Error).message).toMatch(
      /argument keys\[1\]: expected a string or a Buffer, received 1/,
    );
    expect((checkKeys('a') as Error).message).toMatch(/argument keys: expected an array of keys/);
    // A value's content is never in the message, only its kind.
    expect((checkValue({ token: 'secret' }) as Error).message).not.toContain('secret');
  });

  it('ackRequest: waitReplicas (and waitTimeoutMs only with it)', () => {
    expect(ackRequest(undefined)).toBeUndefined();
    expect(ackRequest({})).toBeUndefined();
    expect(ackRequest({ waitReplicas: 2 })).toEqual({ replicas: 2, timeoutMs: undefined });
    expect(ackRequest({ waitReplicas: 1, waitTimeoutMs: 50 })).toEqual({ replicas: 1, timeoutMs: 50 });
    expect((thrown(() => ackRequest({ waitReplicas: 0 })) as Error).message).toMatch(/option waitReplicas/);
    expect((thrown(() => ackRequest({ waitTimeoutMs: 50 })) as Error).message).toMatch(/with waitReplicas/);
    expect((thrown(() => ackRequest({ waitReplicas: 1, waitTimeoutMs: 0 })) as Error).message).toMatch(
      /option waitTimeoutMs/,
    );
  });
});

import { type AttemptContext, isBallastError } from '@ballast/core';
import { ManualClock } from '@ballast/core/testing';
import { describe, expect, it } from 'vitest';
import { ackTimeoutMs, checkAck } from './replica-ack.js';

function contextAt(clock: ManualClock, deadlineAt: number): AttemptContext {
  return {
    attempt: 1,
    deadlineAt,
    remainingMs: () => Math.max(0, deadlineAt - clock.now()),
  } as AttemptContext;
}

describe('replica acknowledgement', () => {
  it("WAIT's timeout: the one asked for, else half of what the deadline leaves, 1000 ms without a deadline", () => {
    const clock = new ManualClock();
    const ctx = contextAt(clock, 400);
    expect(ackTimeoutMs({ replicas: 1, timeoutMs: 30 }, ctx)).toBe(30);
    expect(ackTimeoutMs({ replicas: 1, timeoutMs: undefined }, ctx)).toBe(200);
    clock.advance(399);
    expect(ackTimeoutMs({ replicas: 1, timeoutMs: undefined }, ctx)).toBe(1);
    const none = { remainingMs: () => Number.POSITIVE_INFINITY } as AttemptContext;
    expect(ackTimeoutMs({ replicas: 1, timeoutMs: undefined }, none)).toBe(1000);
  });

  it('enough acknowledgements pass; fewer reject with BALLAST_DEADLINE_EXCEEDED, not retryable', () => {
    expect(() => checkAck(2, { replicas: 2, timeoutMs: 10 }, 10, 'r')).not.toThrow();
    expect(() => checkAck(3, { replicas: 2, timeoutMs: 10 }, 10, 'r')).not.toThrow();
    let error: unknown;
    try {
      checkAck(1, { replicas: 2, timeoutMs: 10 }, 10, 'r');
    } catch (e) {
      error = e;
    }
    expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    expect((error as Error).message).toBe(
      'r: 1 of 2 replicas acknowledged the write within 10 ms (it was applied on the primary)',
    );
    expect((error as Error).cause).toMatchObject({ name: 'ReplicaAckError', acknowledged: 1, requested: 2 });
  });
});

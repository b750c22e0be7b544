import { describe, expect, it } from 'vitest';
import type { RequestRecord } from './load.js';
import { quantile, summarizePhase, timeline } from './summary.js';

function record(over: Partial<RequestRecord>): RequestRecord {
  return { route: 'chat', phase: 0, sentS: 0, doneS: 0.1, latencyMs: 100, status: 200, ...over };
}

describe('summarizePhase', () => {
  it('counts as goodput only 2xx answers within the deadline, per second of the phase', () => {
    const records = [
      record({}),
      record({ latencyMs: 900 }),
      record({ latencyMs: 1200 }), // late
      record({ status: 503, latencyMs: 2 }),
      record({ status: 504, latencyMs: 1000 }),
      record({ status: 0, failure: 'timeout', latencyMs: 2000 }),
      record({ status: 500 }),
      record({ status: 200, failure: 'error' }), // malformed answer
      record({ phase: 1 }), // another phase
      record({ route: 'read' }),
    ];
    const s = summarizePhase(records, 0, 2, 1000, 3);
    expect(s.chat).toMatchObject({
      sent: 8,
      good: 2,
      goodputPerSec: 1,
      late: 1,
      refused: 1,
      timeouts: 2,
      errors: 2,
    });
    expect(s.chat.unsent).toBe(3);
    expect(s.chat.codes).toEqual({ 'HTTP 503': 1, 'HTTP 504': 1, 'HTTP 500': 1, 'HTTP 200': 1 });
    expect(s.chat.p99Ms).toBe(2000);
    expect(s.chat.p99OkMs).toBe(1200);
    expect(s.read.good).toBe(1);
  });

  it('counts error answers by the code in their body', () => {
    const records = [
      record({ status: 503, error: 'BALLAST_SHED' }),
      record({ status: 503, error: 'BALLAST_SHED' }),
      record({ status: 503, error: 'BALLAST_CIRCUIT_OPEN' }),
      record({ status: 504, error: 'timeout' }),
    ];
    expect(summarizePhase(records, 0, 1, 1000).chat.codes).toEqual({
      BALLAST_SHED: 2,
      BALLAST_CIRCUIT_OPEN: 1,
      timeout: 1,
    });
  });

  it('counts stale reads, service flags and backfill work', () => {
    const records = [
      record({ stale: true, staleFlag: true }),
      record({ stale: true }),
      record({ stale: false }),
      record({ route: 'backfill', updated: 50, shed: 0 }),
      record({ route: 'backfill', status: 503, updated: 0, shed: 50 }),
    ];
    const s = summarizePhase(records, 0, 1, 1000);
    expect(s.chat.stale).toBe(2);
    expect(s.chat.staleFlagged).toBe(1);
    expect(s.backfill).toMatchObject({ rowsUpdated: 50, statementsShed: 50, refused: 1 });
  });
});

describe('quantile', () => {
  it('is the nearest rank, and null without values', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile([5], 0.99)).toBe(5);
    expect(quantile([], 0.99)).toBeNull();
  });
});

describe('timeline', () => {
  it('bins outcomes by the second they arrived in', () => {
    const t = timeline(
      [
        record({ doneS: 0.5 }),
        record({ doneS: 0.7, stale: true }),
        record({ doneS: 1.2, status: 503, latencyMs: 3 }),
        record({ doneS: 2.5, route: 'read' }),
        record({ doneS: 9 }), // past the end
      ],
      3.6,
      1000,
    );
    expect(t.chatGoodput).toEqual([
      [0, 2],
      [1, 0],
      [2, 0],
    ]);
    expect(t.staleReads).toEqual([
      [0, 1],
      [1, 0],
      [2, 0],
    ]);
    expect(t.chatP99Ms).toEqual([
      [0, 100],
      [1, 3],
    ]);
    expect(t.readGoodput[2]).toEqual([2, 1]);
  });
});

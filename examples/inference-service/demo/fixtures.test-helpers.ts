/** Builders of summaries and counters for the tests of the comparison, the report and the live view. */
import type { Counters } from './metrics.js';
import type { ClientSummary, RouteSummary } from './summary.js';

function route(goodputPerSec: number): RouteSummary {
  return {
    sent: Math.round(goodputPerSec * 10),
    good: Math.round(goodputPerSec * 10),
    goodputPerSec,
    late: 0,
    refused: 0,
    timeouts: 0,
    errors: 0,
    codes: {},
    p99Ms: 120,
    p99OkMs: 110,
  };
}

/** A phase's client summary with the given chat and read goodput (req/s) and stale reads. */
export function clientSummary(chat: number, read: number, stale = 0): ClientSummary {
  return {
    chat: { ...route(chat), stale, staleFlagged: stale, unsent: 0 },
    read: route(read),
    backfill: { ...route(1), rowsUpdated: 50, statementsShed: 0 },
  };
}

/** A phase's service counters: zero but for the read-your-writes waits and fallbacks. */
export function serviceCounters(rywWaits: number, rywFallbacks: number): Counters {
  return {
    shedInteractive: 0,
    shedBatch: 0,
    rywWaits,
    rywFallbacks,
    rywFromReplica: 0,
    rywFromPrimary: 0,
    staleReported: 0,
    cacheHits: 0,
    cacheMisses: 0,
    modelCalls: 0,
  };
}

/**
 * Turns request records into the numbers the demo shows: per-phase summaries per route, and per-second timelines.
 */
import type { RequestRecord, Route } from './load.js';

/** The outcomes of one route's requests sent during one phase. */
export interface RouteSummary {
  sent: number;
  /** 2xx within the deadline. */
  good: number;
  /** `good` per second of the phase. */
  goodputPerSec: number;
  /** 2xx after the deadline (too late to count). */
  late: number;
  /** 503: shed or refused, with Retry-After. */
  refused: number;
  /** 504 from the service, or no answer within the client's timeout. */
  timeouts: number;
  /** Anything else: 5xx other than 503/504, 4xx, connection errors, malformed answers. */
  errors: number;
  /** Non-2xx answers by the `error` code of their body (`HTTP <status>` without one), e.g. `{ BALLAST_SHED: 12 }`. */
  codes: Record<string, number>;
  /** p99 of every request's time to its outcome (answer, refusal, error or client timeout), ms. */
  p99Ms: number | null;
  /** p99 of the 2xx answers only, ms. */
  p99OkMs: number | null;
}

/** Chat adds the read-your-writes check and the arrivals that found no idle user. */
export interface ChatSummary extends RouteSummary {
  /** Stale session reads seen by the client's check. */
  stale: number;
  /** Answers the service itself flagged `stale`. */
  staleFlagged: number;
  /** Arrivals not sent because every simulated user was busy. */
  unsent: number;
}

/** Backfill adds the work it did. */
export interface BackfillSummary extends RouteSummary {
  rowsUpdated: number;
  statementsShed: number;
}

/** What the client saw in one phase. */
export interface ClientSummary {
  chat: ChatSummary;
  read: RouteSummary;
  backfill: BackfillSummary;
}

/** The nearest-rank `q` quantile of `values`, `null` when there are none. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

function isGood(r: RequestRecord, deadlineMs: number): boolean {
  return r.status >= 200 && r.status < 300 && r.failure === undefined && r.latencyMs <= deadlineMs;
}

function summarizeRoute(
  records: readonly RequestRecord[],
  durationS: number,
  deadlineMs: number,
): RouteSummary {
  const s: RouteSummary = {
    sent: records.length,
    good: 0,
    goodputPerSec: 0,
    late: 0,
    refused: 0,
    timeouts: 0,
    errors: 0,
    codes: {},
    p99Ms: quantile(
      records.map((r) => r.latencyMs),
      0.99,
    ),
    p99OkMs: null,
  };
  const ok: number[] = [];
  for (const r of records) {
    if (r.status >= 200 && r.status < 300 && r.failure === undefined) {
      ok.push(r.latencyMs);
      if (isGood(r, deadlineMs)) s.good++;
      else s.late++;
      continue;
    }
    if (r.status > 0) {
      const code = r.error ?? `HTTP ${r.status}`;
      s.codes[code] = (s.codes[code] ?? 0) + 1;
    }
    if (r.status === 503) s.refused++;
    else if (r.status === 504 || r.failure === 'timeout') s.timeouts++;
    else s.errors++;
  }
  s.goodputPerSec = durationS > 0 ? s.good / durationS : 0;
  s.p99OkMs = quantile(ok, 0.99);
  return s;
}

/**
 * The client's view of phase `phase`: every request sent during it (whenever it ended), per route; goodput is
 * per second of the phase's `durationS`.
 */
export function summarizePhase(
  records: readonly RequestRecord[],
  phase: number,
  durationS: number,
  deadlineMs: number,
  unsent = 0,
): ClientSummary {
  const of = (route: Route) => records.filter((r) => r.phase === phase && r.route === route);
  const chats = of('chat');
  const backfills = of('backfill');
  return {
    chat: {
      ...summarizeRoute(chats, durationS, deadlineMs),
      stale: chats.filter((r) => r.stale === true).length,
      staleFlagged: chats.filter((r) => r.staleFlag === true).length,
      unsent,
    },
    read: summarizeRoute(of('read'), durationS, deadlineMs),
    backfill: {
      ...summarizeRoute(backfills, durationS, deadlineMs),
      rowsUpdated: backfills.reduce((n, r) => n + (r.updated ?? 0), 0),
      statementsShed: backfills.reduce((n, r) => n + (r.shed ?? 0), 0),
    },
  };
}

/** Per-second series of one mode's run, `[second, value]` by the second an outcome arrived in. */
export interface Timeline {
  /** Chat answers (2xx within the deadline) per second. */
  chatGoodput: [number, number][];
  /** p99 of the chat outcomes of each second, ms (absent for a second without any). */
  chatP99Ms: [number, number][];
  /** Stale session reads per second (client check). */
  staleReads: [number, number][];
  /** Eventual reads answered within the deadline per second. */
  readGoodput: [number, number][];
}

/** Bins the records by the whole second their outcome arrived in, every whole second from 0 to `untilS`. */
export function timeline(records: readonly RequestRecord[], untilS: number, deadlineMs: number): Timeline {
  // a last, partial second would read as a drop
  const seconds = Math.max(0, Math.floor(untilS));
  const chatGood = new Array<number>(seconds).fill(0);
  const readGood = new Array<number>(seconds).fill(0);
  const stale = new Array<number>(seconds).fill(0);
  const latencies: number[][] = Array.from({ length: seconds }, () => []);
  for (const r of records) {
    const s = Math.floor(r.doneS);
    if (s < 0 || s >= seconds) continue;
    if (r.route === 'chat') {
      (latencies[s] as number[]).push(r.latencyMs);
      if (isGood(r, deadlineMs)) chatGood[s] = (chatGood[s] as number) + 1;
      if (r.stale === true) stale[s] = (stale[s] as number) + 1;
    } else if (r.route === 'read' && isGood(r, deadlineMs)) {
      readGood[s] = (readGood[s] as number) + 1;
    }
  }
  const p99: [number, number][] = [];
  latencies.forEach((values, s) => {
    const q = quantile(values, 0.99);
    if (q !== null) p99.push([s, q]);
  });
  const series = (values: number[]) => values.map((v, s): [number, number] => [s, v]);
  return {
    chatGoodput: series(chatGood),
    chatP99Ms: p99,
    staleReads: series(stale),
    readGoodput: series(readGood),
  };
}

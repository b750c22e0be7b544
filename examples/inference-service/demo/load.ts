/**
 * The load generator: open-loop arrivals (scheduled by time, never waiting for answers) of chats, eventual reads
 * and backfills against the instances, and one record per outcome.
 */
import { prng } from '@ballast/benchmarks/stats';
import type { HttpClient, HttpResult } from './http-client.js';
import type { Rates } from './story.js';
import { isStaleRead, UserPool } from './users.js';

/** The three kinds of request the demo sends. */
export type Route = 'chat' | 'read' | 'backfill';

/** One request's outcome. Times are seconds since the mode's story started. */
export interface RequestRecord {
  route: Route;
  /** Index of the phase it was sent in. */
  phase: number;
  sentS: number;
  doneS: number;
  latencyMs: number;
  /** HTTP status; 0 when no answer came (see `failure`). */
  status: number;
  /** Why there is no usable answer: the client timed out, the connection failed, or a 200 was malformed. */
  failure?: 'timeout' | 'error' | undefined;
  /** The `error` field of a non-2xx answer's body (`BALLAST_SHED`, `timeout`, …). */
  error?: string | undefined;
  /** Chat: the client's read-your-writes check failed (see {@link isStaleRead}). */
  stale?: boolean | undefined;
  /** Chat: the service itself flagged the read as stale. */
  staleFlag?: boolean | undefined;
  /** Backfill: rows updated and statements shed, from the answer's body. */
  updated?: number | undefined;
  shed?: number | undefined;
}

/** What a {@link LoadGenerator} needs. */
export interface LoadOptions {
  client: HttpClient;
  /** Base URLs of the instances. */
  bases: readonly string[];
  /** Simulated users, one request in flight each. */
  users: number;
  /** Makes conversation ids unique to the run and mode. */
  prefix: string;
  /** The service's REQUEST_DEADLINE_MS; the client waits 1 s longer. */
  deadlineMs: number;
  rates: Rates;
  /** Seeds the prompt sequence, so both modes draw their prompts from the same sequence. */
  seed: number;
  /** `performance.now()` when the story started. */
  startedAt: number;
}

/** How many distinct prompts users send; a skewed pick makes popular ones repeat (prompt-cache hits). */
const PROMPTS = 200;

/** Sends the demo's requests and records their outcomes. */
export class LoadGenerator {
  readonly records: RequestRecord[] = [];
  /** Chat arrivals that found no idle user, per phase (they are not sent). */
  readonly unsent: number[] = [];
  /** The phase new requests belong to. */
  phase = 0;
  private readonly users: UserPool;
  /** Two streams, so the prompt sequence does not depend on how reads interleave with chats. */
  private readonly promptRandom: () => number;
  private readonly readRandom: () => number;
  private inFlight = 0;
  private nextInstance = 0;

  constructor(private readonly options: LoadOptions) {
    this.users = new UserPool(options.users, options.prefix, options.bases.length);
    this.promptRandom = prng(options.seed);
    this.readRandom = prng(options.seed + 0x9e3779b9);
  }

  /** Requests sent and not yet answered. */
  pending(): number {
    return this.inFlight;
  }

  /** One chat from an idle user, to the other instance than its previous one, with its session token. */
  chat(): void {
    const taken = this.users.take();
    if (taken === undefined) {
      this.unsent[this.phase] = (this.unsent[this.phase] ?? 0) + 1;
      return;
    }
    const { user, instance } = taken;
    const message = promptText(Math.floor(PROMPTS * this.promptRandom() ** 2));
    const headers: Record<string, string> = {};
    if (user.token !== undefined) headers['x-ballast-session'] = user.token;
    this.send(
      'chat',
      instance,
      'POST',
      '/v1/chat',
      { conversationId: user.conversationId, message },
      headers,
      (res, record) => {
        const token = res.answered ? res.headers['x-ballast-session'] : undefined;
        if (typeof token === 'string' && token !== '') user.token = token;
        if (res.status === 200) {
          const answer = chatAnswer(res.body);
          if (answer === undefined) {
            record.failure = 'error';
          } else {
            record.stale = isStaleRead(answer.historyIds, answer.messageId, user.ids);
            record.staleFlag = answer.stale;
            user.ids.add(answer.messageId);
            user.ids.add(answer.replyId);
          }
        }
        this.users.release(user);
      },
    );
  }

  /** One eventual read of a random user's conversation. */
  read(): void {
    const id = this.users.conversationOf(Math.floor(this.readRandom() * this.users.count));
    this.send(
      'read',
      this.roundRobin(),
      'GET',
      `/v1/conversations/${encodeURIComponent(id)}`,
      undefined,
      {},
      () => {},
    );
  }

  /** One backfill call (batch work). */
  backfill(): void {
    const body = { limit: this.options.rates.backfillLimit };
    this.send('backfill', this.roundRobin(), 'POST', '/v1/embeddings/backfill', body, {}, (res, record) => {
      if (!res.answered || typeof res.body !== 'object' || res.body === null) return;
      const { updated, shed } = res.body as { updated?: unknown; shed?: unknown };
      if (typeof updated === 'number') record.updated = updated;
      if (typeof shed === 'number') record.shed = shed;
    });
  }

  /** Resolves once every request sent has its outcome, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (this.inFlight > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  private roundRobin(): number {
    this.nextInstance = (this.nextInstance + 1) % this.options.bases.length;
    return this.nextInstance;
  }

  private seconds(): number {
    return (performance.now() - this.options.startedAt) / 1000;
  }

  private send(
    route: Route,
    instance: number,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
    onAnswer: (res: HttpResult, record: RequestRecord) => void,
  ): void {
    const phase = this.phase;
    const sentS = this.seconds();
    const base = this.options.bases[instance] as string;
    this.inFlight++;
    void this.options.client
      .send({ method, base, path, body, headers, timeoutMs: this.options.deadlineMs + 1000 })
      .then((res) => {
        this.inFlight--;
        const record: RequestRecord = {
          route,
          phase,
          sentS,
          doneS: this.seconds(),
          latencyMs: res.latencyMs,
          status: res.status,
        };
        if (!res.answered) record.failure = res.failure;
        else if (res.status >= 300) record.error = errorCode(res.body);
        onAnswer(res, record);
        this.records.push(record);
      });
  }
}

/**
 * The `error` field of an error answer's body with a refusal's reason (`BALLAST_SHED:limit`), `undefined` when it
 * has none.
 */
function errorCode(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, reason } = body as { error?: unknown; reason?: unknown };
  if (typeof error !== 'string') return undefined;
  return typeof reason === 'string' ? `${error}:${reason}` : error;
}

interface ChatAnswer {
  messageId: number;
  replyId: number;
  historyIds: number[];
  stale: boolean;
}

/** The fields of a chat answer the check needs, or `undefined` when the body lacks them. */
function chatAnswer(body: unknown): ChatAnswer | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { messageId, replyId, historyIds, stale } = body as Record<string, unknown>;
  // ids of a bigserial may come back as numbers or numeric strings
  const ids = Array.isArray(historyIds) ? historyIds.map(Number) : undefined;
  const message = Number(messageId);
  const reply = Number(replyId);
  if (ids === undefined || ids.some(Number.isNaN) || Number.isNaN(message) || Number.isNaN(reply))
    return undefined;
  return { messageId: message, replyId: reply, historyIds: ids, stale: stale === true };
}

const TOPICS = ['retry budgets', 'replica lag', 'circuit breakers', 'connection pools', 'cache stampedes'];

/** The text of prompt `k`; equal texts hit the prompt cache. */
function promptText(k: number): string {
  return `Question ${k}: how should an inference service handle ${TOPICS[k % TOPICS.length]}?`;
}

/** An arrival stream: `fire()` is called `perSec` times a second. */
export interface Arrivals {
  perSec: number;
  fire: () => void;
}

/**
 * Calls each stream's `fire` at its rate for `durationMs` (open loop: on ~2 ms ticks, catching up by elapsed
 * time so a busy event loop does not lower the offered rate). Resolves at the end, or early when `signal` aborts.
 */
export function runOpenLoop(
  streams: readonly Arrivals[],
  durationMs: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    const issued = streams.map(() => 0);
    const tick = () => {
      const elapsed = Math.min(performance.now() - start, durationMs);
      streams.forEach((stream, i) => {
        // arrival k at (k - 0.5) intervals, so a 1/s stream fires at 0.5 s, 1.5 s, … and none on the end
        const due = Math.max(0, Math.ceil((elapsed * stream.perSec) / 1000 - 0.5));
        while ((issued[i] as number) < due) {
          issued[i] = (issued[i] as number) + 1;
          stream.fire();
        }
      });
      if (elapsed >= durationMs || signal.aborted) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
}

import type { Mode } from '../config.js';

/** One stored message, as the routes return it. */
export interface Message {
  id: number;
  role: 'user' | 'assistant';
  content: string;
}

/** Messages read back, and which kind of host answered the read. */
export interface History {
  messages: Message[];
  servedBy: 'replica' | 'primary';
}

/** How a prompt was answered: from the cache, by the model, or by the model because the cache failed. */
export type CacheResult = 'hit' | 'miss' | 'stale' | 'bypass';

/** What one request asks of the data layer. */
export interface RequestInfo {
  /** The request's budget in ms, counted from when its data work starts (once the body is read). */
  budgetMs: number;
  /** Under pressure, `batch` work is refused first. */
  priority: 'interactive' | 'batch';
  /** The client's `x-ballast-session` header, when it sent one. */
  sessionToken: string | undefined;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/** The data operations of one request, bound to its budget, priority and session. */
export interface RequestData {
  /** Appends a message; resolves its id. */
  appendMessage(conversationId: string, role: Message['role'], content: string): Promise<number>;
  /**
   * The conversation's last `limit` messages, oldest first. `session`: must include this request's writes and
   * those of the session token; `eventual`: whatever a replica has.
   */
  recentMessages(
    conversationId: string,
    limit: number,
    consistency: 'session' | 'eventual',
  ): Promise<History>;
  /** The cached completion of `prompt`, or `generate`'s (stored for the next asker). */
  completion(
    prompt: string,
    generate: (signal: AbortSignal | undefined) => Promise<string>,
  ): Promise<{ reply: string; cache: CacheResult }>;
  /** Up to `limit` messages without an embedding, oldest first. */
  unembeddedMessages(limit: number): Promise<Array<{ id: number; content: string }>>;
  /** Stores a message's embedding. */
  setEmbedding(id: number, embedding: number[]): Promise<void>;
  /** The session token to send back, or `undefined` when the layer keeps no sessions. */
  sessionToken(): string | undefined;
}

/** Whether the instance should take traffic, and why (`GET /readyz`). */
export interface Readiness {
  ready: boolean;
  primary: 'ok' | 'unavailable';
  /** Breaker state per PostgreSQL host (`host:port/db`); empty without breakers. */
  breakers: Record<string, string>;
  /** `ok`, or what is wrong with the Redis connection. */
  redis: string;
}

/** What the HTTP layer needs from a data layer; `ballast.ts` and `naive.ts` implement it over the same SQL. */
export interface DataLayer {
  readonly mode: Mode;
  /**
   * Runs one request's data work within its budget. Ballast hands what is left of the budget to every call;
   * the naive layer gives up on the request when the budget is spent and lets its calls run on.
   */
  run<T>(request: RequestInfo, work: (data: RequestData) => Promise<T>): Promise<T>;
  readiness(): Promise<Readiness>;
  /** Closes every pool and connection. */
  close(): Promise<void>;
}

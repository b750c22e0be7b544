import type { CacheResult, RequestData } from './data/types.js';
import { BadRequestError } from './errors.js';
import type { Model } from './model.js';
import type { ServiceMetrics } from './service-metrics.js';

/** Messages read back as the model's context. */
export const HISTORY_LIMIT = 20;

/** The body of `POST /v1/chat`. */
export interface ChatInput {
  conversationId: string;
  message: string;
}

/** What `POST /v1/chat` answers (with the instance and mode added by the server). */
export interface ChatResult {
  conversationId: string;
  /** The user's message, as stored. */
  messageId: number;
  /** The assistant's reply, as stored. */
  replyId: number;
  reply: string;
  /** Ids the history read saw. */
  historyIds: number[];
  /** The history read missed `messageId`: the replica had not replayed the write yet. */
  stale: boolean;
  cache: CacheResult;
  servedBy: 'replica' | 'primary';
}

/** @throws BadRequestError naming the field that is missing or out of bounds. */
export function parseChatInput(body: unknown): ChatInput {
  const { conversationId, message } = (body ?? {}) as Record<string, unknown>;
  return {
    conversationId: boundedString('conversationId', conversationId, 128),
    message: boundedString('message', message, 4000),
  };
}

/** A string of 1 to `max` characters, or a 400. */
export function boundedString(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > max)
    throw new BadRequestError(`${name} must be a string of 1 to ${max} characters`);
  return value;
}

/**
 * One chat turn: store the user's message, read the conversation back (it must include that message), answer
 * from the prompt cache or the model, store the reply.
 */
export async function chat(
  data: RequestData,
  model: Model,
  metrics: ServiceMetrics,
  input: ChatInput,
): Promise<ChatResult> {
  const { conversationId, message } = input;
  const messageId = await data.appendMessage(conversationId, 'user', message);

  const history = await data.recentMessages(conversationId, HISTORY_LIMIT, 'session');
  const historyIds = history.messages.map((m) => m.id);
  const stale = !historyIds.includes(messageId);
  metrics.rywReads.inc({ served_by: history.servedBy });
  if (stale) metrics.staleSessionReads.inc();

  // The simulated model ignores the history; a real one would get it as context.
  const { reply, cache } = await data.completion(message, (signal) => model.generate(message, signal));
  metrics.cache.inc({ result: cache });

  const replyId = await data.appendMessage(conversationId, 'assistant', reply);
  return { conversationId, messageId, replyId, reply, historyIds, stale, cache, servedBy: history.servedBy };
}

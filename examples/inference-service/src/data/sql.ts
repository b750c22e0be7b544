import type { History, Message } from './types.js';

/**
 * The statements both data layers run: the modes differ in how they reach PostgreSQL, never in what they ask.
 */

/** `$1` conversation, `$2` role, `$3` content → `id` (int8, a string in pg). */
export const INSERT_MESSAGE =
  'INSERT INTO messages (conversation_id, role, content) VALUES ($1, $2, $3) RETURNING id';

/**
 * `$1` conversation, `$2` limit → one row: the last messages as JSON, oldest first, and whether the host that
 * answered is a replica — the read itself says where it ran, whichever host a router picked.
 */
export const RECENT_MESSAGES = `
SELECT pg_is_in_recovery() AS on_replica,
       coalesce(json_agg(json_build_object('id', id, 'role', role, 'content', content) ORDER BY id), '[]') AS messages
FROM (SELECT id, role, content FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2) AS recent`;

/** `$1` limit → `id`, `content` of messages without an embedding, oldest first. */
export const UNEMBEDDED_MESSAGES =
  'SELECT id, content FROM messages WHERE embedding IS NULL ORDER BY id LIMIT $1';

/** `$1` id, `$2` embedding (real[]). */
export const SET_EMBEDDING = 'UPDATE messages SET embedding = $2 WHERE id = $1';

/** The row of {@link RECENT_MESSAGES}. */
export interface RecentRow {
  on_replica: boolean;
  messages: Message[];
}

/** A {@link RECENT_MESSAGES} result as a {@link History}. */
export function historyOf(rows: RecentRow[]): History {
  const row = rows[0];
  return {
    messages: row?.messages ?? [],
    servedBy: row?.on_replica === true ? 'replica' : 'primary',
  };
}

/** The id of an {@link INSERT_MESSAGE} result: int8 comes back as a string; ids stay far below 2^53. */
export function insertedId(rows: Array<{ id: string }>): number {
  return Number(rows[0]?.id);
}

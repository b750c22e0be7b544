import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { RequestData } from './data/types.js';
import { BadRequestError, isRefusal } from './errors.js';

/** Floats per embedding. */
export const EMBEDDING_DIMENSIONS = 16;

/** What `POST /v1/embeddings/backfill` answers. */
export interface BackfillResult {
  /** Messages found without an embedding. */
  selected: number;
  updated: number;
  /** Updates refused before they ran (shed, circuit open, no primary): nothing was written. */
  shed: number;
  /** Updates that failed otherwise (an error, or the request's deadline). */
  failed: number;
}

/** The `limit` of the body (1–1000, default 100). @throws BadRequestError */
export function parseBackfillLimit(body: unknown): number {
  const limit = ((body ?? {}) as Record<string, unknown>).limit ?? 100;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new BadRequestError('limit must be an integer from 1 to 1000');
  return limit;
}

/**
 * Embeds up to `limit` messages that have none, oldest first, `concurrency` updates at a time. A batch job: on
 * Ballast its statements run at `batch` priority, so under load they are refused before chat traffic is.
 * @throws the first refusal when every update was refused: the caller answers 503 and the client comes back.
 */
export async function backfill(
  data: RequestData,
  limit: number,
  concurrency: number,
): Promise<BackfillResult> {
  const messages = await data.unembeddedMessages(limit);
  const run = pLimit(concurrency);
  const result: BackfillResult = { selected: messages.length, updated: 0, shed: 0, failed: 0 };
  let refusal: unknown;
  await Promise.all(
    messages.map((m) =>
      run(async () => {
        try {
          await data.setEmbedding(m.id, embed(m.content));
          result.updated++;
        } catch (error) {
          if (!isRefusal(error)) {
            result.failed++;
            return;
          }
          result.shed++;
          refusal ??= error;
        }
      }),
    ),
  );
  if (result.updated === 0 && refusal !== undefined) throw refusal;
  return result;
}

/**
 * A cheap deterministic stand-in for an embedding model: the text's SHA-256 as 16 signed 16-bit numbers,
 * scaled to unit length.
 */
export function embed(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const vector = Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => digest.readInt16BE(i * 2));
  const norm = Math.hypot(...vector) || 1;
  return vector.map((x) => x / norm);
}

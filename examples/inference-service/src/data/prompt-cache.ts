import { createHash } from 'node:crypto';

/** How long a completion is served from the cache. */
export const PROMPT_CACHE_TTL_MS = 60_000;

/**
 * The Redis key of a prompt's completion: a hash of the text, so repeated prompts hit and keys stay short.
 * `layer` keeps the two modes apart when they share a Redis: they store different formats.
 */
export function promptCacheKey(layer: 'ballast' | 'naive', prompt: string): string {
  return `completion:${layer}:${createHash('sha256').update(prompt).digest('base64url')}`;
}

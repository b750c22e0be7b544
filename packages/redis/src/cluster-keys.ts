import type { RedisKey } from './command-args.js';
import { groupBySlot } from './key-slot.js';
import type { RedisClient } from './options.js';

/**
 * Multi-key commands on a Cluster, one command per slot: a Cluster refuses a command whose keys hash to
 * different slots (`CROSSSLOT`). The commands run in parallel.
 */

function pick(keys: readonly RedisKey[], indexes: readonly number[]): RedisKey[] {
  return indexes.map((i) => keys[i] as RedisKey);
}

/** `DEL` of `keys` slot by slot; resolves with how many existed. */
export async function delBySlot(client: RedisClient, keys: readonly RedisKey[]): Promise<number> {
  const counts = await Promise.all(groupBySlot(keys).map((indexes) => client.del(...pick(keys, indexes))));
  return counts.reduce((a, b) => a + b, 0);
}

/** `MGET` of `keys` slot by slot; resolves with the values in the order of `keys`. */
export async function mgetBySlot(client: RedisClient, keys: readonly RedisKey[]): Promise<(string | null)[]> {
  const groups = groupBySlot(keys);
  const replies = await Promise.all(groups.map((indexes) => client.mget(pick(keys, indexes))));
  const values = new Array<string | null>(keys.length).fill(null);
  groups.forEach((indexes, g) => {
    const reply = replies[g] ?? [];
    indexes.forEach((keyIndex, j) => {
      values[keyIndex] = reply[j] ?? null;
    });
  });
  return values;
}

import { invalidArgument, kindOf } from './redis-errors.js';
import type { CommandOptions } from './store.js';

/** A Redis key: a string (UTF-8) or raw bytes. */
export type RedisKey = string | Buffer;

/** What `set` stores: a string, raw bytes, or a finite number (stored as its decimal string). */
export type RedisValue = string | Buffer | number;

/** Options of a write that may wait for replicas to acknowledge it (`WAIT`). */
export interface WriteOptions extends CommandOptions {
  /**
   * After the write, wait until this many replicas acknowledged it (`WAIT`, in the same round trip, on a
   * connection of its own). Fewer within `waitTimeoutMs` rejects with `BALLAST_DEADLINE_EXCEEDED` — the write
   * itself was applied on the primary. Standalone clients only.
   * @default undefined (no wait)
   */
  waitReplicas?: number | undefined;
  /** How long `WAIT` may block, in ms. @default half of what is left of the call's deadline (1000 without one) */
  waitTimeoutMs?: number | undefined;
}

/** Options of `set`. */
export interface SetOptions extends WriteOptions {
  /** Time to live in ms (`PX`), an integer >= 1. @default undefined (no expiry) */
  ttlMs?: number | undefined;
  /** Only set when the key does not exist (`NX`). @default false */
  nx?: boolean | undefined;
  /** Only set when the key exists (`XX`). @default false */
  xx?: boolean | undefined;
}

/** Options of reads (`get`, `mget`). */
export interface ReadOptions extends CommandOptions {
  /** Read from a replica (`true`) or the primary (`false`). @default the client's `readFrom` */
  replica?: boolean | undefined;
}

/** Options of `exec`. */
export interface ExecOptions extends WriteOptions {
  /** Run `fn` on a replica connection (for reads only: a replica refuses writes). @default false */
  replica?: boolean | undefined;
}

export function isKey(key: unknown): key is RedisKey {
  return typeof key === 'string' || Buffer.isBuffer(key);
}

/** The error for a key that is not a string or Buffer; the key's content is never shown. */
export function badKey(argument: string, key: unknown): Error {
  return invalidArgument(`argument ${argument}`, key, 'a string or a Buffer', kindOf(key));
}

/** The error for a value `set` cannot store, or `undefined` when it can. */
export function checkValue(value: unknown): Error | undefined {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return undefined;
  return invalidArgument('argument value', value, 'a string, a Buffer or a finite number', kindOf(value));
}

/** The error for a key list that is not a non-empty-or-empty array of keys, or `undefined` when it is one. */
export function checkKeys(keys: unknown): Error | undefined {
  if (!Array.isArray(keys)) return invalidArgument('argument keys', keys, 'an array of keys', kindOf(keys));
  for (let i = 0; i < keys.length; i++) if (!isKey(keys[i])) return badKey(`keys[${i}]`, keys[i]);
  return undefined;
}

function checkFlag(option: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgument(`option ${option}`, value, 'a boolean');
  return value;
}

function checkPositiveInteger(option: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw invalidArgument(`option ${option}`, value, 'an integer >= 1');
}

/**
 * The `SET` arguments after key and value for `options` (`PX ms`, `NX` / `XX`).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` for a bad `ttlMs`, `nx`, `xx`, or both `nx` and `xx`.
 */
export function setArguments(options: SetOptions): (string | number)[] {
  const args: (string | number)[] = [];
  if (options.ttlMs !== undefined) args.push('PX', checkPositiveInteger('ttlMs', options.ttlMs));
  const nx = checkFlag('nx', options.nx);
  const xx = checkFlag('xx', options.xx);
  if (nx && xx) throw invalidArgument('option nx', true, 'not together with xx: true');
  if (nx) args.push('NX');
  if (xx) args.push('XX');
  return args;
}

/** What a write waits for: `replicas` acknowledgements within `timeoutMs` (undefined: from the deadline). */
export interface AckRequest {
  readonly replicas: number;
  readonly timeoutMs: number | undefined;
}

/**
 * The acknowledgement a write asks for, or `undefined` when it asks none.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` for a bad `waitReplicas` or `waitTimeoutMs`.
 */
export function ackRequest(options: WriteOptions | undefined): AckRequest | undefined {
  if (options?.waitReplicas === undefined) {
    if (options?.waitTimeoutMs !== undefined)
      throw invalidArgument('option waitTimeoutMs', options.waitTimeoutMs, 'to come with waitReplicas');
    return undefined;
  }
  const replicas = checkPositiveInteger('waitReplicas', options.waitReplicas);
  const timeoutMs =
    options.waitTimeoutMs === undefined
      ? undefined
      : checkPositiveInteger('waitTimeoutMs', options.waitTimeoutMs);
  return { replicas, timeoutMs };
}

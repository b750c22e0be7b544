import { checkNumber } from '@ballast/core';
import type { RedisOptions } from 'ioredis';
import { redactUrl } from './mask.js';
import type { RedisClient } from './options.js';
import { invalidArgument } from './redis-errors.js';

/** Validators of createRedis' options; each throws `BALLAST_INVALID_ARGUMENT` naming the option and the value. */

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A number in [min, max]: core's validator (`Invalid option <option>: …`). */
export { checkNumber } from '@ballast/core';

export function checkFinite(option: string, value: unknown, min: number): number {
  return checkNumber(option, value, min, Number.MAX_SAFE_INTEGER);
}

export function checkUrl(option: string, value: unknown): string {
  if (typeof value === 'string' && /^rediss?:\/\//.test(value) && URL.canParse(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(redactUrl(value)) : undefined;
  return fail(option, value, 'a redis:// or rediss:// URL', shown);
}

export function fail(option: string, value: unknown, expected: string, shown?: string): never {
  throw invalidArgument(`option ${option}`, value, expected, shown);
}

/** `false`, an options object or an instance (an object with `method`); `true`, numbers and the like are mistakes. */
export function checkPart<T>(option: string, value: unknown): T | false {
  if (value === undefined) return {} as T;
  if (value === false || isObject(value)) return value as T | false;
  return fail(option, value, 'an options object, an instance, or false');
}

export function isInstance(value: unknown, method: string): boolean {
  return isObject(value) && typeof value[method] === 'function';
}

export function checkClient(value: unknown): RedisClient {
  const c = value as Partial<Record<'status' | 'on' | 'sendCommand' | 'isCluster', unknown>> | null;
  if (
    isObject(c) &&
    typeof c.status === 'string' &&
    typeof c.on === 'function' &&
    typeof c.sendCommand === 'function' &&
    typeof c.isCluster === 'boolean'
  )
    return value as RedisClient;
  return fail('client', value, 'an ioredis Redis or Cluster instance');
}

export function checkIoredisOptions(value: unknown): RedisOptions {
  if (!isObject(value)) return fail('options', value, 'an ioredis options object');
  if (value.enableOfflineQueue === true)
    fail(
      'options.enableOfflineQueue',
      true,
      'false or absent (an offline queue holds commands without bound)',
    );
  if (value.maxRetriesPerRequest === null)
    fail('options.maxRetriesPerRequest', null, 'a number (null holds a lost command until Redis is back)');
  return value as RedisOptions;
}

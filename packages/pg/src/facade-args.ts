import type pg from 'pg';

/** pg's node-style query callback. */
export type QueryCallback = (err: Error | undefined, result?: pg.QueryResult) => void;

/** A normalised `query(text | config, values?, callback?)` call. */
export interface QueryCall {
  /** The statement, with `values` folded into a copy of the config (the caller's object is never mutated). */
  query: string | pg.QueryConfig;
  text: string;
  callback: QueryCallback | undefined;
}

/** pg's `Submittable` (pg-cursor, pg-query-stream, pg.Query): it drives the connection itself. */
export function isSubmittable(value: unknown): value is pg.Submittable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { submit?: unknown }).submit === 'function'
  );
}

/**
 * Normalises pg's overloads: `(text)`, `(text, values)`, `(text, callback)`, `(text, values, callback)`, the same
 * with a `QueryConfig` (`{ text, values, rowMode, name, types }`), and a `callback` inside the config.
 * @throws TypeError like pg for a missing query or a function passed as the query.
 */
export function parseQueryArgs(textOrConfig: unknown, values: unknown, callback: unknown): QueryCall {
  let cb = typeof callback === 'function' ? (callback as QueryCallback) : undefined;
  let vals = values;
  if (typeof vals === 'function') {
    cb = vals as QueryCallback;
    vals = undefined;
  }
  if (typeof textOrConfig === 'function')
    throw new TypeError('Passing a function as the first parameter to pool.query is not supported');
  if (typeof textOrConfig === 'string') {
    return {
      query:
        vals === undefined || vals === null
          ? textOrConfig
          : { text: textOrConfig, values: vals as unknown[] },
      text: textOrConfig,
      callback: cb,
    };
  }
  if (typeof textOrConfig !== 'object' || textOrConfig === null)
    throw new TypeError('Client was passed a null or undefined query');
  const config = textOrConfig as pg.QueryConfig & { callback?: unknown };
  if (typeof config.text !== 'string') throw new TypeError('A query config needs a string `text`');
  if (cb === undefined && typeof config.callback === 'function') cb = config.callback as QueryCallback;
  const hasValues = vals !== undefined && vals !== null;
  const query =
    hasValues || config.callback !== undefined
      ? { ...config, ...(hasValues ? { values: vals as unknown[] } : {}), callback: undefined }
      : config;
  return { query, text: config.text, callback: cb };
}

/**
 * Returns the promise, or — with a callback — `undefined` after arranging to call it like pg does: `(err)` or
 * `(undefined, result)`, on a later tick, so a callback that throws surfaces as an uncaught exception (as with
 * pg) instead of an unhandled rejection of a promise nobody holds.
 */
export function settle<T>(
  promise: Promise<T>,
  callback: ((err: Error | undefined, result?: T) => void) | undefined,
): Promise<T> | undefined {
  if (callback === undefined) return promise;
  promise.then(
    (result) => process.nextTick(callback, undefined, result),
    (error: unknown) => process.nextTick(callback, error as Error),
  );
  return undefined;
}

import { BallastError } from '@ballast/core';

/**
 * Turns values into the strings Redis stores and back. `cached()` serializes what the loader returns and
 * deserializes what it reads; every answer (loaded, from Redis or from the near cache) is a deserialized copy, so
 * callers see the same shape whichever way it came.
 */
export interface Serializer {
  /** A string for `value`; throws, or returns a non-string, when the value cannot be stored. */
  serialize(value: unknown): string;
  /** The value `text` stands for; throws when `text` is not something `serialize` produced. */
  deserialize(text: string): unknown;
}

/**
 * JSON: plain objects, arrays, strings, finite numbers, booleans and `null`. `undefined`, functions, symbols and
 * BigInts at the top level, and circular structures, cannot be serialized (`cached()` rejects with
 * `BALLAST_INVALID_ARGUMENT`); inside objects JSON's own rules apply (`undefined` properties are dropped, `NaN`
 * becomes `null`, a `Date` becomes its ISO string).
 */
export const jsonSerializer: Serializer = Object.freeze({
  serialize: (value: unknown): string => JSON.stringify(value),
  deserialize: (text: string): unknown => JSON.parse(text),
});

/** A key as errors and events show it: quoted, and cut after 100 characters. */
export function describeKey(key: string): string {
  return JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key);
}

/**
 * `serializer.serialize(value)`, checked.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the key (never the value) when the value is `undefined`,
 *   or the serializer throws or returns something other than a string; the serializer's error is the `cause`.
 */
export function serializeValue(serializer: Serializer, key: string, value: unknown, source: string): string {
  let text: unknown;
  let cause: unknown;
  if (value !== undefined) {
    try {
      text = serializer.serialize(value);
    } catch (error) {
      cause = error;
    }
  }
  if (typeof text === 'string') return text;
  const what = value === undefined ? 'undefined' : `a value of type ${typeof value}`;
  throw new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `${source}: the value for key ${describeKey(key)} cannot be serialized: expected a value the serializer can store, received ${what}`,
    { cause, source },
  );
}

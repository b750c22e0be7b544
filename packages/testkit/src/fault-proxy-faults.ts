/** Faults that act on one direction of a connection's bytes. */
export interface DirectionFaults {
  /**
   * Delay added to every chunk, in milliseconds. Order is kept: a chunk is never released before the one ahead.
   * @default 0
   */
  latencyMs?: number | undefined;
  /**
   * Extra delay drawn per chunk, uniform in `[0, jitterMs]` milliseconds, on top of `latencyMs`.
   * @default 0
   */
  jitterMs?: number | undefined;
  /**
   * Pace the bytes at this rate (bytes per second), in slices of ~10 ms worth.
   * @default unlimited
   */
  bandwidthBytesPerSec?: number | undefined;
  /**
   * Drop every byte (and hold back the end of the stream) while on: the peer sees a silent network. Bytes are
   * dropped, not buffered, so a stream that carried traffic during a blackhole has lost some: clients should
   * time out and reconnect, as after a real partition.
   * @default false
   */
  blackhole?: boolean | undefined;
}

/**
 * The faults of a `FaultProxy`. Top-level direction faults apply to both directions; `upstream`
 * (client → server) and `downstream` (server → client) override them field by field.
 */
export interface Faults extends DirectionFaults {
  /**
   * Reset (TCP RST) every current connection, and every new one as soon as it is accepted, while on.
   * @default false
   */
  reset?: boolean | undefined;
  /**
   * Stop listening, so new connections get `ECONNREFUSED`, while on; connections already open keep working.
   * Turning it off listens again on the same port.
   * @default false
   */
  refuse?: boolean | undefined;
  /** Faults of the client → server direction only. */
  upstream?: DirectionFaults | undefined;
  /** Faults of the server → client direction only. */
  downstream?: DirectionFaults | undefined;
}

/** One direction's faults with defaults applied. */
export interface ResolvedDirection {
  readonly latencyMs: number;
  readonly jitterMs: number;
  /** `undefined`: unlimited. */
  readonly bandwidthBytesPerSec: number | undefined;
  readonly blackhole: boolean;
}

/** Faults with defaults applied. */
export interface ResolvedFaults {
  readonly upstream: ResolvedDirection;
  readonly downstream: ResolvedDirection;
  readonly reset: boolean;
  readonly refuse: boolean;
}

const NONE: ResolvedDirection = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  bandwidthBytesPerSec: undefined,
  blackhole: false,
});

/** No fault at all. */
export const NO_FAULTS: ResolvedFaults = Object.freeze({
  upstream: NONE,
  downstream: NONE,
  reset: false,
  refuse: false,
});

/**
 * An error with `code: 'BALLAST_INVALID_ARGUMENT'` naming the option and the value received (returned, not thrown).
 * @throws never
 * @example
 * throw invalidArgument('faults.latencyMs', 'a number >= 0', -1);
 */
export function invalidArgument(what: string, expected: string, value: unknown): Error {
  return Object.assign(new Error(`${what} must be ${expected}, received ${JSON.stringify(value)}`), {
    code: 'BALLAST_INVALID_ARGUMENT' as const,
  });
}

function duration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArgument(`faults.${name}`, 'a finite number of milliseconds >= 0', value);
  }
  return value;
}

function flag(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidArgument(`faults.${name}`, 'a boolean', value);
  return value;
}

function rate(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(`faults.${name}`, 'a finite number of bytes per second > 0', value);
  }
  return value;
}

function direction(base: DirectionFaults, own: DirectionFaults | undefined, name: string): ResolvedDirection {
  const prefix = `${name}.`;
  return {
    latencyMs: duration(`${prefix}latencyMs`, own?.latencyMs) ?? duration('latencyMs', base.latencyMs) ?? 0,
    jitterMs: duration(`${prefix}jitterMs`, own?.jitterMs) ?? duration('jitterMs', base.jitterMs) ?? 0,
    bandwidthBytesPerSec:
      rate(`${prefix}bandwidthBytesPerSec`, own?.bandwidthBytesPerSec) ??
      rate('bandwidthBytesPerSec', base.bandwidthBytesPerSec),
    blackhole: flag(`${prefix}blackhole`, own?.blackhole) ?? flag('blackhole', base.blackhole) ?? false,
  };
}

/**
 * Validates `faults` and applies defaults.
 * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` naming the field and the value received.
 * @example
 * resolveFaults({ latencyMs: 50, downstream: { latencyMs: 0 } }).upstream.latencyMs; // 50
 */
export function resolveFaults(faults: Faults): ResolvedFaults {
  if (typeof faults !== 'object' || faults === null) throw invalidArgument('faults', 'an object', faults);
  return {
    upstream: direction(faults, faults.upstream, 'upstream'),
    downstream: direction(faults, faults.downstream, 'downstream'),
    reset: flag('reset', faults.reset) ?? false,
    refuse: flag('refuse', faults.refuse) ?? false,
  };
}

/**
 * True when the two resolved direction faults are the same.
 * @throws never
 * @example
 * sameDirection(NO_FAULTS.upstream, NO_FAULTS.downstream); // true
 */
export function sameDirection(a: ResolvedDirection, b: ResolvedDirection): boolean {
  return (
    a.latencyMs === b.latencyMs &&
    a.jitterMs === b.jitterMs &&
    a.bandwidthBytesPerSec === b.bandwidthBytesPerSec &&
    a.blackhole === b.blackhole
  );
}

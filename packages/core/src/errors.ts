/**
 * Every error Ballast raises is a {@link BallastError} with a stable, literal-typed `code`.
 * Identity survives two copies of the package (a `Symbol.for` marker), so use {@link isBallastError}
 * rather than `instanceof` across module boundaries.
 */

/** Stable error codes. */
export type BallastErrorCode =
  | 'BALLAST_CIRCUIT_OPEN'
  | 'BALLAST_SHED'
  | 'BALLAST_DEADLINE_EXCEEDED'
  | 'BALLAST_RETRY_BUDGET_EXHAUSTED'
  | 'BALLAST_NO_HEALTHY_HOST'
  | 'BALLAST_PRIMARY_UNAVAILABLE'
  | 'BALLAST_INVALID_ARGUMENT'
  | 'BALLAST_ABORTED';

/**
 * Why a call was shed before it reached the dependency.
 * - `queue-full`: the admission queue (or its priority's share of it) was at capacity.
 * - `deadline`: its remaining deadline was shorter than the expected wait plus service time.
 * - `priority`: a higher-priority arrival evicted it from a full queue (lower priorities are shed first).
 * - `limit`: a standing queue: on arrival its expected wait exceeded CoDel's target (or interval), or CoDel
 *   dropped it from the head.
 */
export type ShedReason = 'queue-full' | 'deadline' | 'priority' | 'limit';

const MARKER = Symbol.for('ballast.error');

/** Options accepted by the {@link BallastError} constructor. */
export interface BallastErrorOptions {
  /** Whether trying again later may succeed. */
  retryable?: boolean | undefined;
  /** A hint in milliseconds for when to try again (e.g. a breaker's remaining open time). */
  retryAfterMs?: number | undefined;
  /** The underlying error, unchanged (e.g. pg's `DatabaseError`). */
  cause?: unknown;
  /** For `BALLAST_SHED`: why the call was shed. */
  reason?: ShedReason | undefined;
  /** The policy or component that raised the error. */
  source?: string | undefined;
}

/** The one error class of Ballast. Check `code`, not the message. */
export class BallastError<C extends BallastErrorCode = BallastErrorCode> extends Error {
  readonly code: C;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly reason: ShedReason | undefined;
  readonly source: string | undefined;
  declare readonly [MARKER]: true;

  constructor(code: C, message: string, options: BallastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BallastError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.reason = options.reason;
    this.source = options.source;
  }
}
Object.defineProperty(BallastError.prototype, MARKER, { value: true });

/**
 * True when `error` is a {@link BallastError} from any copy of this package; narrow further with `code`.
 * @example if (isBallastError(e, 'BALLAST_SHED')) res.setHeader('retry-after', ...)
 */
export function isBallastError<C extends BallastErrorCode>(
  error: unknown,
  code?: C,
): error is BallastError<C> {
  if (typeof error !== 'object' || error === null || (error as Record<symbol, unknown>)[MARKER] !== true)
    return false;
  return code === undefined || (error as BallastError).code === code;
}

/** Builds the `BALLAST_INVALID_ARGUMENT` error naming the option and the value received. */
export function invalidArgument(
  option: string,
  value: unknown,
  expected: string,
): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  return new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `Invalid option ${option}: expected ${expected}, received ${describeValue(value)}`,
  );
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return 'an object';
}

/** A `BALLAST_SHED` error; retryable, since the dependency never saw the call. */
export function shedError(
  reason: ShedReason,
  source: string,
  retryAfterMs?: number,
): BallastError<'BALLAST_SHED'> {
  return new BallastError('BALLAST_SHED', `${source}: shed (${reason})`, {
    retryable: true,
    reason,
    source,
    retryAfterMs,
  });
}

/** A `BALLAST_DEADLINE_EXCEEDED` error. */
export function deadlineError(source: string, cause?: unknown): BallastError<'BALLAST_DEADLINE_EXCEEDED'> {
  return new BallastError('BALLAST_DEADLINE_EXCEEDED', `${source}: deadline exceeded`, {
    retryable: false,
    source,
    cause,
  });
}

/** A `BALLAST_ABORTED` error: the caller's own signal aborted the call. */
export function abortedError(source: string, cause?: unknown): BallastError<'BALLAST_ABORTED'> {
  return new BallastError('BALLAST_ABORTED', `${source}: aborted by the caller`, {
    retryable: false,
    source,
    cause,
  });
}

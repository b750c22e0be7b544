import { BallastError, isBallastError, type ShedReason } from '@ballast/core';
import type { HostName, SignalLike } from './types.js';

/** The errors the host pool creates (component `pg-pool`). Messages name the host, never credentials. */

export const SOURCE = 'pg-pool';

/** `BALLAST_SHED`: the acquire never reached the server; retryable. */
export function shedError(host: HostName, reason: ShedReason): BallastError<'BALLAST_SHED'> {
  return new BallastError('BALLAST_SHED', `pg-pool ${host}: shed (${reason})`, {
    reason,
    retryable: true,
    source: SOURCE,
  });
}

/** The error an aborted caller gets: the signal's reason when it is a BallastError, else `BALLAST_ABORTED`. */
export function abortReason(signal: SignalLike, host: HostName): BallastError {
  const reason: unknown = signal.reason;
  if (isBallastError(reason)) return reason;
  return new BallastError('BALLAST_ABORTED', `pg-pool ${host}: aborted by the caller`, {
    source: SOURCE,
    cause: reason,
  });
}

/** `BALLAST_DEADLINE_EXCEEDED` for a statement whose deadline passed before it was sent. */
export function deadlineExceeded(host: HostName): BallastError<'BALLAST_DEADLINE_EXCEEDED'> {
  return new BallastError('BALLAST_DEADLINE_EXCEEDED', `pg-pool ${host}: deadline exceeded`, {
    source: SOURCE,
  });
}

/** What acquires get after `close()`. */
export function closedError(host: HostName): Error {
  return new Error(`pg-pool ${host}: pool closed`);
}

/** `BALLAST_INVALID_ARGUMENT` naming the option and the value received (never a string's content). */
export function invalidArgument(
  option: string,
  value: unknown,
  expected: string,
): BallastError<'BALLAST_INVALID_ARGUMENT'> {
  const shown = typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
  return new BallastError(
    'BALLAST_INVALID_ARGUMENT',
    `Invalid option ${option}: expected ${expected}, received ${shown}`,
    { source: SOURCE },
  );
}

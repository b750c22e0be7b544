import { BallastError, type LimiterPermit, type Priority } from '@ballast/core';
import type { Cluster } from './cluster.js';
import type { PooledConnection } from './types.js';

/** One primary connection checked out for a pinned client, with the admission permit it holds. */
export interface Checkout {
  lease: PooledConnection;
  /** Gives the limiter permit back (outcome 'ignore': a pinned client's hold time is no latency sample). Once. */
  releasePermit(): void;
}

/** @internal BALLAST_PRIMARY_UNAVAILABLE, as the cluster raises it. */
export function primaryUnavailable(reason: string, retryAfterMs = 200): BallastError {
  return new BallastError('BALLAST_PRIMARY_UNAVAILABLE', `no writable primary: ${reason}`, {
    retryable: true,
    retryAfterMs,
    source: 'pg',
  });
}

/**
 * Checks out one connection of the current primary under its admission control: first a permit from the host
 * policy's concurrency limiter (its bounded, deadline-aware queue when the limit is reached), then a connection
 * from the host's pool (its bounded queue), both within `deadlineMs` of now.
 * @throws BallastError `BALLAST_PRIMARY_UNAVAILABLE` when no writable primary is known or its circuit is open;
 *   `BALLAST_SHED` when the limiter or the pool queue refuses it or the deadline passes while waiting; the
 *   driver's connect error otherwise.
 */
export async function checkoutPrimary(
  cluster: Cluster,
  priority: Priority,
  deadlineMs: number | undefined,
): Promise<Checkout> {
  const host = cluster.primaryHost();
  if (host === undefined) throw primaryUnavailable('none is known (failover in progress?)');
  if (host.policy.breaker?.state === 'open')
    throw primaryUnavailable(`${host.name} is failing (circuit open)`);
  const { clock, timeoutMs } = cluster.options;
  const deadlineAt = clock.now() + (deadlineMs ?? timeoutMs);
  const limiter = host.policy.limiter;
  let permit: LimiterPermit | undefined;
  try {
    permit = limiter?.tryAcquire(priority);
    if (limiter !== undefined && permit === undefined) permit = await limiter.acquire(priority, deadlineAt);
    const lease = await host.pool.acquire(deadlineAt, undefined);
    return {
      lease,
      releasePermit: () => {
        if (permit !== undefined) limiter?.release(permit, 'ignore', 0);
        permit = undefined;
      },
    };
  } catch (error) {
    if (permit !== undefined) limiter?.release(permit, 'ignore', 0);
    throw error;
  }
}

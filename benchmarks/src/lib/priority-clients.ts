/**
 * The clients of `priority-mix`: raw pg.Pool with a client timeout, pg.Pool behind cockatiel's timeout and bulkhead,
 * and a Ballast cluster passing each call's priority.
 */
import { setMaxListeners } from 'node:events';
import type { LimiterStats } from '@ballast/core';
import { createCluster, type HostPolicyOptions } from '@ballast/pg';
import { bulkhead, TimeoutStrategy, timeout, wrap } from 'cockatiel';
import { endPool, rawPool } from './pg-bench.js';
import type { MixPriority } from './priority-outcomes.js';

/** A client under test: one call per arrival, with its priority. */
export interface Client {
  call(priority: MixPriority): Promise<unknown>;
  /** Work not finished anywhere in the client: pool busy + pool waiters + the library's own queue. */
  backlog(): number;
  /** Connections open (the pools open them lazily). */
  connections(): number;
  /** Extra state for the raw timeline (Ballast: its limit and queue per priority). */
  state?(): Record<string, number>;
  /** The limiter's snapshot (Ballast only). */
  limiter?(): LimiterStats | undefined;
  close(): Promise<void>;
}

export interface Variant {
  id: string;
  label: string;
  config: string;
  make(url: string): Client;
}

class ClientTimeout extends Error {
  override name = 'ClientTimeout';
}

function poolBacklog(pool: ReturnType<typeof rawPool>): number {
  return pool.waitingCount + pool.totalCount - pool.idleCount;
}

/**
 * The variants, each making a client on a connection string: raw pg.Pool and cockatiel ignore the priority (they
 * have none); Ballast passes it with the deadline. `poolMax`: connections of every pool; `deadlineMs`: the
 * deadline (or client timeout) of every call.
 */
export function priorityVariants(poolMax: number, deadlineMs: number): Variant[] {
  const s = deadlineMs / 1000;
  return [
    {
      id: 'raw',
      label: `raw pg.Pool + ${s} s timeout`,
      config: `new pg.Pool({ max: ${poolMax} }); Promise.race([pool.query('SELECT 1'), timeout(${deadlineMs})]) — no priorities`,
      make(url) {
        const pool = rawPool({ connectionString: url, max: poolMax });
        return {
          call() {
            let timer: NodeJS.Timeout | undefined;
            const expired = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new ClientTimeout('client timeout')), deadlineMs);
            });
            return Promise.race([pool.query('SELECT 1'), expired]).finally(() => clearTimeout(timer));
          },
          backlog: () => poolBacklog(pool),
          connections: () => pool.totalCount,
          close: () => endPool(pool),
        };
      },
    },
    {
      id: 'cockatiel',
      label: `pg.Pool + cockatiel timeout + bulkhead(${poolMax}, 100)`,
      config: `wrap(timeout(${deadlineMs}, Aggressive), bulkhead(${poolMax}, 100)).execute(() => pool.query('SELECT 1')) — no priorities`,
      make(url) {
        const pool = rawPool({ connectionString: url, max: poolMax });
        const queue = bulkhead(poolMax, 100);
        const policy = wrap(timeout(deadlineMs, TimeoutStrategy.Aggressive), queue);
        const parent = new AbortController().signal;
        setMaxListeners(0, parent);
        return {
          call: () => policy.execute(() => pool.query('SELECT 1'), parent),
          backlog: () => poolBacklog(pool) + (100 - queue.queueSlots),
          connections: () => pool.totalCount,
          close: () => endPool(pool),
        };
      },
    },
    ballastVariant(poolMax, deadlineMs, 'ballast', 'priority', undefined),
    ballastVariant(poolMax, deadlineMs, 'ballast-strict', 'partitions interactive 0.95 / batch 0.05', {
      limiter: { partitions: { interactive: 0.95, batch: 0.05, background: 0 } },
    }),
  ];
}

/** The Ballast cluster client, with the host policy options given (`undefined`: the defaults). */
function ballastVariant(
  poolMax: number,
  deadlineMs: number,
  id: string,
  what: string,
  policy: HostPolicyOptions | undefined,
): Variant {
  return {
    id,
    label: `ballast cluster (pool ${poolMax}, deadlineMs ${deadlineMs}, ${what})`,
    config: `createCluster({ primary, pool: { max: ${poolMax} }${policy === undefined ? '' : `, policy: ${JSON.stringify(policy)}`} }); db.query('SELECT 1', [], { deadlineMs: ${deadlineMs}, priority })`,
    make(url) {
      const db = createCluster({ primary: url, pool: { max: poolMax }, policy });
      const options = {
        interactive: { deadlineMs: deadlineMs, priority: 'interactive' },
        batch: { deadlineMs: deadlineMs, priority: 'batch' },
      } as const;
      const host = () => db.stats().hosts[0];
      return {
        call: (priority) => db.query('SELECT 1', [], options[priority]),
        backlog() {
          const h = host();
          if (h === undefined) return 0;
          const lim = h.policy.limiter;
          const inLimiter = lim === undefined ? 0 : lim.inflight + lim.queued;
          return Math.max(inLimiter, h.pool.busy + h.pool.waiting);
        },
        connections: () => host()?.pool.total ?? 0,
        state() {
          const lim = host()?.policy.limiter;
          return {
            limit: lim?.limit ?? Number.NaN,
            inflightInteractive: lim?.inflightByPriority.interactive ?? Number.NaN,
            inflightBatch: lim?.inflightByPriority.batch ?? Number.NaN,
            queuedInteractive: lim?.queuedByPriority.interactive ?? Number.NaN,
            queuedBatch: lim?.queuedByPriority.batch ?? Number.NaN,
          };
        },
        limiter: () => host()?.policy.limiter,
        close: () => db.close(),
      };
    },
  };
}

/**
 * The ways of calling the simulated server that `overload-sim` compares, each wired as a service would wire it.
 */
import { setMaxListeners } from 'node:events';
import { createPolicy } from '@ballast/core';
import { bulkhead, TimeoutStrategy, timeout, wrap } from 'cockatiel';
import pLimit from 'p-limit';

export type Work = (signal?: AbortSignal) => Promise<void>;

/** One way of calling the server, as a service would wire it. */
export interface Client {
  call(work: Work): Promise<unknown>;
  /** Limiter state, when the client has one. */
  limiter?(): { limit: number; inflight: number; queued: number } | undefined;
  /** Calls waiting in the client's own queue. */
  queued?(): number;
  close(): void;
}

export interface Variant {
  id: string;
  label: string;
  config: string;
  make(): Client;
}

/** The variants compared, in the order they run; `deadlineMs` is every request's deadline. */
export function overloadVariants(deadlineMs: number): Variant[] {
  return [
    {
      id: 'direct',
      label: 'direct (no protection)',
      config: 'await server()',
      make: () => ({ call: (w) => w(), close() {} }),
    },
    {
      id: 'p-limit',
      label: 'p-limit(10)',
      config: 'pLimit(10)',
      make() {
        const limit = pLimit(10);
        return {
          call: (w) => limit(() => w()),
          queued: () => limit.pendingCount,
          close: () => limit.clearQueue(),
        };
      },
    },
    {
      id: 'cockatiel',
      label: 'cockatiel bulkhead(10, 1000) + timeout',
      config: `wrap(timeout(${deadlineMs}, Aggressive), bulkhead(10, 1000))`,
      make() {
        const queue = bulkhead(10, 1000);
        const policy = wrap(timeout(deadlineMs, TimeoutStrategy.Aggressive), queue);
        // a never-aborted parent signal, as cockatiel's default, without Node's 10-listener warning (see anchors.ts)
        const parent = new AbortController().signal;
        setMaxListeners(0, parent);
        return {
          call: (w) => policy.execute(({ signal }) => w(signal), parent),
          queued: () => 1000 - queue.queueSlots,
          close() {},
        };
      },
    },
    {
      id: 'ballast',
      label: 'ballast limiter (defaults)',
      config: `createPolicy({ name, limiter: {} }), execute(work, { priority: 'interactive', deadlineMs: ${deadlineMs} })`,
      make() {
        const policy = createPolicy({ name: 'overload-sim', limiter: {} });
        const options = { priority: 'interactive', deadlineMs } as const;
        return {
          call: (w) => policy.execute(({ signal }) => w(signal), options),
          limiter() {
            const s = policy.stats().limiter;
            if (s === undefined) return undefined;
            return { limit: Number(s.limit), inflight: Number(s.inflight), queued: Number(s.queued) };
          },
          queued: () => Number(policy.stats().limiter?.queued ?? 0),
          close() {},
        };
      },
    },
  ];
}

import { type AttemptContext, BallastError } from '@ballast/core';
import type { ChainableCommander, Redis } from 'ioredis';
import type { AckRequest } from './command-args.js';

/** `WAIT`'s timeout: the one asked for, else half of what is left of the call's deadline (1000 ms without one). */
export function ackTimeoutMs(request: AckRequest, ctx: AttemptContext): number {
  if (request.timeoutMs !== undefined) return request.timeoutMs;
  const left = ctx.remainingMs();
  return Number.isFinite(left) ? Math.max(1, Math.floor(left / 2)) : 1000;
}

/**
 * Checks `WAIT`'s reply. Fewer acknowledgements than asked rejects with `BALLAST_DEADLINE_EXCEEDED` (not
 * retryable: the write was applied on the primary, only its replication is unconfirmed); its `cause` is an
 * Error named `ReplicaAckError` with `acknowledged`, `requested` and `waitTimeoutMs`.
 */
export function checkAck(
  acknowledged: unknown,
  request: AckRequest,
  waitTimeoutMs: number,
  source: string,
): void {
  const n = typeof acknowledged === 'number' ? acknowledged : Number(acknowledged);
  if (n >= request.replicas) return;
  const cause = Object.assign(new Error(`WAIT acknowledged ${n} of ${request.replicas} replicas`), {
    name: 'ReplicaAckError',
    acknowledged: n,
    requested: request.replicas,
    waitTimeoutMs,
  });
  throw new BallastError(
    'BALLAST_DEADLINE_EXCEEDED',
    `${source}: ${n} of ${request.replicas} replicas acknowledged the write within ${waitTimeoutMs} ms (it was applied on the primary)`,
    { retryable: false, source, cause },
  );
}

/**
 * Sends the commands `build` adds and a `WAIT` behind them in one pipeline (one round trip), checks the
 * acknowledgement, and resolves with the first command's reply.
 * @throws the first command's error, `WAIT`'s error, or the shortfall error of {@link checkAck}.
 */
export async function writeWithAck(
  client: Redis,
  build: (pipeline: ChainableCommander) => void,
  request: AckRequest,
  ctx: AttemptContext,
  source: string,
): Promise<unknown> {
  const waitTimeoutMs = ackTimeoutMs(request, ctx);
  const pipeline = client.pipeline();
  build(pipeline);
  pipeline.wait(request.replicas, waitTimeoutMs);
  const results = (await pipeline.exec()) ?? [];
  const [writeError, reply] = results[0] ?? [new Error('empty pipeline reply'), undefined];
  if (writeError) throw writeError;
  const [waitError, acknowledged] = results[results.length - 1] ?? [undefined, 0];
  if (waitError) throw waitError;
  checkAck(acknowledged, request, waitTimeoutMs, source);
  return reply;
}

import {
  type BreakerLike,
  type CircuitBreakerOptions,
  createCircuitBreaker,
  createLimiter,
  createPolicy,
  gradient2Limit,
  type LimiterLike,
  type LimiterOptions,
  type Policy,
} from '@ballast/core';
import { DEFAULT_REDIS_LIMIT, type ResolvedRedisClientOptions } from './options.js';
import { redisFailure, redisNotExecuted, redisRetryable } from './redis-errors.js';

function isInstance<T>(value: unknown, method: string): value is T {
  return typeof (value as Record<string, unknown>)[method] === 'function';
}

/**
 * The policy of one connection: the caller's breaker, limiter, retry and hedge options merged over Redis
 * defaults (a breaker that counts only Redis' own trouble and treats a call longer than `timeoutMs` as slow; a
 * Gradient2 limit sized for a multiplexed connection; retries that never repeat a write Redis may have run).
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` from core for an invalid breaker, limiter, retry or hedge option.
 */
export function nodePolicy(o: ResolvedRedisClientOptions, name: string): Policy {
  const { clock, random } = o;
  const timeoutMs = Number.isFinite(o.timeoutMs) ? o.timeoutMs : undefined;
  const b = o.breaker;
  const breaker =
    b === false || isInstance<BreakerLike>(b, 'acquire')
      ? b
      : createCircuitBreaker({
          name,
          clock,
          random,
          isFailure: redisFailure,
          ...(timeoutMs === undefined ? {} : { slowCallDurationMs: timeoutMs }),
          ...(b as CircuitBreakerOptions),
        });
  const l = o.limiter;
  const limiter =
    l === false || isInstance<LimiterLike>(l, 'tryAcquire')
      ? l
      : createLimiter({
          name,
          clock,
          limit: gradient2Limit({ ...DEFAULT_REDIS_LIMIT, clock }),
          ...(l as LimiterOptions),
        });
  const retry =
    o.retry === false
      ? false
      : { isRetryable: redisRetryable, notExecuted: redisNotExecuted, random, ...o.retry };
  return createPolicy({ name, clock, timeoutMs, breaker, limiter, retry, hedge: o.hedge });
}

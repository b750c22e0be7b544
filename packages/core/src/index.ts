// The public surface of @ballast/core, in one screen.

// Circuit breaker
export type {
  BreakerEvents,
  BreakerProbeEvent,
  BreakerRejectedEvent,
  BreakerStateChangeEvent,
  CircuitBreaker,
  CircuitBreakerJSON,
  CircuitBreakerOptions,
  CircuitBreakerStats,
  FromOpossumOptions,
  OpossumBreakerAdapter,
  OpossumBreakerLike,
  StateChangeReason,
} from './breaker/index.js';
export {
  createCircuitBreaker,
  DEFAULT_CIRCUIT_BREAKER,
  fromOpossum,
  restoreCircuitBreaker,
} from './breaker/index.js';
// Errors, classification, time, events
export { defaultClassifier, NOT_SENT_ERROR_CODES, TRANSIENT_ERROR_CODES } from './classify.js';
export type { Clock, TimerHandle } from './clock.js';
export { preciseClock, systemClock } from './clock.js';
export type { BallastErrorCode, BallastErrorOptions, ShedReason } from './errors.js';
export { BallastError, isBallastError } from './errors.js';
export type { Listener, Unsubscribe } from './events.js';
export { Events } from './events.js';
// Hedging
export type {
  Hedge,
  HedgeAdmit,
  HedgeAttemptContext,
  HedgeEvents,
  HedgeOptions,
  HedgeQuantile,
  LatencyTracker,
  LatencyTrackerOptions,
  TrackedHedgedCall,
} from './hedge/index.js';
export {
  createHedge,
  createLatencyTracker,
  DEFAULT_HEDGE,
  DEFAULT_LATENCY_TRACKER,
  NO_HEDGE,
  runHedged,
  runHedgedTracked,
} from './hedge/index.js';
// Concurrency limiter and admission queue
export type {
  AimdLimitOptions,
  CoDelOptions,
  EwmaServiceTimeOptions,
  Gradient2Limit,
  Gradient2LimitOptions,
  LimitAlgorithm,
  Limiter,
  LimiterEvents,
  LimiterOptions,
  LimiterStats,
  LimitSpec,
  MaxQueueOptions,
  PartitionShares,
  PerPriority,
  ServiceTimeEstimator,
  VegasLimitOptions,
} from './limiter/index.js';
export {
  aimdLimit,
  createLimiter,
  DEFAULT_AIMD_LIMIT,
  DEFAULT_EWMA_SERVICE_TIME,
  DEFAULT_GRADIENT2_LIMIT,
  DEFAULT_LIMITER,
  DEFAULT_VEGAS_LIMIT,
  ewmaServiceTime,
  fixedLimit,
  gradient2Limit,
  vegasLimit,
} from './limiter/index.js';
// Composition
export type { AttemptContext, EndListener, EndSignal } from './operation.js';
export { NEVER_ABORTED, NEVER_ENDS } from './operation.js';
/** Option validators for driver packages (they throw `BALLAST_INVALID_ARGUMENT` naming the option). */
export { checkInteger, checkNumber } from './options.js';
export type {
  CallbackWork,
  ExecuteOptions,
  Policy,
  PolicyCounts,
  PolicyOptions,
  PolicyStats,
} from './policy.js';
export { createPolicy } from './policy.js';
// Retry and retry budget
export type {
  Retry,
  RetryBudget,
  RetryBudgetOptions,
  RetryBudgetStats,
  RetryDecision,
  RetryEvents,
  RetryGiveUpReason,
  RetryOptions,
} from './retry/index.js';
export {
  createRetry,
  createRetryBudget,
  DEFAULT_RETRY,
  DEFAULT_RETRY_BUDGET,
  decorrelatedJitter,
  defaultIsRetryable,
  defaultNotExecuted,
  NO_RETRY_ATTEMPTS,
  NO_RETRY_BUDGET,
  NO_RETRY_DEADLINE,
  NO_RETRY_NOT_RETRYABLE,
  NO_RETRY_UNSAFE,
  retryBudgetExhaustedError,
  retryGiveUpReason,
} from './retry/index.js';
export type {
  BreakerLike,
  BreakerState,
  ErrorClassifier,
  ErrorVerdict,
  LimiterLike,
  LimiterOutcome,
  LimiterPermit,
  Priority,
} from './types.js';
export { PRIORITIES } from './types.js';

export type { AimdLimitOptions } from './aimd-limit.js';
export { aimdLimit, DEFAULT_AIMD_LIMIT } from './aimd-limit.js';
export { fixedLimit } from './fixed-limit.js';
export type { Gradient2Limit, Gradient2LimitOptions } from './gradient2-limit.js';
export { DEFAULT_GRADIENT2_LIMIT, gradient2Limit } from './gradient2-limit.js';
export type { LimitAlgorithm } from './limit-algorithm.js';
export type { Limiter } from './limiter.js';
export { createLimiter } from './limiter.js';
export type {
  CoDelOptions,
  LimiterOptions,
  LimitSpec,
  MaxQueueOptions,
  PartitionShares,
} from './limiter-options.js';
export { DEFAULT_LIMITER } from './limiter-options.js';
export type { LimiterEvents, LimiterStats, PerPriority } from './limiter-stats.js';
export type { EwmaServiceTimeOptions, ServiceTimeEstimator } from './service-time.js';
export { DEFAULT_EWMA_SERVICE_TIME, ewmaServiceTime } from './service-time.js';
export type { VegasLimitOptions } from './vegas-limit.js';
export { DEFAULT_VEGAS_LIMIT, vegasLimit } from './vegas-limit.js';

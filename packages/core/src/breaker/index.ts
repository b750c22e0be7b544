export type {
  BreakerEvents,
  BreakerProbeEvent,
  BreakerRejectedEvent,
  BreakerStateChangeEvent,
  StateChangeReason,
} from './breaker-events.js';
export { createCircuitBreaker, restoreCircuitBreaker } from './circuit-breaker.js';
export type { CircuitBreaker } from './circuit-breaker-interface.js';
export type { CircuitBreakerJSON } from './circuit-breaker-json.js';
export type { CircuitBreakerOptions, ResolvedCircuitBreakerOptions } from './circuit-breaker-options.js';
export { DEFAULT_CIRCUIT_BREAKER, resolveCircuitBreakerOptions } from './circuit-breaker-options.js';
export type { CircuitBreakerStats } from './circuit-breaker-stats.js';
export type { FromOpossumOptions, OpossumBreakerAdapter, OpossumBreakerLike } from './opossum.js';
export { fromOpossum } from './opossum.js';

export type { Clock, TimerHandle } from './clock.js';
export { systemClock } from './clock.js';
export type { BallastErrorCode, BallastErrorOptions, ShedReason } from './errors.js';
export { BallastError, isBallastError } from './errors.js';
export type { Listener, Unsubscribe } from './events.js';
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

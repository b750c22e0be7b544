import type { BreakerState } from '../types.js';

/**
 * Why a breaker changed state.
 * - `consecutive-failures`, `failure-rate`, `slow-call-rate`: a trigger opened it.
 * - `open-expired`: the open duration passed and a call arrived (open → half-open).
 * - `probe-succeeded` / `probe-failed`: the half-open probes decided.
 * - `health-check`: an active health check moved it (open → half-open, or half-open → open).
 * - `manual`: `isolate()` or `reset()`, or an external breaker driven by hand.
 */
export type StateChangeReason =
  | 'consecutive-failures'
  | 'failure-rate'
  | 'slow-call-rate'
  | 'probe-failed'
  | 'probe-succeeded'
  | 'health-check'
  | 'manual'
  | 'open-expired';

/** Payload of `state-change`. */
export interface BreakerStateChangeEvent {
  readonly name: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: StateChangeReason;
  /** When `to` is `open`: how long it stays open, in ms. */
  readonly breakDurationMs?: number | undefined;
}

/** Payload of `rejected`: a call failed fast with `BALLAST_CIRCUIT_OPEN`. */
export interface BreakerRejectedEvent {
  readonly name: string;
  readonly state: BreakerState;
  /** Remaining open time in ms, when known. */
  readonly retryAfterMs: number | undefined;
}

/** Payload of `probe`: a half-open probe call or an active health check reported its result. */
export interface BreakerProbeEvent {
  readonly name: string;
  readonly ok: boolean;
  readonly source: 'call' | 'health-check';
}

/**
 * The events of a circuit breaker, also published on `diagnostics_channel` as `ballast:breaker:<event>`.
 * @example breaker.on('state-change', (e) => log.warn(`${e.name}: ${e.from} → ${e.to} (${e.reason})`));
 */
export interface BreakerEvents {
  'state-change': BreakerStateChangeEvent;
  rejected: BreakerRejectedEvent;
  probe: BreakerProbeEvent;
}

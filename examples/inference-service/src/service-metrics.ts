import type { Mode } from './config.js';
import { type Counter, type Histogram, Registry } from './metrics.js';
import type { Model } from './model.js';

/** The metric families every instance exports, in both modes (the Ballast data layer adds `ballast_*` gauges). */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** `{route, status}` */
  readonly requests: Counter;
  /** `{route}`, seconds */
  readonly requestDuration: Histogram;
  /** 503s, `{route, priority}` */
  readonly shed: Counter;
  /** Chat reads that missed the message the same request had just written. */
  readonly staleSessionReads: Counter;
  /** Chat reads (read-your-writes), `{served_by}`. */
  readonly rywReads: Counter;
  /** Session reads that waited for a replica to replay the session's writes (Ballast). */
  readonly rywWaits: Counter;
  /** Session reads sent to the primary instead of a replica (Ballast). */
  readonly rywFallbacks: Counter;
  /** Prompt cache outcomes, `{result}`. */
  readonly cache: Counter;
  /** `{outcome}`: ok, failed, aborted */
  readonly modelCalls: Counter;
}

/** Creates the service's families in a new registry, with `inference_service_info{instance,mode} 1`. */
export function createServiceMetrics(instance: string, mode: Mode): ServiceMetrics {
  const registry = new Registry();
  registry
    .gauge('inference_service_info', 'The instance and the data layer it runs.', ['instance', 'mode'])
    .set({ instance, mode }, 1);
  const metrics: ServiceMetrics = {
    registry,
    requests: registry.counter('inference_requests_total', 'HTTP requests answered.', ['route', 'status']),
    requestDuration: registry.histogram(
      'inference_request_duration_seconds',
      'Time to answer an HTTP request.',
      ['route'],
    ),
    shed: registry.counter('inference_shed_total', 'Requests refused with 503, by priority.', [
      'route',
      'priority',
    ]),
    staleSessionReads: registry.counter(
      'inference_stale_session_reads_total',
      'Chat reads that did not see the message written just before them.',
    ),
    rywReads: registry.counter('inference_ryw_reads_total', 'Chat history reads, by who served them.', [
      'served_by',
    ]),
    rywWaits: registry.counter(
      'inference_ryw_waits_total',
      'Session reads that waited for a replica to replay the session (session-wait events).',
    ),
    rywFallbacks: registry.counter(
      'inference_ryw_fallbacks_total',
      'Session reads sent to the primary instead of a replica (fallback-to-primary events).',
    ),
    cache: registry.counter('inference_cache_total', 'Prompt cache outcomes of chat requests.', ['result']),
    modelCalls: registry.counter('inference_model_calls_total', 'Calls of the model, by outcome.', [
      'outcome',
    ]),
  };
  // Series that exist from the start, so a dashboard's rate() sees the first increment.
  metrics.staleSessionReads.inc({}, 0);
  metrics.rywWaits.inc({}, 0);
  metrics.rywFallbacks.inc({}, 0);
  metrics.shed.inc({ route: 'chat', priority: 'interactive' }, 0);
  metrics.shed.inc({ route: 'backfill', priority: 'batch' }, 0);
  for (const served_by of ['replica', 'primary']) metrics.rywReads.inc({ served_by }, 0);
  for (const result of ['hit', 'miss', 'stale', 'bypass']) metrics.cache.inc({ result }, 0);
  for (const outcome of ['ok', 'failed', 'aborted']) metrics.modelCalls.inc({ outcome }, 0);
  return metrics;
}

/** `model`, counting each call's outcome in `inference_model_calls_total`. */
export function countModelCalls(model: Model, metrics: ServiceMetrics): Model {
  return {
    async generate(prompt, signal) {
      try {
        const reply = await model.generate(prompt, signal);
        metrics.modelCalls.inc({ outcome: 'ok' });
        return reply;
      } catch (error) {
        metrics.modelCalls.inc({ outcome: signal?.aborted === true ? 'aborted' : 'failed' });
        throw error;
      }
    },
  };
}

/**
 * Reads the instances' `/metrics` (Prometheus text): counters summed over both instances and turned into
 * per-phase deltas, and the breaker states each phase went through.
 */
import type { HttpClient } from './http-client.js';

/** One sample line: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format 0.0.4; comment lines and lines it cannot read are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample !== undefined) samples.push(sample);
  }
  return samples;
}

function parseLine(line: string): Sample | undefined {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (name === undefined) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (i < line.length && line[i] !== '}') {
      const key = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(line.slice(i));
      if (key === null) return undefined;
      i += key[0].length;
      let value = '';
      // label values escape \\, \" and \n
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else {
          value += line[i];
          i++;
        }
      }
      if (line[i] !== '"') return undefined;
      i++;
      labels[key[1] as string] = value;
      while (line[i] === ',' || line[i] === ' ') i++;
    }
    if (line[i] !== '}') return undefined;
    i++;
  }
  const valueText = line.slice(i).trim().split(/\s+/)[0] ?? '';
  const value =
    valueText === '+Inf'
      ? Number.POSITIVE_INFINITY
      : valueText === '-Inf'
        ? Number.NEGATIVE_INFINITY
        : Number(valueText);
  if (valueText === '' || (Number.isNaN(value) && valueText !== 'NaN')) return undefined;
  return { name, labels, value };
}

/** Sum of the samples named `name` whose labels include every pair of `match`. */
export function total(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** The service counters the demo reports, summed over the instances. */
export const COUNTERS = {
  shedInteractive: ['inference_shed_total', { priority: 'interactive' }],
  shedBatch: ['inference_shed_total', { priority: 'batch' }],
  rywWaits: ['inference_ryw_waits_total', {}],
  rywFallbacks: ['inference_ryw_fallbacks_total', {}],
  rywFromReplica: ['inference_ryw_reads_total', { served_by: 'replica' }],
  rywFromPrimary: ['inference_ryw_reads_total', { served_by: 'primary' }],
  staleReported: ['inference_stale_session_reads_total', {}],
  cacheHits: ['inference_cache_total', { result: 'hit' }],
  cacheMisses: ['inference_cache_total', { result: 'miss' }],
  modelCalls: ['inference_model_calls_total', {}],
} as const satisfies Record<string, readonly [string, Record<string, string>]>;

/** Values of {@link COUNTERS}. */
export type Counters = Record<keyof typeof COUNTERS, number>;

/** {@link COUNTERS} read from the samples of every instance. */
export function countersOf(perInstance: readonly (readonly Sample[])[]): Counters {
  const out = {} as Counters;
  for (const [key, [name, match]] of Object.entries(COUNTERS) as [
    keyof Counters,
    (typeof COUNTERS)[keyof Counters],
  ][]) {
    out[key] = perInstance.reduce((sum, samples) => sum + total(samples, name, match), 0);
  }
  return out;
}

/** `after − before`, counter by counter. */
export function countersDelta(before: Counters, after: Counters): Counters {
  const out = {} as Counters;
  for (const key of Object.keys(COUNTERS) as (keyof Counters)[]) out[key] = after[key] - before[key];
  return out;
}

/** The data-layer dependencies whose breakers the demo follows. */
export type Dependency = 'primary' | 'replica' | 'redis';

/**
 * The breaker state of each dependency in one instance's samples (`ballast_breaker_state{host,state}` and
 * `ballast_redis_breaker_state{state}`, 1 for the current state); `dependencyOf` names the dependency a host
 * label stands for. Nothing in naive mode, which has no breakers.
 */
export function breakerStates(
  samples: readonly Sample[],
  dependencyOf: (host: string) => Dependency | undefined,
): Partial<Record<Dependency, string>> {
  const out: Partial<Record<Dependency, string>> = {};
  for (const s of samples) {
    if (s.value !== 1 || s.labels.state === undefined) continue;
    if (s.name === 'ballast_redis_breaker_state') out.redis = s.labels.state;
    else if (s.name === 'ballast_breaker_state' && s.labels.host !== undefined) {
      const dependency = dependencyOf(s.labels.host);
      if (dependency !== undefined) out[dependency] = s.labels.state;
    }
  }
  return out;
}

/** Breaker states a phase went through, in the order first seen, per dependency. */
export type StatesSeen = Partial<Record<Dependency, string[]>>;

/** The adaptive concurrency limit of each PostgreSQL host in one instance's samples (`ballast_limiter_limit`). */
export function limiterLimits(
  samples: readonly Sample[],
  dependencyOf: (host: string) => Dependency | undefined,
): Partial<Record<Dependency, number>> {
  const out: Partial<Record<Dependency, number>> = {};
  for (const s of samples) {
    if (s.name !== 'ballast_limiter_limit' || s.labels.host === undefined) continue;
    const dependency = dependencyOf(s.labels.host);
    if (dependency !== undefined) out[dependency] = s.value;
  }
  return out;
}

/** What the scrapes of one window (a phase) saw: breaker states, and the lowest and highest limiter limits. */
export interface Window {
  breakers: StatesSeen;
  limits: Partial<Record<Dependency, { min: number; max: number }>>;
}

/** Scrapes every instance's `/metrics` once a second and keeps the latest answer of each. */
export class MetricsWatcher {
  private readonly latest: Sample[][];
  private timer: NodeJS.Timeout | undefined;
  private window: Window = { breakers: {}, limits: {} };
  /** Scrapes answered and failed (a failed scrape is fine: the previous answer stands). */
  readonly scrapes = { ok: 0, failed: 0 };

  constructor(
    private readonly client: HttpClient,
    private readonly bases: readonly string[],
    private readonly dependencyOf: (host: string) => Dependency | undefined,
  ) {
    this.latest = bases.map(() => []);
  }

  /** Scrapes every second until {@link MetricsWatcher.stop}. */
  start(): void {
    this.timer = setInterval(() => void this.scrape(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Scrapes every instance now (500 ms timeout) and returns the counters summed over them. */
  async scrape(): Promise<Counters> {
    await Promise.all(
      this.bases.map(async (base, i) => {
        const res = await this.client.send({
          method: 'GET',
          base,
          path: '/metrics',
          timeoutMs: 500,
          text: true,
        });
        if (!res.answered || res.status !== 200 || typeof res.body !== 'string') {
          this.scrapes.failed++;
          return;
        }
        this.scrapes.ok++;
        const samples = parsePrometheus(res.body);
        this.latest[i] = samples;
        this.note(samples);
      }),
    );
    return countersOf(this.latest);
  }

  /** The counters of the latest answers, without scraping. */
  counters(): Counters {
    return countersOf(this.latest);
  }

  /** Each instance's current breaker states (from its latest answer). */
  breakers(): Partial<Record<Dependency, string>>[] {
    return this.latest.map((samples) => breakerStates(samples, this.dependencyOf));
  }

  /** What the scrapes saw since the last call, which starts a new window (one per phase) from the latest answers. */
  takeWindow(): Window {
    const window = this.window;
    this.window = { breakers: {}, limits: {} };
    for (const samples of this.latest) this.note(samples);
    return window;
  }

  private note(samples: readonly Sample[]): void {
    const { breakers, limits } = this.window;
    for (const [dependency, state] of Object.entries(breakerStates(samples, this.dependencyOf))) {
      const list = breakers[dependency as Dependency] ?? [];
      if (!list.includes(state)) list.push(state);
      breakers[dependency as Dependency] = list;
    }
    for (const [dependency, limit] of Object.entries(limiterLimits(samples, this.dependencyOf))) {
      const range = limits[dependency as Dependency];
      limits[dependency as Dependency] =
        range === undefined
          ? { min: limit, max: limit }
          : { min: Math.min(range.min, limit), max: Math.max(range.max, limit) };
    }
  }
}

import { type Clock, checkClock, systemClock } from '../clock.js';
import { invalidArgument } from '../errors.js';
import { checkInteger, checkNumber, checkObject } from '../options.js';
import { aimdLimit } from './aimd-limit.js';
import { fixedLimit } from './fixed-limit.js';
import { gradient2Limit } from './gradient2-limit.js';
import type { LimitAlgorithm } from './limit-algorithm.js';
import { type EwmaServiceTimeOptions, ewmaServiceTime, type ServiceTimeEstimator } from './service-time.js';
import { vegasLimit } from './vegas-limit.js';

/** Which limit algorithm: a name (default options), a fixed number, or an algorithm instance. */
export type LimitSpec = 'gradient2' | 'aimd' | 'vegas' | number | LimitAlgorithm;

/**
 * Guaranteed shares of the limit, each in [0, 1], summing to at most 1. `critical` has no share: it may use
 * the whole limit.
 */
export interface PartitionShares {
  /** @default 0.7 */
  interactive?: number | undefined;
  /** @default 0.2 */
  batch?: number | undefined;
  /** @default 0.1 */
  background?: number | undefined;
}

/** Queue bounds: `total` over all priorities, and optional caps per priority. */
export interface MaxQueueOptions {
  /** @default 1000 */
  total?: number | undefined;
  /** @default Infinity (bounded by total) */
  critical?: number | undefined;
  /** @default Infinity (bounded by total) */
  interactive?: number | undefined;
  /** @default Infinity (bounded by total) */
  batch?: number | undefined;
  /** @default Infinity (bounded by total) */
  background?: number | undefined;
}

/** CoDel parameters of each priority queue. */
export interface CoDelOptions {
  /** Acceptable standing sojourn, in milliseconds. @default 5 */
  targetMs?: number | undefined;
  /** Window over which the sojourn must stay above target before dropping, in milliseconds. @default 100 */
  intervalMs?: number | undefined;
}

/** Options of {@link createLimiter}. */
export interface LimiterOptions {
  /** Names the limiter in errors (`source`) and events. @default 'limiter' */
  name?: string | undefined;
  /** The limit algorithm. @default 'gradient2' */
  limit?: LimitSpec | undefined;
  /** Guaranteed shares per priority. @default { interactive: 0.7, batch: 0.2, background: 0.1 } */
  partitions?: PartitionShares | undefined;
  /** Queue bound: a number is the total over all priorities. @default 1000 */
  maxQueue?: number | MaxQueueOptions | undefined;
  /**
   * CoDel on each priority queue, or `false` to disable. Besides head drops, while calls arrive faster than they
   * are served it sheds newcomers on arrival (`'limit'`) whose expected wait exceeds the interval, or — while a
   * standing queue exists — the target or one expected service time, whichever is longer.
   * @default { targetMs: 5, intervalMs: 100 }
   */
  codel?: CoDelOptions | false | undefined;
  /**
   * Serve newest first: always (`true`), never (`false`), or while a queue builds up past the CoDel target and
   * is not yet standing (`'adaptive'`; once standing, admission keeps it short and FIFO serves everyone in time).
   * @default 'adaptive'
   */
  lifo?: 'adaptive' | boolean | undefined;
  /** Permits `critical` may hold above the limit (0: critical too stays within the limit). @default 0 */
  criticalOverdraft?: number | undefined;
  /** Time source. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Expected service time used to shed waiters that cannot meet their deadline: EWMA options, an estimator,
   * or `false` to shed only waiters whose deadline has passed. @default { initialMs: 0, smoothing: 0.1 }
   */
  expectedServiceTime?: EwmaServiceTimeOptions | ServiceTimeEstimator | false | undefined;
}

/** Defaults of {@link LimiterOptions}. */
export const DEFAULT_LIMITER = Object.freeze({
  name: 'limiter',
  limit: 'gradient2',
  partitions: Object.freeze({ interactive: 0.7, batch: 0.2, background: 0.1 }),
  maxQueue: 1000,
  codel: Object.freeze({ targetMs: 5, intervalMs: 100 }),
  lifo: 'adaptive',
  criticalOverdraft: 0,
  expectedServiceTime: Object.freeze({ initialMs: 0, smoothing: 0.1 }),
} as const);

/** Options after validation. Arrays are indexed like `PRIORITIES`. Internal. */
export interface ResolvedLimiterOptions {
  readonly name: string;
  readonly algorithm: LimitAlgorithm;
  readonly shares: readonly [number, number, number, number];
  readonly queueCaps: readonly [number, number, number, number];
  readonly totalQueue: number;
  readonly codel: { readonly targetMs: number; readonly intervalMs: number } | undefined;
  readonly lifo: 'adaptive' | boolean;
  readonly criticalOverdraft: number;
  readonly clock: Clock;
  readonly serviceTime: ServiceTimeEstimator | undefined;
}

const QUEUE_KEYS = ['critical', 'interactive', 'batch', 'background'] as const;

/**
 * Validates and merges limiter options with {@link DEFAULT_LIMITER}.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `limiter.<option path>` and the value received.
 */
export function resolveLimiterOptions(options: LimiterOptions = {}): ResolvedLimiterOptions {
  const o = checkObject('limiter', options) as LimiterOptions;
  const d = DEFAULT_LIMITER;
  const name = o.name ?? d.name;
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument('limiter.name', name, 'a non-empty string');

  const p =
    o.partitions === undefined ? {} : (checkObject('limiter.partitions', o.partitions) as PartitionShares);
  const interactive = checkNumber(
    'limiter.partitions.interactive',
    p.interactive ?? d.partitions.interactive,
    0,
    1,
  );
  const batch = checkNumber('limiter.partitions.batch', p.batch ?? d.partitions.batch, 0, 1);
  const background = checkNumber(
    'limiter.partitions.background',
    p.background ?? d.partitions.background,
    0,
    1,
  );
  if (interactive + batch + background > 1 + 1e-9)
    throw invalidArgument('limiter.partitions', p, 'shares summing to at most 1');

  let totalQueue: number;
  const caps: [number, number, number, number] = [Infinity, Infinity, Infinity, Infinity];
  const mq = o.maxQueue ?? d.maxQueue;
  if (typeof mq === 'number') totalQueue = checkInteger('limiter.maxQueue', mq, 0);
  else {
    const m = checkObject('limiter.maxQueue', mq) as MaxQueueOptions;
    totalQueue = checkQueueBound('limiter.maxQueue.total', m.total ?? d.maxQueue);
    for (let i = 0; i < 4; i++) {
      const key = QUEUE_KEYS[i] as (typeof QUEUE_KEYS)[number];
      const v = m[key];
      if (v !== undefined) caps[i] = checkQueueBound(`limiter.maxQueue.${key}`, v);
    }
  }

  let codel: ResolvedLimiterOptions['codel'];
  const c = o.codel ?? d.codel;
  if (c !== false) {
    const co = checkObject('limiter.codel', c) as CoDelOptions;
    const targetMs = checkNumber('limiter.codel.targetMs', co.targetMs ?? d.codel.targetMs, 0);
    const intervalMs = checkNumber(
      'limiter.codel.intervalMs',
      co.intervalMs ?? d.codel.intervalMs,
      Number.MIN_VALUE,
    );
    codel = { targetMs, intervalMs };
  }

  const lifo = o.lifo ?? d.lifo;
  if (lifo !== 'adaptive' && typeof lifo !== 'boolean')
    throw invalidArgument('limiter.lifo', lifo, "'adaptive', true or false");

  const criticalOverdraft = checkInteger(
    'limiter.criticalOverdraft',
    o.criticalOverdraft ?? d.criticalOverdraft,
    0,
  );
  const clock = o.clock === undefined ? systemClock : checkClock('limiter.clock', o.clock);

  let serviceTime: ServiceTimeEstimator | undefined;
  const st = o.expectedServiceTime ?? d.expectedServiceTime;
  if (st !== false) {
    const so = checkObject('limiter.expectedServiceTime', st);
    serviceTime =
      typeof so.onSample === 'function'
        ? (st as ServiceTimeEstimator)
        : ewmaServiceTime(so as EwmaServiceTimeOptions, 'limiter.expectedServiceTime');
  }

  return {
    name,
    algorithm: resolveAlgorithm(o.limit ?? d.limit, clock),
    shares: [1, interactive, batch, background],
    queueCaps: caps,
    totalQueue,
    codel,
    lifo,
    criticalOverdraft,
    clock,
    serviceTime,
  };
}

function checkQueueBound(option: string, value: unknown): number {
  if (value === Infinity) return Infinity;
  return checkInteger(option, value, 0);
}

function resolveAlgorithm(spec: LimitSpec, clock: Clock): LimitAlgorithm {
  if (typeof spec === 'number') {
    if (!(spec >= 1)) throw invalidArgument('limiter.limit', spec, 'a number >= 1');
    return fixedLimit(spec);
  }
  switch (spec) {
    case 'gradient2':
      return gradient2Limit({ clock });
    case 'aimd':
      return aimdLimit();
    case 'vegas':
      return vegasLimit();
  }
  const a = spec as Partial<LimitAlgorithm> | null;
  if (typeof a === 'object' && a !== null && typeof a.onSample === 'function' && typeof a.limit === 'number')
    return a as LimitAlgorithm;
  throw invalidArgument(
    'limiter.limit',
    spec,
    "'gradient2', 'aimd', 'vegas', a number >= 1 or a LimitAlgorithm ({ limit, onSample })",
  );
}

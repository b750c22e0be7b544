import { checkInteger, checkNumber, checkObject } from '../options.js';
import {
  BLOCK_COUNT,
  BUCKET_COUNT,
  bucketIndex,
  bucketUpperMicros,
  MAX_MICROS,
  SUB_BUCKET_BITS,
  SUB_BUCKETS,
} from './log-linear.js';

/** Options of {@link createLatencyTracker}. */
export interface LatencyTrackerOptions {
  /**
   * Length of the sliding window of samples, in ms.
   * @default 10_000
   */
  windowMs?: number | undefined;
  /**
   * Number of slices the window is divided into; the oldest slice expires as a whole.
   * @default 5
   */
  slices?: number | undefined;
}

/** The defaults of {@link LatencyTrackerOptions}. */
export const DEFAULT_LATENCY_TRACKER: Readonly<Required<{ [K in keyof LatencyTrackerOptions]: number }>> =
  Object.freeze({ windowMs: 10_000, slices: 5 });

/**
 * Streaming latency quantiles over a sliding window: a log-linear histogram (~3 % relative error, exact for
 * the window's minimum and maximum) per time slice, plus a running merged histogram. `record` is O(1) and
 * allocates nothing; `quantile` scans at most 27 blocks and 32 buckets; an expired slice is subtracted lazily
 * on the next call (no timers).
 */
export interface LatencyTracker {
  /** Adds a sample in ms at `nowMs`; negative values count as 0, `NaN` is ignored. */
  record(latencyMs: number, nowMs: number): void;
  /**
   * The `q`-quantile (`0 < q <= 1`) of the window's samples in ms: the upper bound of the bucket holding the
   * sample of rank `ceil(q × count)`, clamped to the window's `[min, max]`. `NaN` when the window is empty.
   */
  quantile(q: number, nowMs: number): number;
  /** Samples in the window. */
  count(nowMs: number): number;
}

/**
 * Creates a {@link LatencyTracker}.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the invalid option.
 * @example
 * const tracker = createLatencyTracker({ windowMs: 30_000 });
 * tracker.record(12.5, clock.now());
 * const p95 = tracker.quantile(0.95, clock.now());
 */
export function createLatencyTracker(
  options: LatencyTrackerOptions = {},
  prefix = 'latencyTracker',
): LatencyTracker {
  checkObject(prefix, options);
  const d = DEFAULT_LATENCY_TRACKER;
  const windowMs = checkNumber(`${prefix}.windowMs`, options.windowMs ?? d.windowMs, 1, 2 ** 31 - 1);
  const slices = checkInteger(`${prefix}.slices`, options.slices ?? d.slices, 1, 1_000);
  return new SlicedHistogram(windowMs, slices);
}

/** True when `value` looks like a {@link LatencyTracker} rather than an options object. */
export function isLatencyTracker(value: unknown): value is LatencyTracker {
  const v = value as Partial<LatencyTracker> | null | undefined;
  return (
    typeof v === 'object' && v !== null && typeof v.record === 'function' && typeof v.quantile === 'function'
  );
}

class SlicedHistogram implements LatencyTracker {
  readonly #sliceMs: number;
  readonly #slices: number;
  /** `slices × BUCKET_COUNT` counts; slice `s` starts at `s × BUCKET_COUNT`. */
  readonly #sliceCounts: Uint32Array;
  readonly #sliceTotal: Float64Array;
  readonly #sliceMin: Float64Array;
  readonly #sliceMax: Float64Array;
  /** Lowest and highest bucket used per slice, so expiring a slice touches only its range. */
  readonly #sliceLo: Int32Array;
  readonly #sliceHi: Int32Array;
  readonly #merged = new Float64Array(BUCKET_COUNT);
  readonly #blocks = new Float64Array(BLOCK_COUNT);
  #total = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  #head = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, slices: number) {
    this.#sliceMs = windowMs / slices;
    this.#slices = slices;
    this.#sliceCounts = new Uint32Array(slices * BUCKET_COUNT);
    this.#sliceTotal = new Float64Array(slices);
    this.#sliceMin = new Float64Array(slices).fill(Number.POSITIVE_INFINITY);
    this.#sliceMax = new Float64Array(slices).fill(Number.NEGATIVE_INFINITY);
    this.#sliceLo = new Int32Array(slices).fill(BUCKET_COUNT);
    this.#sliceHi = new Int32Array(slices).fill(-1);
  }

  record(latencyMs: number, nowMs: number): void {
    if (Number.isNaN(latencyMs)) return;
    const ms = Math.min(Math.max(latencyMs, 0), MAX_MICROS / 1000);
    const s = this.#advance(nowMs);
    const micros = Math.round(ms * 1000);
    const i = bucketIndex(micros);
    const at = s * BUCKET_COUNT + i;
    this.#sliceCounts[at] = (this.#sliceCounts[at] as number) + 1;
    this.#sliceTotal[s] = (this.#sliceTotal[s] as number) + 1;
    if (i < (this.#sliceLo[s] as number)) this.#sliceLo[s] = i;
    if (i > (this.#sliceHi[s] as number)) this.#sliceHi[s] = i;
    if (ms < (this.#sliceMin[s] as number)) this.#sliceMin[s] = ms;
    if (ms > (this.#sliceMax[s] as number)) this.#sliceMax[s] = ms;
    this.#merged[i] = (this.#merged[i] as number) + 1;
    this.#blocks[i >>> SUB_BUCKET_BITS] = (this.#blocks[i >>> SUB_BUCKET_BITS] as number) + 1;
    this.#total++;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  quantile(q: number, nowMs: number): number {
    this.#advance(nowMs);
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    let b = 0;
    while (b < BLOCK_COUNT - 1 && seen + (this.#blocks[b] as number) < rank)
      seen += this.#blocks[b++] as number;
    let i = b * SUB_BUCKETS;
    const end = i + SUB_BUCKETS - 1;
    while (i < end && seen + (this.#merged[i] as number) < rank) seen += this.#merged[i++] as number;
    const value = bucketUpperMicros(i) / 1000;
    return Math.min(Math.max(value, this.#min), this.#max);
  }

  count(nowMs: number): number {
    this.#advance(nowMs);
    return this.#total;
  }

  /** Expires the slices that left the window and returns the slot of `nowMs`'s slice. */
  #advance(nowMs: number): number {
    const n = this.#slices;
    const epoch = Math.floor(nowMs / this.#sliceMs);
    if (epoch > this.#head) {
      const steps = Math.min(epoch - this.#head, n);
      let expired = false;
      for (let k = 1; k <= steps; k++) expired = this.#clear(mod(epoch - steps + k, n)) || expired;
      this.#head = epoch;
      if (expired) this.#recomputeMinMax();
    }
    return mod(this.#head, n);
  }

  /** Empties slice `s`, subtracting it from the merged histogram; true when it held samples. */
  #clear(s: number): boolean {
    if (this.#sliceTotal[s] === 0) return false;
    const base = s * BUCKET_COUNT;
    const hi = this.#sliceHi[s] as number;
    for (let i = this.#sliceLo[s] as number; i <= hi; i++) {
      const c = this.#sliceCounts[base + i] as number;
      if (c === 0) continue;
      this.#merged[i] = (this.#merged[i] as number) - c;
      this.#blocks[i >>> SUB_BUCKET_BITS] = (this.#blocks[i >>> SUB_BUCKET_BITS] as number) - c;
      this.#sliceCounts[base + i] = 0;
    }
    this.#total -= this.#sliceTotal[s] as number;
    this.#sliceTotal[s] = 0;
    this.#sliceLo[s] = BUCKET_COUNT;
    this.#sliceHi[s] = -1;
    this.#sliceMin[s] = Number.POSITIVE_INFINITY;
    this.#sliceMax[s] = Number.NEGATIVE_INFINITY;
    return true;
  }

  #recomputeMinMax(): void {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let s = 0; s < this.#slices; s++) {
      if ((this.#sliceMin[s] as number) < min) min = this.#sliceMin[s] as number;
      if ((this.#sliceMax[s] as number) > max) max = this.#sliceMax[s] as number;
    }
    this.#min = min;
    this.#max = max;
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

import { type Clock, checkClock, systemClock } from '../clock.js';
import { invalidArgument } from '../errors.js';
import { checkInteger, checkNumber } from '../options.js';
import { type LimitAlgorithm, optionsObject, resolveBounds } from './limit-algorithm.js';

/** Options of {@link gradient2Limit} (Netflix concurrency-limits `Gradient2Limit`). */
export interface Gradient2LimitOptions {
  /** Limit before any sample. @default 20 */
  initialLimit?: number | undefined;
  /** The limit never goes below this. @default 1 */
  minLimit?: number | undefined;
  /** The limit never goes above this. @default 200 */
  maxLimit?: number | undefined;
  /** How much queueing the limit tolerates: RTT may grow to `tolerance ×` the long-term RTT before shrinking. @default 1.5 */
  tolerance?: number | undefined;
  /**
   * An absolute allowance on top of `tolerance`: RTT may grow to `tolerance × longRtt + toleranceMs` before the
   * limit shrinks (Ballast's, not in Netflix's Gradient2). For dependencies whose RTT is far below what any caller
   * notices: `SELECT 1` on loopback takes 0.3 ms alone and 1.3 ms with 32 in flight, because the server shares
   * the client's CPU; a ratio alone held the limit at 9–12 there, so callers queued in the limiter instead
   * (same latency by Little's law) and the client paid 15 % more CPU a query for the smaller batches.
   * @default 0
   */
  toleranceMs?: number | undefined;
  /**
   * Averages the RTT over windows of at least this many ms (and `windowSize` samples) before the limit moves
   * (Netflix's `WindowedLimit` around Gradient2, recommended for clients). `0`: every sample moves it. In a
   * client, every call in flight during an event-loop stall (a GC pause, a CPU-bound handler) comes back late
   * at once: per sample, 32 such samples cut the limit to a third for something the dependency did not do.
   * @default 0
   */
  windowMs?: number | undefined;
  /** Least samples in a window (see `windowMs`). @default 10 */
  windowSize?: number | undefined;
  /** Weight of each new limit estimate, in (0, 1]. @default 0.2 */
  smoothing?: number | undefined;
  /** Samples in the long-term RTT exponential average. @default 600 */
  longWindow?: number | undefined;
  /** Headroom added to every estimate so the limit can grow (a number, or a function of the current limit). @default 4 */
  queueSize?: number | ((limit: number) => number) | undefined;
  /**
   * Samples between two no-load probes (Ballast's drift guard, not in Netflix's Gradient2): every
   * `probeInterval` samples the limit is halved until `max(10, 2 × halved limit)` calls started at that
   * concurrency have completed; their mean RTT becomes the no-load RTT, which caps the long RTT. `Infinity`
   * turns the guard off (plain Netflix Gradient2, whose limit drifts upward under sustained overload).
   * @default 1000
   */
  probeInterval?: number | undefined;
  /**
   * Least time between two probes, in ms: at high throughput `probeInterval` samples pass in milliseconds
   * (`SELECT 1` at 27,000/s probed every 37 ms, halving the limit each time; BBR's ProbeRTT runs every 10 s).
   * Below `probeInterval` samples a second it has no effect.
   * @default 1000
   */
  probeMinIntervalMs?: number | undefined;
  /** Time source for {@link Gradient2LimitOptions.probeMinIntervalMs}. @default systemClock */
  clock?: Clock | undefined;
}

/** Defaults of {@link gradient2Limit}. */
export const DEFAULT_GRADIENT2_LIMIT = Object.freeze({
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  tolerance: 1.5,
  toleranceMs: 0,
  windowMs: 0,
  windowSize: 10,
  smoothing: 0.2,
  longWindow: 600,
  queueSize: 4,
  probeInterval: 1000,
  probeMinIntervalMs: 1000,
} as const);

/** The algorithm returned by {@link gradient2Limit}; the RTT estimates are exposed for diagnostics. */
export interface Gradient2Limit extends LimitAlgorithm {
  /** The long-term RTT average in milliseconds (0 before the first sample). */
  readonly longRttMs: number;
  /** The no-load RTT estimate in milliseconds that caps the long RTT (NaN until measured or when disabled). */
  readonly noLoadRttMs: number;
}

const WARMUP_SAMPLES = 10;
const PROBE_MIN_SAMPLES = 10;

/**
 * Gradient2 (Netflix concurrency-limits): compares the latest RTT to a long exponential average of RTTs.
 * `gradient = clamp((tolerance × longRtt + toleranceMs) / rtt, 0.5, 1)`; `next = limit × gradient + queueSize`, smoothed.
 * The limit does not move while the caller is app-limited (in-flight below half the limit), and a long RTT
 * far above the current one (over 2×) decays by 5 % a sample so the limit recovers after a latency shift.
 * Drops are ignored: RTT alone drives it.
 *
 * Deviation from Netflix — the drift guard: the long RTT used in the gradient is capped at a no-load RTT
 * measured by periodic probes (as Netflix's older `GradientLimit` and BBR's ProbeRTT do). Under sustained
 * overload every RTT is inflated by the queueing the limit itself causes, so a plain long average follows it,
 * `tolerance × longRtt / rtt` returns to 1 and `queueSize` pushes the limit up without end. With the cap, the
 * limit settles where RTT ≈ `tolerance ×` the no-load RTT (plus the queue allowance). Every `probeInterval`
 * samples the limit is halved until enough calls started at the halved concurrency have completed; their mean
 * RTT (a mean, not a minimum, so a dependency with widely spread RTTs is not judged by its fastest call) is the
 * new no-load RTT, so the estimate rises when the dependency truly got slower. Halving is enough: the probe
 * measures at most `RTT(limit / 2)`, and `limit ≈ queueSize + tolerance × RTT(limit / 2)` has a bounded fixed
 * point because `tolerance / 2 < 1`. The first no-load estimate is the warm-up average.
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming `gradient2.<option>` when an option is invalid.
 * @example
 * const limiter = createLimiter({ limit: gradient2Limit({ maxLimit: 64 }) });
 */
export function gradient2Limit(options?: Gradient2LimitOptions): Gradient2Limit {
  const o = optionsObject('gradient2', options);
  const d = DEFAULT_GRADIENT2_LIMIT;
  const { initialLimit, minLimit, maxLimit } = resolveBounds('gradient2', o, d);
  const tolerance = checkNumber('gradient2.tolerance', o.tolerance ?? d.tolerance, 1);
  const toleranceMs = checkNumber('gradient2.toleranceMs', o.toleranceMs ?? d.toleranceMs, 0);
  const smoothing = checkNumber('gradient2.smoothing', o.smoothing ?? d.smoothing, 0, 1);
  if (smoothing === 0) throw invalidArgument('gradient2.smoothing', smoothing, 'a number in (0, 1]');
  const longWindow = checkInteger('gradient2.longWindow', o.longWindow ?? d.longWindow, 1);
  const rawQueue = o.queueSize ?? d.queueSize;
  const queueSize: (limit: number) => number =
    typeof rawQueue === 'function' ? rawQueue : constant(checkNumber('gradient2.queueSize', rawQueue, 0));
  const rawProbe = o.probeInterval ?? d.probeInterval;
  const probeInterval =
    rawProbe === Number.POSITIVE_INFINITY ? rawProbe : checkInteger('gradient2.probeInterval', rawProbe, 1);
  const guard = probeInterval !== Number.POSITIVE_INFINITY;
  const probeMinIntervalMs = checkNumber(
    'gradient2.probeMinIntervalMs',
    o.probeMinIntervalMs ?? d.probeMinIntervalMs,
    0,
  );
  const windowMs = checkNumber('gradient2.windowMs', o.windowMs ?? d.windowMs, 0);
  const windowSize = checkInteger('gradient2.windowSize', o.windowSize ?? d.windowSize, 1);
  const clock = o.clock === undefined ? systemClock : checkClock('gradient2.clock', o.clock);
  let lastProbeAt = Number.NEGATIVE_INFINITY;
  const factor = 2 / (longWindow + 1);

  let limit = initialLimit;
  let longRtt = 0;
  let samples = 0;
  let noLoadRtt = Number.NaN;
  let sinceProbe = 0;
  // Probe state: the limit to restore, the concurrency probed, and the samples seen / taken.
  let probing = false;
  let savedLimit = 0;
  let probeInflight = 0;
  let probeSeen = 0;
  let probeCount = 0;
  let probeSum = 0;
  let windowStart = Number.NaN;
  let windowSum = 0;
  let windowCount = 0;
  let windowInflight = 0;

  /** One sample during a probe: only calls that started at the probed concurrency measure the no-load RTT. */
  function probeSample(rttMs: number, inflight: number): void {
    probeSeen++;
    if (inflight <= probeInflight) {
      probeCount++;
      probeSum += rttMs;
    }
    const wanted = Math.max(PROBE_MIN_SAMPLES, 2 * probeInflight);
    // The calls in flight when the probe began drain first; give up if too few qualifying samples ever come.
    if (probeCount < wanted && probeSeen < 4 * (savedLimit + wanted)) return;
    if (probeCount > 0) noLoadRtt = probeSum / probeCount;
    probing = false;
    limit = savedLimit;
    sinceProbe = 0;
  }

  /** One (possibly windowed) sample: the drift guard's probe, then the gradient step. */
  function update(rttMs: number, inflight: number): void {
    if (guard && noLoadRtt > 0 && ++sinceProbe >= probeInterval) {
      // Without a window the clock is read here only, once per `probeInterval` samples.
      const now = clock.now();
      if (now - lastProbeAt >= probeMinIntervalMs) {
        lastProbeAt = now;
        probing = true;
        savedLimit = limit;
        limit = Math.max(minLimit, limit / 2);
        probeInflight = Math.max(1, Math.floor(limit));
        probeSeen = 0;
        probeCount = 0;
        probeSum = 0;
        windowStart = Number.NaN; // the next window starts after the probe
        return;
      }
      sinceProbe = 0; // too soon since the last probe: count another interval
    }
    if (inflight < limit / 2) return; // app-limited: the RTT says nothing about how far we could go
    // Drift guard (see the TSDoc): measured in overload-sim, the uncapped long RTT followed the self-inflicted
    // RTT and the limit climbed to 60–85 against a server whose knee is 10 (in-flight peak 107, p50 49 ms).
    const reference = Number.isNaN(noLoadRtt) ? longRtt : Math.min(noLoadRtt, longRtt);
    const gradient = Math.max(0.5, Math.min(1, (tolerance * reference + toleranceMs) / rttMs));
    const estimate = limit * gradient + queueSize(limit);
    const next = limit * (1 - smoothing) + estimate * smoothing;
    limit = Math.max(minLimit, Math.min(maxLimit, next));
  }

  return {
    get limit() {
      return limit;
    },
    get longRttMs() {
      return longRtt;
    },
    get noLoadRttMs() {
      return noLoadRtt;
    },
    onSample(rttMs: number, inflight: number): void {
      if (!(rttMs > 0)) {
        // A call that finished in the turn it started (the system clock is read once per turn) carries no
        // latency, but it did not queue anywhere: grow as a sample at the reference RTT would, keep it out of
        // the averages. Without this, in-memory work never raised the limit above its initial value.
        if (rttMs === 0 && !probing && inflight >= limit / 2) {
          limit = Math.min(maxLimit, limit + queueSize(limit) * smoothing);
        }
        return;
      }
      // Simple average while warming up, then an exponential average over `longWindow` samples.
      if (samples < WARMUP_SAMPLES) {
        samples++;
        longRtt += (rttMs - longRtt) / samples;
        if (guard && samples === WARMUP_SAMPLES) noLoadRtt = longRtt;
      } else {
        longRtt = longRtt * (1 - factor) + rttMs * factor;
      }
      // After a long overload the average sits far above today's RTT; pull it down faster than the EMA would.
      if (longRtt / rttMs > 2) longRtt *= 0.95;
      if (probing) {
        probeSample(rttMs, inflight);
        return;
      }
      if (windowMs > 0) {
        // The window's mean RTT at its largest concurrency moves the limit once per window.
        windowSum += rttMs;
        windowCount++;
        if (inflight > windowInflight) windowInflight = inflight;
        const now = clock.now();
        if (Number.isNaN(windowStart)) windowStart = now;
        if (now - windowStart < windowMs || windowCount < windowSize) return;
        const mean = windowSum / windowCount;
        const peak = windowInflight;
        sinceProbe += windowCount - 1;
        windowStart = now;
        windowSum = 0;
        windowCount = 0;
        windowInflight = 0;
        update(mean, peak);
        return;
      }
      update(rttMs, inflight);
    },
  };
}

function constant(n: number): () => number {
  return () => n;
}

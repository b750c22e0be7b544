/**
 * Open-loop load: arrivals at a fixed rate regardless of how fast earlier requests complete,
 * issued in batches on ~1 ms ticks (evenly spaced on average), as independent clients would.
 */

/** Calls `arrive()` `ratePerSec` times a second for `durationMs`; resolves with the measured duration in ms. */
export function openLoop(ratePerSec: number, durationMs: number, arrive: () => void): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    let issued = 0;
    const tick = () => {
      const elapsed = performance.now() - start;
      // catch up by elapsed time so a late tick (a busy event loop) does not lower the offered rate
      const due = Math.floor((Math.min(elapsed, durationMs) * ratePerSec) / 1000);
      while (issued < due) {
        issued++;
        arrive();
      }
      if (elapsed >= durationMs) resolve(elapsed);
      else setTimeout(tick, 1);
    };
    tick();
  });
}

/** Resolves after `ms` (real time). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns `expected` (by ===) or `timeoutMs` passes; usable in hooks, unlike expect.poll. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  expected: T,
  timeoutMs = 5_000,
  intervalMs = 50,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last === expected) return;
    if (Date.now() > until)
      throw new Error(`waitFor: still ${String(last)} after ${timeoutMs} ms (wanted ${String(expected)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

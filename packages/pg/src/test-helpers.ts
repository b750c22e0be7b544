import type { Session } from './session.js';

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

/**
 * Write-then-read sessions against `notes (id serial, session int, body text)` while replica 0's replay is paused
 * and resumed at random (15 % a round). Returns how many reads missed their own write and how many a replica
 * served; replay is resumed before it returns.
 */
export async function sessionRoundsWithRandomPauses(
  db: { session(): Session },
  pgc: { pauseReplay(i: number): Promise<void>; resumeReplay(i: number): Promise<void> },
  rounds: number,
): Promise<{ stale: number; onReplica: number }> {
  let stale = 0;
  let onReplica = 0;
  let paused = false;
  try {
    for (let i = 0; i < rounds; i++) {
      if (Math.random() < 0.15) {
        paused = !paused;
        await (paused ? pgc.pauseReplay(0) : pgc.resumeReplay(0));
      }
      const s = db.session();
      const { rows } = await s.write<{ id: number }>(
        'INSERT INTO notes (session, body) VALUES ($1, $2) RETURNING id',
        [i, 'x'],
      );
      const r = await s.read<{ id: number; rec: boolean }>(
        'SELECT id, pg_is_in_recovery() AS rec FROM notes WHERE id = $1',
        [rows[0]?.id],
      );
      if (r.rowCount !== 1) stale++;
      if (r.rows[0]?.rec === true) onReplica++;
    }
  } finally {
    if (paused) await pgc.resumeReplay(0);
  }
  return { stale, onReplica };
}

/**
 * The live terminal view: on a TTY, a table of the phases so far redrawn in place (ANSI cursor codes, at most
 * twice a second); elsewhere (CI), one line per finished phase.
 */
import type { Counters, Dependency } from './metrics.js';
import type { Mode } from './report.js';
import type { ClientSummary } from './summary.js';

/** One table row: a phase played, or being played. */
export interface LiveRow {
  title: string;
  client: ClientSummary;
  service: Counters;
}

/** What the view shows. */
export interface LiveState {
  mode: Mode;
  phase: { index: number; count: number; title: string; elapsedS: number; durationS: number };
  rows: LiveRow[];
  /** Each instance's current breaker states (empty objects in naive mode). */
  breakers: Partial<Record<Dependency, string>>[];
  inFlight: number;
}

const COLUMNS = [
  ['phase', 18],
  ['chat/s', 7],
  ['p99 ms', 7],
  ['503 int/bat', 12],
  ['tmo/err', 9],
  ['stale', 6],
  ['ryw wait/fb', 12],
  ['get/s', 7],
  ['backfill', 9],
] as const;

function row(cells: readonly string[]): string {
  return cells
    .map((c, i) => (i === 0 ? c.padEnd(COLUMNS[i]?.[1] ?? 0) : c.padStart(COLUMNS[i]?.[1] ?? 0)))
    .join(' ');
}

/** The cells of one phase's row. */
export function rowCells(r: LiveRow): string[] {
  const c = r.client;
  return [
    r.title,
    c.chat.goodputPerSec.toFixed(1),
    c.chat.p99Ms === null ? '–' : c.chat.p99Ms.toFixed(0),
    `${c.chat.refused}/${c.backfill.refused}`,
    `${c.chat.timeouts}/${c.chat.errors}`,
    String(c.chat.stale),
    `${r.service.rywWaits}/${r.service.rywFallbacks}`,
    c.read.goodputPerSec.toFixed(1),
    String(c.backfill.rowsUpdated),
  ];
}

function breakerLine(breakers: readonly Partial<Record<Dependency, string>>[]): string {
  const parts = (['primary', 'replica', 'redis'] as const).map((d) => {
    const states = breakers.map((b) => b[d] ?? '–');
    return `${d}: ${states.join('/')}`;
  });
  return `breakers (instance a/b)  ${parts.join('   ')}`;
}

/** The lines of the view for `state`. */
export function renderLive(state: LiveState): string[] {
  const p = state.phase;
  const width = 20;
  const done = Math.max(0, Math.min(width, Math.round((p.elapsedS / Math.max(p.durationS, 0.001)) * width)));
  return [
    `mode ${state.mode}   phase ${p.index + 1}/${p.count} ${p.title}  [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${p.elapsedS.toFixed(1)}/${p.durationS.toFixed(1)} s   in flight ${state.inFlight}`,
    breakerLine(state.breakers),
    row(COLUMNS.map(([name]) => name)),
    ...state.rows.map((r) => row(rowCells(r))),
  ];
}

/** Writes the view to `out`: redrawn in place on a TTY, else only {@link LiveView.phaseEnded} lines. */
export class LiveView {
  private drawn = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** Redraws the view over the previous one (TTY only; call at most twice a second). */
  draw(state: LiveState): void {
    if (!this.tty) return;
    const lines = renderLive(state);
    // up to the first line of the previous drawing, clear to the end of the screen, draw
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    // cut lines to the terminal's width so none wraps (which would break the cursor arithmetic); 0 = unknown
    const columns = (this.out.columns ?? 0) > 0 ? this.out.columns : 200;
    this.out.write(`${up}\x1b[J${lines.map((l) => l.slice(0, columns)).join('\n')}\n`);
    this.drawn = lines.length;
  }

  /** Keeps the last drawing on screen; the next one starts below it. */
  release(): void {
    this.drawn = 0;
  }

  /** Off a TTY: one line for a finished phase. */
  phaseEnded(mode: Mode, r: LiveRow): void {
    if (this.tty) return;
    const cells = rowCells(r);
    const names = COLUMNS.map(([name]) => name);
    this.out.write(
      `[${mode}] ${cells[0]}: ${cells
        .slice(1)
        .map((c, i) => `${names[i + 1]} ${c}`)
        .join(', ')}\n`,
    );
  }

  /** A line of text outside the table (both kinds of output). */
  say(line: string): void {
    this.release();
    this.out.write(`${line}\n`);
  }
}

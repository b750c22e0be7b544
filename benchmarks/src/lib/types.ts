/**
 * The contract between the runner (`src/run.ts`) and a scenario (`src/scenarios/<name>.ts`).
 * A scenario module exports `name`, `description` and `run(ctx)`.
 */

/** A pass/fail check. `value` is a ratio against a baseline measured in the same run, never an absolute time. */
export interface Bar {
  /** Stable, kebab-case id of the check (shown in CI output). */
  name: string;
  value: number;
  bar: number;
  op: '>=' | '<=';
  /** What the ratio is, in words (for the report). */
  description?: string | undefined;
  /**
   * A goal not met yet and tracked in an open issue (say which): the bar is measured and reported as
   * `MISS (pending: …)` but does not fail the run. Remove it when the goal is met.
   */
  pending?: string | undefined;
}

/** One line of a result table. Metric keys carry their unit (`medianNs`, `goodputPerSec`, `p99Ms`). */
export interface ResultRow {
  label: string;
  /** Rows with the same group are rendered as one table. */
  group?: string | undefined;
  metrics: Record<string, number | string | null>;
}

/** One line of a timeline chart: `[seconds since the scenario's load started, value]` per point. */
export interface TimelineSeries {
  label: string;
  points: [number, number][];
}

/** One panel of a timeline chart: one metric, one line per variant. */
export interface TimelinePanel {
  /** e.g. `goodput`, `p99`, `limit`. */
  metric: string;
  /** e.g. `req/s`, `ms`, `calls`. */
  unit: string;
  series: TimelineSeries[];
}

/**
 * A timeline chart of a fault scenario (goodput, p99, limiter limit… over time, the fault windows shaded), rendered
 * by the runner as `results/<scenario>-<id>.svg` and linked from the markdown.
 */
export interface TimelineChart {
  /** File name part: `<scenario>-<id>.svg`. Kebab-case. */
  id: string;
  title: string;
  /** Fault windows to shade, in the same seconds as the points. */
  faults: { fromS: number; toS: number; label: string }[];
  panels: TimelinePanel[];
}

/** What a scenario returns to the runner. */
export interface ScenarioResult {
  rows: ResultRow[];
  bars: Bar[];
  /** Timeline charts (fault scenarios): each becomes an SVG file next to the markdown. */
  charts?: TimelineChart[] | undefined;
  /** The settings the scenario ran with (durations, rounds, seeds). */
  config: Record<string, unknown>;
  /** Raw series (per-round samples, timelines), written to the JSON only. */
  raw: Record<string, unknown>;
  /** Informational lines for the report: goals, diagnoses, tuning applied. */
  notes?: string[] | undefined;
}

/** What the runner gives a scenario. */
export interface ScenarioContext {
  /** Short CI mode: fewer rounds, shorter phases. */
  ci: boolean;
  /** Progress for humans; a no-op unless stdout is a TTY outside CI. */
  progress(message: string): void;
  /** One call answered within its deadline: the terminal shows the live goodput (answers in the last second). */
  answered(): void;
  /** Forces a full garbage collection (no-op when unavailable). */
  gc(): void;
}

/** The shape of a scenario module. */
export interface ScenarioModule {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** True when `bar` holds. */
export function barPasses(bar: Bar): boolean {
  if (!Number.isFinite(bar.value)) return false;
  return bar.op === '>=' ? bar.value >= bar.bar : bar.value <= bar.bar;
}

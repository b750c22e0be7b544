import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTimelineSvg } from './svg-chart.js';
import { type Bar, barPasses, type ResultRow, type ScenarioResult, type TimelineChart } from './types.js';

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** Packages whose versions go into every report. */
const REPORTED_PACKAGES = ['@ballast/core', 'opossum', 'cockatiel', 'p-limit', 'tsx'] as const;

/** The machine and software a result was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  platform: string;
  arch: string;
  node: string;
  v8: string;
  packages: Record<string, string | null>;
  git: { commit: string | null; dirty: boolean | null };
}

function packageVersion(name: string): string | null {
  try {
    const file = path.join(PACKAGE_DIR, 'node_modules', name, 'package.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : null;
  } catch {
    return null;
  }
}

function gitInfo(): MachineInfo['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_DIR, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: PACKAGE_DIR, encoding: 'utf8' });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: os.availableParallelism?.() ?? cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
    v8: process.versions.v8,
    packages: Object.fromEntries(REPORTED_PACKAGES.map((name) => [name, packageVersion(name)])),
    git: gitInfo(),
  };
}

/** The default results directory: `benchmarks/results`. */
export const DEFAULT_RESULTS_DIR = path.join(PACKAGE_DIR, 'results');

function formatValue(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 || Number.isInteger(value) ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function groupRows(rows: readonly ResultRow[]): Map<string, ResultRow[]> {
  const groups = new Map<string, ResultRow[]>();
  for (const row of rows) {
    const key = row.group ?? '';
    let list = groups.get(key);
    if (list === undefined) {
      list = [];
      groups.set(key, list);
    }
    list.push(row);
  }
  return groups;
}

function markdownTable(rows: readonly ResultRow[]): string {
  const columns: string[] = [];
  for (const row of rows)
    for (const key of Object.keys(row.metrics)) if (!columns.includes(key)) columns.push(key);
  const header = ['variant', ...columns];
  const body = rows.map((row) => [row.label, ...columns.map((c) => formatValue(row.metrics[c]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** One line per bar, as printed in CI mode. */
export function barLine(scenario: string, bar: Bar): string {
  const verdict = barPasses(bar)
    ? 'PASS'
    : bar.pending !== undefined
      ? `MISS (pending: ${bar.pending})`
      : 'FAIL';
  return `${verdict} ${scenario} ${bar.name}: ${formatValue(bar.value)} ${bar.op} ${bar.bar}`;
}

/** The markdown report of one scenario: tables per group, bars, notes, machine. */
export function renderMarkdown(
  scenario: { name: string; description: string },
  result: ScenarioResult,
  machine: MachineInfo,
  mode: 'ci' | 'full',
): string {
  const parts: string[] = [`# ${scenario.name}`, '', scenario.description, ''];
  for (const [group, rows] of groupRows(result.rows)) {
    if (group !== '') parts.push(`## ${group}`, '');
    parts.push(markdownTable(rows), '');
  }
  if (result.bars.length > 0) {
    parts.push('## Bars', '', '| check | value | bar | result |', '|---|--:|--:|---|');
    for (const bar of result.bars) {
      const what = bar.description === undefined ? bar.name : `${bar.name} — ${bar.description}`;
      parts.push(
        `| ${what} | ${formatValue(bar.value)} | ${bar.op} ${bar.bar} | ${barPasses(bar) ? 'PASS' : bar.pending !== undefined ? `MISS (pending: ${bar.pending})` : 'FAIL'} |`,
      );
    }
    parts.push('');
  }
  if (result.charts !== undefined && result.charts.length > 0) {
    parts.push('## Charts', '');
    for (const chart of result.charts) {
      const alt = chart.title.replace(/[[\]\\]/g, '\\$&');
      parts.push(`![${alt}](${chartFile(scenario.name, chart)})`, '');
    }
  }
  if (result.notes !== undefined && result.notes.length > 0) {
    parts.push('## Notes', '', ...result.notes.map((n) => `- ${n}`), '');
  }
  const pkgs = Object.entries(machine.packages)
    .map(([name, version]) => `${name} ${version ?? '?'}`)
    .join(', ');
  parts.push(
    '## Machine',
    '',
    `${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.platform}/${machine.arch}, ` +
      `Node ${machine.node}; ${pkgs}; mode ${mode}; commit ${machine.git.commit?.slice(0, 12) ?? '?'}` +
      `${machine.git.dirty ? ' (dirty)' : ''}`,
    '',
  );
  return parts.join('\n');
}

/** The tables alone, for the terminal. */
export function renderTables(result: ScenarioResult): string {
  const parts: string[] = [];
  for (const [group, rows] of groupRows(result.rows)) {
    if (group !== '') parts.push(group);
    parts.push(markdownTable(rows), '');
  }
  return parts.join('\n');
}

function writeAtomically(file: string, content: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

const CHART_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The file name of a chart, `<scenario>-<id>.svg`, beside the markdown that links it. */
function chartFile(scenario: string, chart: TimelineChart): string {
  return `${scenario}-${chart.id}.svg`;
}

/**
 * Writes `<dir>/<scenario>.json`, `<dir>/<scenario>.md` and one `<dir>/<scenario>-<id>.svg` per chart; returns
 * their paths.
 *
 * @throws Error when a chart's id is not kebab-case or two charts share an id (nothing is written then).
 */
export function writeResults(
  dir: string,
  scenario: { name: string; description: string },
  result: ScenarioResult,
  machine: MachineInfo,
  mode: 'ci' | 'full',
  startedAt: Date,
  durationMs: number,
): { json: string; markdown: string; charts: string[] } {
  const charts = result.charts ?? [];
  charts.forEach((chart, i) => {
    if (!CHART_ID.test(chart.id))
      throw new Error(`chart id must be kebab-case, got ${JSON.stringify(chart.id)}`);
    if (charts.findIndex((c) => c.id === chart.id) !== i)
      throw new Error(`two charts with the id ${chart.id}`);
  });
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${scenario.name}.json`);
  const markdown = path.join(dir, `${scenario.name}.md`);
  const document = {
    scenario: scenario.name,
    description: scenario.description,
    mode,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(durationMs),
    machine,
    config: result.config,
    summary: {
      rows: result.rows,
      bars: result.bars.map((b) => ({ ...b, pass: barPasses(b) })),
      notes: result.notes ?? [],
    },
    raw: result.raw,
  };
  writeAtomically(json, `${JSON.stringify(document, null, 2)}\n`);
  const svgs = charts.map((chart) => {
    const file = path.join(dir, chartFile(scenario.name, chart));
    writeAtomically(file, renderTimelineSvg(chart));
    return file;
  });
  writeAtomically(markdown, renderMarkdown(scenario, result, machine, mode));
  return { json, markdown, charts: svgs };
}

/**
 * The demo's report: every number of the run (written as report.json) and a self-contained HTML page (inline CSS
 * and SVG, no scripts, no external URLs) with the per-phase table, verdicts and charts.
 */
import { renderTimelineSvg } from '@ballast/benchmarks/svg-chart';
import { renderBarChart } from './bar-chart.js';
import type { Verdict } from './compare.js';
import type { Counters, StatesSeen, Window } from './metrics.js';
import type { PhaseName, Rates } from './story.js';
import type { ClientSummary, Timeline } from './summary.js';

/** The two ways the service runs. */
export type Mode = 'ballast' | 'naive';

/** How the report draws each mode. Ballast's and naive's are the timeline chart's first two colours, in that order. */
export const MODE_STYLE: Record<Mode, { label: string; colour: string }> = {
  ballast: { label: 'Ballast', colour: '#4e79a7' },
  naive: { label: 'naive', colour: '#e15759' },
};

/** One phase of one mode's run. */
export interface PhaseResult {
  name: PhaseName;
  title: string;
  /** Seconds since the mode's story started, as played. */
  fromS: number;
  toS: number;
  client: ClientSummary;
  /** Counter deltas from the instances' `/metrics`, summed over both. */
  service: Counters;
  /** Breaker states the phase went through (Ballast mode; empty for naive). */
  breakers: StatesSeen;
  /** Lowest and highest adaptive limit of each PostgreSQL host the scrapes saw (Ballast mode). */
  limiterLimits: Window['limits'];
  /** CPU seconds both instances used during the phase (NaN when one had exited). */
  instanceCpuS: number;
}

/** An instance that exited on its own during the story. */
export interface Incident {
  instance: string;
  /** The phase that had just ended when the exit was noticed. */
  phase: string;
  atS: number;
  /** Exit status and the error its log ends on. */
  what: string;
  log: string;
}

/** One mode's run. */
export interface ModeResult {
  mode: Mode;
  phases: PhaseResult[];
  timeline: Timeline;
  scrapes: { ok: number; failed: number };
  incidents: Incident[];
}

/** Everything the report shows (and report.json holds). */
export interface RunReport {
  startedAt: string;
  quick: boolean;
  rates: Rates;
  users: number;
  deadlineMs: number;
  /** Seconds of base load before each mode's story, not measured. */
  warmupS: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; postgres: string };
  phases: { name: PhaseName; title: string; fault: string; loadFactor: number; durationS: number }[];
  modes: ModeResult[];
  verdicts: Verdict[];
  /** Why `--quick` fails (empty when it passes). */
  failures: string[];
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(value: number | null, decimals = 0): string {
  return value === null || !Number.isFinite(value) ? '–' : value.toFixed(decimals);
}

/** The timeline of both modes on one x axis (seconds since each mode's story started), the phases shaded. */
export function timelineChart(report: RunReport): Parameters<typeof renderTimelineSvg>[0] {
  const first = report.modes[0];
  const series = (pick: (t: Timeline) => [number, number][]) =>
    report.modes.map((m) => ({ label: MODE_STYLE[m.mode].label, points: pick(m.timeline) }));
  return {
    id: 'timeline',
    title: 'Chat over time, Ballast vs naive',
    // every phase but the calm ones is shaded; the boundaries are those of the first mode (both follow one plan)
    faults: (first?.phases ?? [])
      .filter((p) => p.name !== 'steady' && p.name !== 'recovery')
      .map((p) => ({ fromS: p.fromS, toS: p.toS, label: p.title })),
    panels: [
      { metric: 'chat goodput', unit: 'answers/s within the deadline', series: series((t) => t.chatGoodput) },
      { metric: 'chat p99', unit: 'ms, every outcome', series: series((t) => t.chatP99Ms) },
      { metric: 'stale session reads', unit: 'reads/s', series: series((t) => t.staleReads) },
    ],
  };
}

function barChart(report: RunReport, title: string, pick: (c: ClientSummary) => number): string {
  return renderBarChart({
    title,
    unit: 'req/s',
    series: report.modes.map((m) => MODE_STYLE[m.mode]),
    groups: report.phases.map((p, i) => ({
      label: p.title,
      values: report.modes.map((m) => {
        const phase = m.phases[i];
        return phase === undefined ? Number.NaN : pick(phase.client);
      }),
    })),
  });
}

/** Breaker states per dependency, with the limiter's range for the PostgreSQL hosts: `primary: closed→open, limit 4–20`. */
function breakerText(seen: StatesSeen, limits: Window['limits']): string {
  const parts = (['primary', 'replica', 'redis'] as const)
    .filter((d) => (seen[d]?.length ?? 0) > 0)
    .map((d) => {
      const range = limits[d];
      const limit =
        range === undefined
          ? ''
          : `, limit ${range.min === range.max ? num(range.min) : `${num(range.min)}–${num(range.max)}`}`;
      return `${d}: ${(seen[d] ?? []).join('→')}${limit}`;
    });
  return parts.length === 0 ? '–' : parts.join('<br>');
}

/** The chat's error codes, most frequent first, under the counts: `BALLAST_SHED 120, timeout 3`. */
function codesText(codes: Record<string, number>): string {
  const entries = Object.entries(codes).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '';
  return `<div class="small">${entries.map(([code, n]) => `${esc(code)} ${n}`).join(', ')}</div>`;
}

function phaseRows(report: RunReport): string {
  const rows: string[] = [];
  report.phases.forEach((phase, i) => {
    const verdict = report.verdicts[i];
    report.modes.forEach((m, j) => {
      const p = m.phases[i];
      if (p === undefined) return;
      const c = p.client;
      const cells = [
        `<td class="mode" style="border-left:4px solid ${MODE_STYLE[m.mode].colour}">${MODE_STYLE[m.mode].label}</td>`,
        `<td>${num(c.chat.goodputPerSec, 1)}</td>`,
        `<td>${num(c.chat.p99OkMs)}</td>`,
        `<td>${num(c.chat.p99Ms)}</td>`,
        `<td>${c.chat.refused} / ${c.backfill.refused}${codesText(c.chat.codes)}</td>`,
        `<td>${c.chat.timeouts} / ${c.chat.errors + c.chat.late}</td>`,
        `<td class="${c.chat.stale > 0 ? 'bad' : ''}">${c.chat.stale}</td>`,
        `<td>${p.service.rywWaits} / ${p.service.rywFallbacks}</td>`,
        `<td>${num(c.read.goodputPerSec, 1)}</td>`,
        `<td>${c.backfill.rowsUpdated}</td>`,
        `<td>${num((p.instanceCpuS / Math.max(p.toS - p.fromS, 0.001)) * 100)}</td>`,
        `<td class="small">${breakerText(p.breakers, p.limiterLimits)}</td>`,
      ];
      const head =
        j === 0
          ? `<th rowspan="${report.modes.length}">${esc(phase.title)}<div class="small">${esc(phase.fault)}</div></th>`
          : '';
      const tail =
        j === 0 && verdict !== undefined
          ? `<td rowspan="${report.modes.length}" class="verdict ${verdict.outcome}"><b>${verdict.outcome === 'better' ? 'Ballast better' : verdict.outcome === 'worse' ? 'Ballast WORSE' : 'equal'}</b><div class="small">${verdict.reasons.map(esc).join('<br>')}</div></td>`
          : '';
      rows.push(`<tr class="${j === 0 ? 'first' : ''}">${head}${cells.join('')}${tail}</tr>`);
    });
  });
  return rows.join('\n');
}

const CSS = `
body { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; margin: 24px;
  max-width: 1220px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
p { margin: 6px 0; line-height: 1.4; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 6px; text-align: right; vertical-align: top; }
th { text-align: left; background: #fafafa; }
thead th { text-align: center; font-weight: 600; border-bottom: 2px solid #ccc; }
tr.first td, tr.first th { border-top: 2px solid #ccc; }
td.mode { text-align: left; white-space: nowrap; }
td.small, .small { font-size: 11px; color: #555; text-align: left; overflow-wrap: anywhere; }
td.small { max-width: 150px; } td .small { max-width: 170px; margin-left: auto; }
td.bad { color: #b00020; font-weight: 700; }
td.verdict { text-align: left; min-width: 150px; max-width: 200px; }
td.verdict.better { background: #eaf6ea; } td.verdict.worse { background: #fde8e8; } td.verdict.equal { background: #f4f4f4; }
.fail { background: #fde8e8; border: 1px solid #e0a0a0; padding: 8px 12px; }
.pass { background: #eaf6ea; border: 1px solid #a0d0a0; padding: 8px 12px; }
.charts svg { display: block; margin: 12px 0; }
`;

/** The report page: self-contained HTML. */
export function renderReportHtml(report: RunReport): string {
  const m = report.machine;
  const timeline = renderTimelineSvg(timelineChart(report)).replace(/^<\?xml[^>]*>\s*/, '');
  const status =
    report.failures.length === 0
      ? `<p class="pass">Ballast is better or equal in every phase, with no stale session read.</p>`
      : `<div class="fail"><b>Ballast is worse somewhere:</b><br>${report.failures.map(esc).join('<br>')}</div>`;
  const incidents = report.modes.flatMap((mode) =>
    mode.incidents.map(
      (x) =>
        `<b>${esc(x.instance)}</b> ${esc(x.what)} — noticed at ${x.atS.toFixed(1)} s, end of ${esc(x.phase)} (log <code>${esc(x.log)}</code>)`,
    ),
  );
  const crashes =
    incidents.length === 0
      ? ''
      : `<div class="fail"><b>Instances that exited during the story</b> (their share of the load failed from then on):<br>${incidents.join('<br>')}</div>`;
  const plan = report.phases
    .map(
      (p) =>
        `<tr><th>${esc(p.title)}</th><td class="small">${esc(p.fault)}</td><td>${num(p.loadFactor * report.rates.chatPerSec, 1)}</td><td>${num(p.durationS, 1)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ballast inference-service demo</title>
<style>${CSS}</style></head><body>
<h1>Ballast inference-service demo${report.quick ? ' (quick)' : ''}</h1>
<p>The same HTTP service (chat with read-your-writes sessions, a prompt cache, a batch embedding backfill), two
instances behind one load generator, played through the same story twice: once on Ballast, once on a bare
<code>pg.Pool</code> + <code>ioredis</code> (naive). Started ${esc(report.startedAt)}.</p>
${status}
${crashes}
<h2>Per phase</h2>
<table>
<thead><tr><th>phase</th><th>mode</th><th>chat goodput<br>req/s</th><th>chat p99<br>2xx, ms</th><th>chat p99<br>all, ms</th>
<th>503s<br>interactive / batch<br><span class="small">chat error codes</span></th><th>chat timeouts<br>/ errors</th><th>stale session<br>reads</th><th>RYW waits<br>/ fallbacks</th>
<th>GET goodput<br>req/s</th><th>backfill<br>rows</th><th>instances'<br>CPU %</th><th>breakers,<br>PG limits</th><th>verdict</th></tr></thead>
<tbody>
${phaseRows(report)}
</tbody></table>
<div class="charts">
${barChart(report, 'Chat goodput per phase', (c) => c.chat.goodputPerSec)}
${barChart(report, 'Eventual-read (GET) goodput per phase', (c) => c.read.goodputPerSec)}
${timeline}
</div>
<h2>What ran</h2>
<table><thead><tr><th>phase</th><th>fault</th><th>chat req/s offered</th><th>seconds</th></tr></thead><tbody>
${plan}
</tbody></table>
<p>Alongside the chats, every phase: ${num(report.rates.readPerSec, 1)} eventual reads/s
(<code>GET /v1/conversations/:id</code>) and ${num(report.rates.backfillPerSec, 0)} backfill/s
(<code>{ limit: ${report.rates.backfillLimit} }</code>), open loop. ${report.users} simulated users, one request in flight
each, every request to the other instance than the user's previous one, carrying its session token.
Request deadline ${report.deadlineMs} ms; the client gives up at ${report.deadlineMs + 1000} ms. Before each
mode's story, ${num(report.warmupS, 0)} s of the base chat and read load warm the instances up (not measured); the
messages table and Redis are emptied between modes.</p>
<p>Goodput: 2xx answers within the deadline, per second of the phase, counted by the phase a request was sent in.
A stale session read: a chat whose history missed the message it just wrote, or any message or reply the user got
back earlier (checked by the client). 503s: chat (interactive) and backfill (batch) refusals. Timeouts: 504 or no
answer in time. RYW waits / fallbacks: the service's read-your-writes waits for a replica and reads sent to the
primary instead (Ballast only). Instances' CPU: what the two service processes used, in % of one core (the
machine's cores also run PostgreSQL, Redis and the load generator).</p>
<p>Machine: ${m.cpus} × ${esc(m.cpuModel)}, ${esc(m.platform)}, Node ${esc(m.node)}, PostgreSQL ${esc(m.postgres)}.</p>
</body></html>
`;
}

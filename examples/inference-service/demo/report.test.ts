import { describe, expect, it } from 'vitest';
import { renderBarChart } from './bar-chart.js';
import { verdictFor } from './compare.js';
import { clientSummary, serviceCounters } from './fixtures.test-helpers.js';
import {
  MODE_STYLE,
  type Mode,
  type ModeResult,
  type RunReport,
  renderReportHtml,
  timelineChart,
} from './report.js';

describe('renderBarChart', () => {
  it('draws one bar per series in every group, as tall as its value', () => {
    const svg = renderBarChart({
      title: 'Chat goodput per phase',
      unit: 'req/s',
      series: [
        { label: 'Ballast', colour: '#4e79a7' },
        { label: 'naive', colour: '#e15759' },
      ],
      groups: [
        { label: 'steady', values: [25, 25] },
        { label: 'burst', values: [50, 10] },
      ],
    });
    const bars = [
      ...svg.matchAll(
        /<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="(#[0-9a-f]{6})"/g,
      ),
    ];
    // two legend swatches are 10 px high; the bars are the rest
    const data = bars.filter((b) => Number(b[2]) !== 10);
    expect(data.map((b) => b[3])).toEqual(['#4e79a7', '#e15759', '#4e79a7', '#e15759']);
    const heights = data.map((b) => Number(b[2]));
    expect(heights[2]).toBeCloseTo((heights[3] as number) * 5, 0);
    expect(heights[0]).toBeCloseTo(heights[1] as number, 5);
    expect(svg).toContain('>burst</text>');
  });
});

const ZERO = serviceCounters(3, 1);

function modeResult(mode: Mode, chat: number[]): ModeResult {
  return {
    mode,
    phases: chat.map((c, i) => ({
      name: i === 0 ? 'steady' : 'replica-lag',
      title: i === 0 ? 'steady' : 'replica lag',
      fromS: i * 10,
      toS: (i + 1) * 10,
      client: clientSummary(c, 12, mode === 'naive' && i === 1 ? 17 : 0),
      service: ZERO,
      breakers: mode === 'ballast' ? { primary: ['closed', 'open'] } : {},
      limiterLimits: mode === 'ballast' ? { primary: { min: 4, max: 20 } } : {},
      instanceCpuS: 5,
    })),
    timeline: {
      chatGoodput: [
        [0, chat[0] ?? 0],
        [1, chat[1] ?? 0],
      ],
      chatP99Ms: [[0, 100]],
      staleReads: [[1, mode === 'naive' ? 17 : 0]],
      readGoodput: [[0, 12]],
    },
    scrapes: { ok: 40, failed: 0 },
    incidents: [],
  };
}

function report(): RunReport {
  const ballast = modeResult('ballast', [25, 24]);
  const naive = modeResult('naive', [25, 23]);
  const verdicts = ballast.phases.map((p, i) =>
    verdictFor(p.title, p.client, (naive.phases[i] as (typeof naive.phases)[number]).client),
  );
  return {
    startedAt: '2026-01-01T00:00:00.000Z',
    quick: true,
    rates: { chatPerSec: 25, readPerSec: 12.5, backfillPerSec: 1, backfillLimit: 50 },
    users: 400,
    deadlineMs: 1000,
    warmupS: 2,
    machine: { cpus: 2, cpuModel: 'test cpu', node: 'v20', platform: 'Linux', postgres: '15.14' },
    phases: [
      { name: 'steady', title: 'steady', fault: 'none', loadFactor: 1, durationS: 10 },
      {
        name: 'replica-lag',
        title: 'replica lag',
        fault: 'replica replay paused',
        loadFactor: 1,
        durationS: 10,
      },
    ],
    modes: [ballast, naive],
    verdicts,
    failures: [],
  };
}

describe('timelineChart', () => {
  it('puts both modes in every panel and shades the fault phases only', () => {
    const chart = timelineChart(report());
    expect(chart.panels.map((p) => p.series.map((s) => s.label))).toEqual([
      ['Ballast', 'naive'],
      ['Ballast', 'naive'],
      ['Ballast', 'naive'],
    ]);
    expect(chart.faults).toEqual([{ fromS: 10, toS: 20, label: 'replica lag' }]);
  });
});

describe('renderReportHtml', () => {
  const html = renderReportHtml(report());

  it('shows both modes in the table, the verdicts and the numbers', () => {
    expect(html).toContain(`border-left:4px solid ${MODE_STYLE.ballast.colour}">Ballast</td>`);
    expect(html).toContain(`border-left:4px solid ${MODE_STYLE.naive.colour}">naive</td>`);
    expect(html).toContain('Ballast better');
    expect(html).toContain('stale session reads 0 vs 17');
    expect(html).toContain('primary: closed→open, limit 4–20');
    expect(html).toContain('<td>24.0</td>');
    expect(html).toContain('<td>23.0</td>');
  });

  it('lists the chat error codes of a phase, most frequent first', () => {
    const r = report();
    const phase = (r.modes[0] as ModeResult).phases[1];
    if (phase === undefined) throw new Error('no phase');
    phase.client.chat.codes = { timeout: 2, BALLAST_SHED: 40 };
    expect(renderReportHtml(r)).toContain('<div class="small">BALLAST_SHED 40, timeout 2</div>');
  });

  it('draws both modes in the bar charts and the timeline, in their colours', () => {
    expect(html.match(/<svg /g)).toHaveLength(3);
    for (const { colour } of Object.values(MODE_STYLE)) {
      expect(html).toContain(`fill="${colour}"`); // bars
      expect(html).toContain(`stroke="${colour}"`); // timeline lines
    }
  });

  it('is self-contained: no scripts, no external resources, no XML prolog inside the page', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)=["']?https?:/i);
    expect(html).not.toContain('<?xml');
  });

  it('names an instance that exited during the story, with its error', () => {
    const r = report();
    const ballast = r.modes[0] as ModeResult;
    ballast.incidents.push({
      instance: 'ballast-b',
      phase: 'burst 5×',
      atS: 7.2,
      what: "exited with code 1: BallastError: 127.0.0.1:1/ballast: deadline exceeded (code: 'BALLAST_DEADLINE_EXCEEDED')",
      log: '/tmp/out/ballast-b.log',
    });
    const page = renderReportHtml(r);
    expect(page).toContain('Instances that exited during the story');
    expect(page).toContain('<b>ballast-b</b> exited with code 1: BallastError');
    expect(renderReportHtml(report())).not.toContain('Instances that exited');
  });

  it('says when Ballast is worse', () => {
    const worse = { ...report(), failures: ['burst 5×: Ballast worse — chat goodput 10.0 vs 20.0 req/s'] };
    expect(renderReportHtml(worse)).toContain('Ballast is worse somewhere');
  });
});

/**
 * Renders a {@link TimelineChart} as a standalone SVG: the title, one legend for every series, then one panel per
 * metric stacked on a shared x axis (seconds), the fault windows shaded in each panel. No dependencies, no clock,
 * no randomness: the same chart gives the same bytes.
 */
import type { TimelineChart, TimelinePanel } from './types.js';

const WIDTH = 900;
const LEFT = 76;
const RIGHT = 24;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT = 150;
/** Space for a panel's heading above its plot. */
const HEADING = 24;
/** Space between one plot's bottom edge and the next panel's heading. */
const PANEL_GAP = 18;
const LEGEND_ROW = 18;
/** The baseline of the legend's first row (the title's is 26). */
const LEGEND_TOP = 50;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
/** Tableau 10: ten colours that stay distinct on white. */
const PALETTE = [
  '#4e79a7',
  '#e15759',
  '#59a14f',
  '#f28e2b',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Escapes text for an XML text node or a double-quoted attribute; drops the control characters XML forbids. */
function escapeXml(text: string): string {
  return [...text]
    .filter((c) => {
      const code = c.charCodeAt(0);
      return code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
    })
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate with one decimal: enough for a screen, and short. */
function px(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** Beyond ±1e300 no measurement is real, and the axis arithmetic (spans, 10^k steps) could overflow. */
const LARGEST = 1e300;

/** A number the chart can place: finite and within ±{@link LARGEST}; anything else is a gap. */
function isPlottable(value: unknown): value is number {
  return typeof value === 'number' && Math.abs(value) <= LARGEST;
}

interface Scale {
  min: number;
  max: number;
  step: number;
  ticks: number[];
  /** Decimals a tick label needs to tell neighbouring ticks apart. */
  decimals: number;
}

/**
 * The smallest round step (1, 2, 2.5 or 5 × 10^k) that covers `[lo, hi]` in at most `intervals` whole steps, the
 * domain widened to those steps, and the ticks. `lo <= 0 <= hi`, `lo < hi`, both finite.
 */
function niceScale(lo: number, hi: number, intervals: number): Scale {
  const smallest = Math.floor(Math.log10((hi - lo) / intervals));
  // two decades up always fit: a step of 10× the raw one covers the span in one or two intervals
  for (let exponent = smallest; Number.isFinite(exponent) && exponent <= smallest + 2; exponent++) {
    for (const mantissa of [1, 2, 2.5, 5]) {
      // dividing by a power of ten keeps steps such as 0.2 exact, where multiplying by 10^-1 would not
      const step = exponent < 0 ? mantissa / 10 ** -exponent : mantissa * 10 ** exponent;
      const first = Math.floor(lo / step);
      const last = Math.ceil(hi / step);
      if (!(last - first <= intervals)) continue;
      const ticks: number[] = [];
      for (let k = first; k <= last; k++) ticks.push(k * step);
      const decimals = Math.max(0, -exponent + (mantissa === 2.5 ? 1 : 0));
      return { min: first * step, max: last * step, step, ticks, decimals };
    }
  }
  // only near the largest doubles, where the span or 10^(k+2) overflows: the bare range
  return { min: lo, max: hi, step: hi - lo, ticks: [lo, hi], decimals: 0 };
}

const SI = [
  { factor: 1e12, suffix: 'T' },
  { factor: 1e9, suffix: 'G' },
  { factor: 1e6, suffix: 'M' },
  { factor: 1e3, suffix: 'k' },
] as const;

/** A tick label: `1,500`, `0.25`, `12.5k`, `3M`; beyond 10^15 and on axes below 0.001, exponent notation. */
function tickLabel(value: number, scale: Scale): string {
  if (Math.abs(value) < scale.step / 2) return '0';
  const largest = Math.max(Math.abs(scale.min), Math.abs(scale.max));
  if (largest >= 1e15 || largest < 1e-3) return value.toExponential(1);
  if (largest >= 1e4) {
    // the step is at least a tenth of the unit here (the axis starts at zero), so 3 decimals are plenty
    const si = SI.find((s) => largest >= s.factor) ?? SI[SI.length - 1];
    if (si !== undefined) return `${trimZeros((value / si.factor).toFixed(3))}${si.suffix}`;
  }
  const fixed = value.toFixed(scale.decimals);
  const [whole = '0', part] = fixed.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return part === undefined ? grouped : `${grouped}.${part}`;
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** Consecutive plottable points, sorted by time; a missing, non-finite or huge value ends a run (a gap). */
function runsOf(points: readonly (readonly [number, number])[]): [number, number][][] {
  const sorted = points
    .map((p, i) => ({ t: p[0], v: p[1] as number | null | undefined, i }))
    .filter((p) => isPlottable(p.t))
    .sort((a, b) => a.t - b.t || a.i - b.i);
  const runs: [number, number][][] = [];
  let current: [number, number][] = [];
  for (const p of sorted) {
    if (isPlottable(p.v)) {
      current.push([p.t, p.v]);
    } else if (current.length > 0) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/** Lays the legend entries out left to right, wrapping at the plot's width; returns the rows' SVG and height. */
function legend(labels: readonly string[], colourOf: (label: string) => string, top: number) {
  const parts: string[] = [];
  let x = LEFT;
  let y = top;
  for (const label of labels) {
    // ~6.6 px per character of 12 px text, plus the swatch: an estimate, as the renderer measures nothing
    const width = 28 + label.length * 6.6 + 18;
    if (x > LEFT && x + width > LEFT + PLOT_WIDTH) {
      x = LEFT;
      y += LEGEND_ROW;
    }
    const colour = colourOf(label);
    parts.push(
      `<line x1="${px(x)}" y1="${px(y - 4)}" x2="${px(x + 22)}" y2="${px(y - 4)}" stroke="${colour}" stroke-width="3"/>`,
      `<text x="${px(x + 28)}" y="${px(y)}">${escapeXml(label)}</text>`,
    );
    x += width;
  }
  return { svg: parts, height: labels.length === 0 ? 0 : y - top + LEGEND_ROW };
}

interface Frame {
  top: number;
  xMin: number;
  xMax: number;
  index: number;
}

function renderPanel(
  panel: TimelinePanel,
  chart: TimelineChart,
  frame: Frame,
  colourOf: (label: string) => string,
): string[] {
  const { top, xMin, xMax } = frame;
  const plotTop = top + HEADING;
  const plotBottom = plotTop + PLOT_HEIGHT;
  const seriesRuns = panel.series.map((s) => ({ label: s.label, runs: runsOf(s.points) }));
  let lo = 0;
  let hi = 0;
  for (const s of seriesRuns)
    for (const run of s.runs)
      for (const [, v] of run) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
  // always from zero (rates and latencies read wrong otherwise); an all-zero panel still gets a 0..1 axis
  // a little headroom, so a line at the maximum does not run along the frame; an all-zero panel gets 0..1
  const yTop = lo === hi ? lo + 1 : hi + (hi - lo) * 0.02;
  const y = niceScale(lo, Number.isFinite(yTop) ? yTop : hi, 5);
  const xAt = (t: number) => LEFT + ((t - xMin) / (xMax - xMin)) * PLOT_WIDTH;
  const yAt = (v: number) => plotBottom - ((v - y.min) / (y.max - y.min)) * PLOT_HEIGHT;
  const clip = `plot-${frame.index}`;
  const out: string[] = [
    `<g>`,
    // dx, not a space: renderers drop a tspan's leading space
    `<text x="${LEFT}" y="${px(top + 14)}"><tspan font-weight="600">${escapeXml(panel.metric)}</tspan><tspan dx="6" fill="#666">— ${escapeXml(panel.unit)}</tspan></text>`,
    // the clip leaves room for a line's stroke or a dot on the frame's edges
    `<clipPath id="${clip}"><rect x="${LEFT - 3}" y="${px(plotTop - 3)}" width="${PLOT_WIDTH + 6}" height="${PLOT_HEIGHT + 6}"/></clipPath>`,
  ];
  for (const fault of chart.faults) {
    const from = Math.max(xMin, Math.min(fault.fromS, fault.toS));
    const to = Math.min(xMax, Math.max(fault.fromS, fault.toS));
    if (!(to > from)) continue;
    out.push(
      `<rect x="${px(xAt(from))}" y="${px(plotTop)}" width="${px(xAt(to) - xAt(from))}" height="${PLOT_HEIGHT}" fill="#e15759" fill-opacity="0.12"/>`,
      `<text x="${px(xAt(from) + 4)}" y="${px(plotTop + 13)}" font-size="11" fill="#a02c2c">${escapeXml(fault.label)}</text>`,
    );
  }
  for (const v of y.ticks) {
    const at = px(yAt(v));
    out.push(
      `<line x1="${LEFT}" y1="${at}" x2="${LEFT + PLOT_WIDTH}" y2="${at}" stroke="${v === 0 ? '#999' : '#e6e6e6'}"/>`,
      `<text x="${LEFT - 6}" y="${px(yAt(v) + 4)}" text-anchor="end" font-size="11" fill="#555">${escapeXml(tickLabel(v, y))}</text>`,
    );
  }
  const middle = px((plotTop + plotBottom) / 2);
  out.push(
    `<text transform="translate(16 ${middle}) rotate(-90)" text-anchor="middle" font-size="11" fill="#555">${escapeXml(panel.unit)}</text>`,
    `<rect x="${LEFT}" y="${px(plotTop)}" width="${PLOT_WIDTH}" height="${PLOT_HEIGHT}" fill="none" stroke="#bbb"/>`,
  );
  let drawn = 0;
  for (const s of seriesRuns) {
    const colour = colourOf(s.label);
    for (const run of s.runs) {
      drawn++;
      const [first] = run;
      if (run.length === 1 && first !== undefined) {
        // a lone value between gaps has no line to be part of: a dot keeps it visible
        out.push(
          `<circle cx="${px(xAt(first[0]))}" cy="${px(yAt(first[1]))}" r="2.5" fill="${colour}" clip-path="url(#${clip})"/>`,
        );
        continue;
      }
      const d = run.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${px(xAt(t))} ${px(yAt(v))}`).join(' ');
      out.push(
        `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6" stroke-linejoin="round" clip-path="url(#${clip})"/>`,
      );
    }
  }
  if (drawn === 0) {
    out.push(
      `<text x="${px(LEFT + PLOT_WIDTH / 2)}" y="${middle}" text-anchor="middle" fill="#999">no data</text>`,
    );
  }
  out.push('</g>');
  return out;
}

/**
 * Renders `chart` as a standalone SVG document (UTF-8 text, white background, 900 px wide, as tall as its panels
 * need). Every series keeps one colour across the panels, chosen by its label's first appearance. Values that are
 * `NaN`, `null`, infinite or beyond ±1e300 leave a gap; a lone value between gaps is drawn as a dot; a panel without any value
 * says "no data". The y axis starts at zero (or below, for negative values) and ends on a round tick.
 *
 * @example
 * writeFileSync('results/pg-brownout-timeline.svg', renderTimelineSvg(chart));
 */
export function renderTimelineSvg(chart: TimelineChart): string {
  const labels: string[] = [];
  for (const panel of chart.panels)
    for (const s of panel.series) if (!labels.includes(s.label)) labels.push(s.label);
  const colourOf = (label: string) => PALETTE[labels.indexOf(label) % PALETTE.length] ?? '#333';

  // the x domain covers every point and every fault window, and always the start of the load (0 s)
  let xLo = 0;
  let xHi = 0;
  for (const panel of chart.panels)
    for (const s of panel.series)
      for (const [t] of s.points)
        if (isPlottable(t)) {
          xLo = Math.min(xLo, t);
          xHi = Math.max(xHi, t);
        }
  for (const f of chart.faults)
    for (const t of [f.fromS, f.toS])
      if (isPlottable(t)) {
        xLo = Math.min(xLo, t);
        xHi = Math.max(xHi, t);
      }
  if (xLo === xHi) xHi = xLo + 1;
  const x = niceScale(xLo, xHi, 10);

  const head = legend(labels, colourOf, LEGEND_TOP);
  const panelsTop = LEGEND_TOP - 4 + head.height;
  const body: string[] = [];
  let top = panelsTop;
  chart.panels.forEach((panel, index) => {
    body.push(...renderPanel(panel, chart, { top, xMin: x.min, xMax: x.max, index }, colourOf));
    top += HEADING + PLOT_HEIGHT + PANEL_GAP;
  });
  if (chart.panels.length === 0) {
    body.push(`<text x="${LEFT}" y="${px(top + 20)}" fill="#999">no data</text>`);
    top += 40;
  }
  // the shared x axis: grid lines through every panel, labels once under the last
  const firstPlotTop = panelsTop + HEADING;
  const lastPlotBottom = top - PANEL_GAP;
  const xAt = (t: number) => LEFT + ((t - x.min) / (x.max - x.min)) * PLOT_WIDTH;
  const axis: string[] = [];
  for (const t of x.ticks) {
    const at = px(xAt(t));
    chart.panels.forEach((_, i) => {
      const plotTop = firstPlotTop + i * (HEADING + PLOT_HEIGHT + PANEL_GAP);
      axis.push(
        `<line x1="${at}" y1="${px(plotTop)}" x2="${at}" y2="${px(plotTop + PLOT_HEIGHT)}" stroke="#f0f0f0"/>`,
      );
    });
    axis.push(
      `<text x="${at}" y="${px(lastPlotBottom + 15)}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(tickLabel(t, x))}</text>`,
    );
  }
  const height = Math.ceil(lastPlotBottom + 48);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" font-family="${escapeXml(FONT)}" font-size="12" fill="#222">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="26" font-size="16" font-weight="700">${escapeXml(chart.title)}</text>`,
    ...head.svg,
    ...axis,
    ...body,
    `<text x="${px(LEFT + PLOT_WIDTH / 2)}" y="${px(lastPlotBottom + 36)}" text-anchor="middle" fill="#555">seconds since the load started</text>`,
    '</svg>',
    '',
  ].join('\n');
}

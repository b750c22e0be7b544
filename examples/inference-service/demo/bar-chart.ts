/**
 * A grouped bar chart as standalone SVG: one group per phase, one bar per series (Ballast, naive), the value
 * written above each bar. No dependencies; the same chart gives the same bytes.
 */

/** A grouped bar chart. */
export interface BarChart {
  title: string;
  /** Unit of the y axis, e.g. `req/s`. */
  unit: string;
  /** The series, in bar order within each group, each with its fill colour (`#rrggbb`). */
  series: { label: string; colour: string }[];
  /** One group per x position; `values[i]` belongs to `series[i]`. */
  groups: { label: string; values: number[] }[];
}

const WIDTH = 900;
const HEIGHT = 300;
const LEFT = 60;
const RIGHT = 16;
const TOP = 56;
const BOTTOM = 44;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function px(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** The smallest round axis top (1, 2, 2.5, 5 × 10^k) at or above `max`, and its step for 5 intervals. */
function axisTop(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  return { top: step * Math.ceil(max / step), step };
}

/** A number with at most `decimals` decimals; `–` when there is none. */
function label(value: number, decimals: number): string {
  const f = 10 ** decimals;
  return Number.isFinite(value) ? String(Math.round(value * f) / f) : '–';
}

/** Renders `chart` as an SVG element (900 × 300 px, white background). */
export function renderBarChart(chart: BarChart): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const finite = chart.groups.flatMap((g) => g.values).filter(Number.isFinite);
  const { top, step } = axisTop(Math.max(0, ...finite));
  const yAt = (v: number) => TOP + plotHeight - (Math.max(0, v) / top) * plotHeight;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" font-family="${escapeXml(FONT)}" font-size="12" fill="#222">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="700">${escapeXml(chart.title)}</text>`,
  ];
  let legendX = LEFT;
  for (const s of chart.series) {
    out.push(
      `<rect x="${legendX}" y="32" width="14" height="10" fill="${s.colour}"/>`,
      `<text x="${legendX + 20}" y="41">${escapeXml(s.label)}</text>`,
    );
    legendX += 40 + s.label.length * 7;
  }
  for (let k = 0; k <= Math.round(top / step); k++) {
    const v = k * step;
    const y = px(yAt(v));
    out.push(
      `<line x1="${LEFT}" y1="${y}" x2="${LEFT + plotWidth}" y2="${y}" stroke="${v === 0 ? '#999' : '#e6e6e6'}"/>`,
      `<text x="${LEFT - 6}" y="${px(yAt(v) + 4)}" text-anchor="end" font-size="11" fill="#555">${label(v, 2)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${px(TOP + plotHeight / 2)}) rotate(-90)" text-anchor="middle" font-size="11" fill="#555">${escapeXml(chart.unit)}</text>`,
  );
  const groupWidth = plotWidth / Math.max(1, chart.groups.length);
  const barWidth = (groupWidth * 0.7) / Math.max(1, chart.series.length);
  chart.groups.forEach((group, g) => {
    const groupLeft = LEFT + g * groupWidth + groupWidth * 0.15;
    chart.series.forEach((s, i) => {
      const value = group.values[i] ?? Number.NaN;
      const x = groupLeft + i * barWidth;
      const v = Number.isFinite(value) ? value : 0;
      out.push(
        `<rect x="${px(x + 1)}" y="${px(yAt(v))}" width="${px(barWidth - 2)}" height="${px(yAt(0) - yAt(v))}" fill="${s.colour}"/>`,
        `<text x="${px(x + barWidth / 2)}" y="${px(yAt(v) - 4)}" text-anchor="middle" font-size="10" fill="#333">${label(value, 1)}</text>`,
      );
    });
    out.push(
      `<text x="${px(LEFT + (g + 0.5) * groupWidth)}" y="${px(TOP + plotHeight + 18)}" text-anchor="middle">${escapeXml(group.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

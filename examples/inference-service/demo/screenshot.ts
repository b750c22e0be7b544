/**
 * `--screenshot`: renders the report in headless Chromium and checks the PNG: not blank, and both modes' colours
 * on it (so the charts drew).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { decodePng, type Image } from './png.js';

const BROWSERS = ['chromium', 'chromium-browser', 'google-chrome'];

/** The first headless-capable browser on PATH, or `undefined`. */
export function findChromium(): string | undefined {
  for (const name of BROWSERS) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    const path = found.stdout.trim();
    if (found.status === 0 && path !== '') return path;
  }
  return undefined;
}

/** A browser, installed with apt-get when none is found and the process may (root); `undefined` otherwise. */
export function ensureChromium(log: (line: string) => void): string | undefined {
  const found = findChromium();
  if (found !== undefined || process.getuid?.() !== 0) return found;
  log('no Chromium found: apt-get install -y chromium …');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update'], { stdio: 'ignore', env });
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env });
  return findChromium();
}

/** Screenshots `htmlPath` into `pngPath` at 1280 × 3000. @throws when the browser fails or writes nothing. */
export function screenshot(browser: string, htmlPath: string, pngPath: string): void {
  execFileSync(
    browser,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      '--window-size=1280,3000',
      `--screenshot=${pngPath}`,
      pathToFileURL(htmlPath).href,
    ],
    { stdio: 'ignore', timeout: 60_000 },
  );
  if (!existsSync(pngPath)) throw new Error(`${browser} wrote no screenshot to ${pngPath}`);
}

/** The result of {@link checkRender}. */
export interface RenderCheck {
  ok: boolean;
  /** Share of pixels that are not (near) white, 0..1. */
  nonWhite: number;
  /** Pixels close to each named colour. */
  colourPixels: Record<string, number>;
  message: string;
}

/** Below this share of non-white pixels the page counts as blank. */
const MIN_NON_WHITE = 0.03;
/**
 * A colour counts as present with at least this many pixels close to it: the charts' bars and lines (~60,000–
 * 80,000 per mode in a full report), not the table's mode markers alone (4 px borders: under 2,000).
 */
const MIN_COLOUR_PIXELS = 10_000;
/** Per-channel distance within which a pixel is "close" to a colour (anti-aliasing shifts edges a little). */
const TOLERANCE = 24;

function rgbOf(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.replace('#', ''), 16);
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** Checks a rendered page: not blank, and every colour of `colours` (`{ label: '#rrggbb' }`) drawn. */
export function checkRender(image: Image, colours: Record<string, string>): RenderCheck {
  const targets = Object.entries(colours).map(([label, hex]) => ({ label, rgb: rgbOf(hex) }));
  const colourPixels: Record<string, number> = Object.fromEntries(targets.map((t) => [t.label, 0]));
  let nonWhite = 0;
  const pixels = image.width * image.height;
  for (let i = 0; i < pixels; i++) {
    const r = image.rgba[i * 4] as number;
    const g = image.rgba[i * 4 + 1] as number;
    const b = image.rgba[i * 4 + 2] as number;
    if ((image.rgba[i * 4 + 3] as number) > 0 && (r < 245 || g < 245 || b < 245)) nonWhite++;
    for (const t of targets) {
      if (
        Math.abs(r - t.rgb[0]) <= TOLERANCE &&
        Math.abs(g - t.rgb[1]) <= TOLERANCE &&
        Math.abs(b - t.rgb[2]) <= TOLERANCE
      ) {
        colourPixels[t.label] = (colourPixels[t.label] ?? 0) + 1;
      }
    }
  }
  const share = pixels === 0 ? 0 : nonWhite / pixels;
  const missing = targets.filter((t) => (colourPixels[t.label] ?? 0) < MIN_COLOUR_PIXELS).map((t) => t.label);
  const problems: string[] = [];
  if (share < MIN_NON_WHITE) problems.push(`only ${(share * 100).toFixed(1)} % non-white (blank?)`);
  if (missing.length > 0) problems.push(`colour of ${missing.join(', ')} missing`);
  const counts = targets.map((t) => `${t.label} ${colourPixels[t.label]} px`).join(', ');
  return {
    ok: problems.length === 0,
    nonWhite: share,
    colourPixels,
    message: `${image.width}×${image.height}, ${(share * 100).toFixed(1)} % non-white, ${counts}${problems.length > 0 ? ` — ${problems.join('; ')}` : ''}`,
  };
}

/** Reads and checks the screenshot at `pngPath`. */
export function checkScreenshot(pngPath: string, colours: Record<string, string>): RenderCheck {
  return checkRender(decodePng(readFileSync(pngPath)), colours);
}

/**
 * `pnpm demo`: the inference service on Ballast against the same service on bare pg + ioredis, under the same
 * load and faults, with a report. Flags: `--quick` (≈ 25 s a mode; exits 1 when Ballast does worse anywhere),
 * `--out DIR`, `--screenshot` (renders the report in headless Chromium and checks the PNG), `--rate R` (base
 * chat rate, req/s).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, release, type } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { quickFailures, verdictFor } from './compare.js';
import { SERVICE_DIR, stopAllInstances } from './instances.js';
import { LiveView } from './live-view.js';
import { playMode } from './play.js';
import { MODE_STYLE, type Mode, type ModeResult, type RunReport, renderReportHtml } from './report.js';
import { checkScreenshot, ensureChromium, screenshot } from './screenshot.js';
import { type DemoServers, startServers } from './servers.js';
import { clearAllFaults, DEFAULT_CHAT_RATE, type Phase, ratesFor, storyPhases } from './story.js';

const MODES: readonly Mode[] = ['ballast', 'naive'];
const DEADLINE_MS = 1000;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(SERVICE_DIR, 'demo-results') },
    screenshot: { type: 'boolean', default: false },
    rate: { type: 'string', default: String(DEFAULT_CHAT_RATE) },
  },
});
const rate = Number(flags.rate);
if (!(rate > 0 && rate <= 1000)) {
  console.error(`--rate: expected a chat rate in (0, 1000] req/s, received ${JSON.stringify(flags.rate)}`);
  process.exit(2);
}
const outDir = resolve(flags.out);
mkdirSync(outDir, { recursive: true });

const view = new LiveView(process.stdout);
const interrupt = new AbortController();
let servers: DemoServers | undefined;

// Ctrl-C: end the phase, stop the instances and the servers, exit 130 (testkit's own handler also kills the
// servers it started, then raises the signal again, which lands here and is ignored)
function onSignal(): void {
  if (interrupt.signal.aborted) return;
  interrupt.abort();
  view.say('\ninterrupted: stopping the instances and the servers…');
  const deadline = new Promise((r) => setTimeout(r, 10_000).unref());
  void Promise.race([Promise.allSettled([stopAllInstances(), servers?.stop()]), deadline]).then(() =>
    process.exit(130),
  );
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function main(): Promise<number> {
  const startedAt = new Date().toISOString();
  const phases = storyPhases(flags.quick);
  const rates = ratesFor(rate);
  const users = usersFor(phases, rate);
  const warmupMs = flags.quick ? 2_000 : 5_000;
  view.say(`starting PostgreSQL (primary + replica), Redis and the fault proxies…`);
  servers = await startServers();
  const results: ModeResult[] = [];
  const runId = `run${Date.now().toString(36)}`;
  for (const mode of MODES) {
    if (interrupt.signal.aborted) return 130;
    await clearAllFaults(servers.faults);
    await servers.resetData();
    view.say(
      `\n${MODE_STYLE[mode].label}: two instances, ${phases.length} phases of ${(phases[0]?.durationMs ?? 0) / 1000} s, R = ${rate} chat req/s`,
    );
    results.push(
      await playMode({
        mode,
        servers,
        phases,
        rates,
        users,
        deadlineMs: DEADLINE_MS,
        runId,
        outDir,
        view,
        warmupMs,
        signal: interrupt.signal,
      }),
    );
  }
  if (interrupt.signal.aborted) return 130;
  const [ballast, naive] = results as [ModeResult, ModeResult];
  const verdicts = phases.map((p, i) => {
    const b = ballast.phases[i];
    const n = naive.phases[i];
    if (b === undefined || n === undefined) throw new Error(`phase ${p.name} was not played in both modes`);
    return verdictFor(p.title, b.client, n.client);
  });
  const cpu = cpus();
  const report: RunReport = {
    startedAt,
    quick: flags.quick,
    rates,
    users,
    deadlineMs: DEADLINE_MS,
    warmupS: warmupMs / 1000,
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${type()} ${release()} ${arch()}`,
      postgres: servers.pgc.version,
    },
    phases: phases.map((p) => ({ ...p, durationS: p.durationMs / 1000 })),
    modes: results,
    verdicts,
    failures: quickFailures(
      verdicts,
      results.filter((r) => r.mode === 'ballast').flatMap((r) => r.incidents),
    ),
  };
  const htmlPath = join(outDir, 'report.html');
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(htmlPath, renderReportHtml(report));
  await servers.stop();
  printSummary(report);
  view.say(`\nreport: ${htmlPath}`);
  let code = 0;
  if (flags.quick && report.failures.length > 0) {
    view.say(`\nFAIL: Ballast does worse than naive, or crashed:\n  ${report.failures.join('\n  ')}`);
    code = 1;
  }
  if (flags.screenshot) code = Math.max(code, checkReportScreenshot(htmlPath));
  return code;
}

/**
 * Simulated users (one request in flight each): at least 300, and enough that the busiest phase never runs out
 * of idle ones even when every request waits out the client's timeout (deadline + 1 s), with 20 % to spare.
 */
function usersFor(phases: readonly Phase[], chatPerSec: number): number {
  const peak = Math.max(...phases.map((p) => p.loadFactor)) * chatPerSec;
  return Math.max(300, Math.ceil((peak * (DEADLINE_MS + 1000) * 1.2) / 1000));
}

function printSummary(report: RunReport): void {
  const [b, n] = report.modes;
  const pad = (s: string, w: number) => s.padStart(w);
  view.say(
    `\n${'phase'.padEnd(18)}${pad('chat/s B', 10)}${pad('naive', 8)}${pad('GET/s B', 10)}${pad('naive', 8)}${pad('stale B', 9)}${pad('naive', 7)}  verdict`,
  );
  report.phases.forEach((p, i) => {
    const bp = b?.phases[i]?.client;
    const np = n?.phases[i]?.client;
    const v = report.verdicts[i];
    view.say(
      `${p.title.padEnd(18)}${pad(bp?.chat.goodputPerSec.toFixed(1) ?? '–', 10)}${pad(np?.chat.goodputPerSec.toFixed(1) ?? '–', 8)}` +
        `${pad(bp?.read.goodputPerSec.toFixed(1) ?? '–', 10)}${pad(np?.read.goodputPerSec.toFixed(1) ?? '–', 8)}` +
        `${pad(String(bp?.chat.stale ?? '–'), 9)}${pad(String(np?.chat.stale ?? '–'), 7)}  ${v?.outcome ?? ''}`,
    );
  });
}

function checkReportScreenshot(htmlPath: string): number {
  const browser = ensureChromium((line) => view.say(line));
  if (browser === undefined) {
    view.say(
      'screenshot: no Chromium (chromium, chromium-browser, google-chrome) and not root to install one',
    );
    return 1;
  }
  const pngPath = join(outDir, 'report.png');
  screenshot(browser, htmlPath, pngPath);
  const colours = Object.fromEntries(MODES.map((m) => [MODE_STYLE[m].label, MODE_STYLE[m].colour]));
  const check = checkScreenshot(pngPath, colours);
  view.say(`screenshot ${pngPath}: ${check.ok ? 'OK' : 'FAILED'} — ${check.message}`);
  return check.ok ? 0 : 1;
}

// once interrupted, onSignal ends the process when the cleanup is done
main().then(
  (code) => {
    if (!interrupt.signal.aborted) process.exit(code);
  },
  async (error: unknown) => {
    if (interrupt.signal.aborted) return;
    view.say(`\ndemo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await Promise.allSettled([stopAllInstances(), servers?.stop()]);
    process.exit(1);
  },
);

/**
 * Benchmark runner: `tsx src/run.ts [scenario...] [--ci] [--out dir] [--list]`.
 * Runs each scenario from `src/scenarios/<name>.ts`, prints its table, writes `<out>/<name>.json` and `.md`,
 * and in `--ci` mode prints one PASS/FAIL line per bar and exits non-zero when any bar fails.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { barLine, DEFAULT_RESULTS_DIR, machineInfo, renderTables, writeResults } from './lib/report.js';
import { barPasses, type ScenarioContext, type ScenarioModule } from './lib/types.js';

const SCENARIO_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));
const USAGE = `usage: pnpm bench [scenario...] [--ci] [--out dir] [--list]
  scenario   one or more of the names from --list (default: all)
  --ci       short mode; prints PASS/FAIL per bar and exits 1 when a bar fails
  --out dir  where to write <scenario>.json and <scenario>.md
             (default: benchmarks/results, with --ci benchmarks/results/ci)
  --list     list the scenarios and exit`;

function availableScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function loadScenario(name: string): Promise<ScenarioModule> {
  const mod = (await import(
    pathToFileURL(path.join(SCENARIO_DIR, `${name}.ts`)).href
  )) as Partial<ScenarioModule>;
  if (typeof mod.name !== 'string' || typeof mod.description !== 'string' || typeof mod.run !== 'function') {
    throw new Error(`src/scenarios/${name}.ts must export name, description and run(ctx)`);
  }
  return mod as ScenarioModule;
}

/** A full GC between variants keeps one variant's garbage from being collected on another's clock. */
function resolveGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return gc as () => void;
  } catch {
    // fall through: benchmarks still run, only noisier
  }
  return () => {};
}

/**
 * Progress on a TTY (never in CI or when piped): the scenario, its elapsed time and its latest message, redrawn
 * every 250 ms so the clock moves while a phase runs.
 */
function progressWriter(): {
  start(name: string): void;
  progress(message: string): void;
  answered(): void;
  clear(): void;
} {
  const enabled = process.stdout.isTTY === true && !process.env.CI;
  let shown = false;
  let scenario = '';
  let message = '';
  let startedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  // Answers counted per 250 ms redraw; the last four make the live goodput.
  let answers = 0;
  const lastSecond: number[] = [];
  const draw = (tick = false): void => {
    if (tick) {
      lastSecond.push(answers);
      answers = 0;
      if (lastSecond.length > 4) lastSecond.shift();
    }
    const width = Math.max(20, (process.stdout.columns ?? 80) - 1);
    const elapsed = ((performance.now() - startedAt) / 1000).toFixed(1);
    const goodput = lastSecond.reduce((a, b) => a + b, 0);
    const live = goodput > 0 ? ` · ${goodput} answered/s` : '';
    process.stdout.write(`\r\x1b[2K${`${scenario} ${elapsed} s: ${message}${live}`.slice(0, width)}`);
    shown = true;
  };
  return {
    answered() {
      answers++;
    },
    start(name) {
      scenario = name;
      message = 'starting';
      answers = 0;
      lastSecond.length = 0;
      startedAt = performance.now();
      if (!enabled) return;
      timer ??= setInterval(() => draw(true), 250).unref();
      draw();
    },
    progress(m) {
      message = m;
      if (enabled) draw();
    },
    clear() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      if (!shown) return;
      process.stdout.write('\r\x1b[2K');
      shown = false;
    },
  };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      allowPositionals: true,
      options: {
        ci: { type: 'boolean', default: false },
        out: { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  try {
    args = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const available = availableScenarios();
  if (args.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.values.list) {
    for (const name of available) console.log(`${name}: ${(await loadScenario(name)).description}`);
    return 0;
  }
  const requested = args.positionals.length > 0 ? args.positionals : available;
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
    return 2;
  }
  const ci = args.values.ci;
  const mode = ci ? 'ci' : 'full';
  // pnpm runs scripts in the package directory; resolve --out against where the user typed the command.
  // --ci writes beside, not over, the full-run reports kept in results/ (results/ci/ is git-ignored)
  const outDir =
    args.values.out === undefined
      ? ci
        ? path.join(DEFAULT_RESULTS_DIR, 'ci')
        : DEFAULT_RESULTS_DIR
      : path.resolve(process.env.INIT_CWD ?? process.cwd(), args.values.out);
  const gc = resolveGc();
  const machine = machineInfo();
  const ui = progressWriter();
  const barLines: string[] = [];
  let failed = false;
  let threw = false;

  for (const name of requested) {
    const scenario = await loadScenario(name);
    const ctx: ScenarioContext = { ci, gc, progress: (m) => ui.progress(m), answered: () => ui.answered() };
    ui.start(name);
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      const result = await scenario.run(ctx);
      const elapsed = performance.now() - t0;
      ui.clear();
      const files = writeResults(outDir, scenario, result, machine, mode, startedAt, elapsed);
      console.log(
        `\n${scenario.name} (${mode}, ${(elapsed / 1000).toFixed(1)} s) — ${scenario.description}\n`,
      );
      console.log(renderTables(result));
      for (const note of result.notes ?? []) console.log(`  note: ${note}`);
      console.log(`  wrote ${path.relative(process.cwd(), files.markdown)} and .json\n`);
      for (const bar of result.bars) {
        barLines.push(barLine(scenario.name, bar));
        if (!barPasses(bar) && bar.pending === undefined) failed = true;
      }
    } catch (error) {
      ui.clear();
      failed = true;
      threw = true;
      barLines.push(`FAIL ${name} (scenario threw)`);
      console.error(`${name} failed:`, error);
    }
  }
  if (ci) {
    console.log(barLines.join('\n'));
    console.log(failed ? 'bench:ci FAILED' : 'bench:ci passed');
  } else if (barLines.length > 0) {
    console.log(barLines.join('\n'));
  }
  return threw || (ci && failed) ? 1 : 0;
}

process.exitCode = await main();

/**
 * Plays the story against one mode: starts its two instances, runs the phases with their faults and load, and
 * collects what the client saw and what the instances' metrics counted.
 */
import { join } from 'node:path';
import { HttpClient } from './http-client.js';
import { type Instance, startInstance } from './instances.js';
import type { LiveRow, LiveView } from './live-view.js';
import { LoadGenerator, runOpenLoop } from './load.js';
import { type Counters, countersDelta, MetricsWatcher, type Window } from './metrics.js';
import type { Incident, Mode, ModeResult, PhaseResult } from './report.js';
import type { DemoServers } from './servers.js';
import { endFault, type Phase, POOL_PER_INSTANCE, type Rates, startFault } from './story.js';
import { summarizePhase, timeline } from './summary.js';

/** What one mode's run needs. */
export interface PlayOptions {
  mode: Mode;
  servers: DemoServers;
  phases: readonly Phase[];
  rates: Rates;
  users: number;
  deadlineMs: number;
  /** Unique per run (conversation ids). */
  runId: string;
  /** Where the instances' logs go. */
  outDir: string;
  view: LiveView;
  /** Base load offered before the story, not measured: pools open, code compiled, caches warm in both modes. */
  warmupMs: number;
  /** Aborted on Ctrl-C: the phase in progress ends at once. */
  signal: AbortSignal;
}

/** Seed of the prompt sequence: the same for both modes. */
const PROMPT_SEED = 7;

/** Plays every phase against two fresh instances of `mode`; stops them before resolving. */
export async function playMode(o: PlayOptions): Promise<ModeResult> {
  const env = {
    PG_PRIMARY_URL: o.servers.urls.primary,
    PG_REPLICA_URLS: o.servers.urls.replica,
    REDIS_URL: o.servers.urls.redis,
    REQUEST_DEADLINE_MS: String(o.deadlineMs),
    PG_POOL_MAX: String(POOL_PER_INSTANCE),
  };
  const names = ['a', 'b'].map((n) => `${o.mode}-${n}`);
  const started = await Promise.allSettled(
    names.map((name) => startInstance({ mode: o.mode, name, env, logPath: join(o.outDir, `${name}.log`) })),
  );
  const instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const client = new HttpClient();
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return await playPhases(o, instances, client);
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
    client.close();
  }
}

/** Offers the base chat and read load for `warmupMs` and waits for the answers; nothing of it is recorded. */
async function warmUp(o: PlayOptions, bases: string[], client: HttpClient): Promise<void> {
  const load = new LoadGenerator({
    client,
    bases,
    users: o.users,
    prefix: `${o.runId}-${o.mode}-warmup`,
    deadlineMs: o.deadlineMs,
    rates: o.rates,
    seed: PROMPT_SEED + 1,
    startedAt: performance.now(),
  });
  const streams = [
    { perSec: o.rates.chatPerSec, fire: () => load.chat() },
    { perSec: o.rates.readPerSec, fire: () => load.read() },
  ];
  await runOpenLoop(streams, o.warmupMs, o.signal);
  await load.drain(o.deadlineMs + 1500);
}

async function playPhases(o: PlayOptions, instances: Instance[], client: HttpClient): Promise<ModeResult> {
  const bases = instances.map((i) => i.base);
  o.view.say(`warming up: ${o.warmupMs / 1000} s of the base load, not measured`);
  await warmUp(o, bases, client);
  const watcher = new MetricsWatcher(client, bases, (host) => o.servers.dependencyOf(host));
  let before = await watcher.scrape();
  watcher.takeWindow();
  const startedAt = performance.now();
  const seconds = () => (performance.now() - startedAt) / 1000;
  const load = new LoadGenerator({
    client,
    bases,
    users: o.users,
    prefix: `${o.runId}-${o.mode}`,
    deadlineMs: o.deadlineMs,
    rates: o.rates,
    seed: PROMPT_SEED,
    startedAt,
  });
  // CPU the two instances used (seconds), NaN once one has exited
  const cpu = () => instances.reduce((sum, i) => sum + (i.cpuSeconds() ?? Number.NaN), 0);
  let cpuBefore = cpu();
  const played: { fromS: number; toS: number; service: Counters; window: Window; cpuS: number }[] = [];
  const incidents: Incident[] = [];
  const rowOf = (i: number, durationS: number, service: Counters): LiveRow => ({
    title: o.phases[i]?.title ?? '',
    client: summarizePhase(load.records, i, durationS, o.deadlineMs, load.unsent[i]),
    service,
  });
  let current = { index: 0, fromS: 0 };
  const redraw = setInterval(() => {
    const phase = o.phases[current.index];
    if (phase === undefined) return;
    const elapsedS = seconds() - current.fromS;
    o.view.draw({
      mode: o.mode,
      phase: {
        index: current.index,
        count: o.phases.length,
        title: phase.title,
        elapsedS,
        durationS: phase.durationMs / 1000,
      },
      rows: [
        ...played.map((p, i) => rowOf(i, p.toS - p.fromS, p.service)),
        rowOf(current.index, Math.max(elapsedS, 0.001), countersDelta(before, watcher.counters())),
      ],
      breakers: watcher.breakers(),
      inFlight: load.pending(),
    });
  }, 500);
  watcher.start();
  try {
    for (const [i, phase] of o.phases.entries()) {
      if (o.signal.aborted) break;
      current = { index: i, fromS: seconds() };
      load.phase = i;
      await startFault(phase.name, o.servers.faults);
      const streams = [
        { perSec: o.rates.chatPerSec * phase.loadFactor, fire: () => load.chat() },
        { perSec: o.rates.readPerSec, fire: () => load.read() },
        { perSec: o.rates.backfillPerSec, fire: () => load.backfill() },
      ];
      await runOpenLoop(streams, phase.durationMs, o.signal);
      await endFault(phase.name, o.servers.faults);
      const after = await watcher.scrape();
      const toS = seconds();
      const service = countersDelta(before, after);
      const cpuAfter = cpu();
      played.push({
        fromS: current.fromS,
        toS,
        service,
        window: watcher.takeWindow(),
        cpuS: cpuAfter - cpuBefore,
      });
      cpuBefore = cpuAfter;
      before = after;
      o.view.phaseEnded(o.mode, rowOf(i, toS - current.fromS, service));
      noteCrashes(instances, incidents, phase.title, toS, o.view);
    }
    // the last requests' outcomes (a client gives up 1 s after the deadline)
    await load.drain(o.deadlineMs + 1500);
  } finally {
    clearInterval(redraw);
    watcher.stop();
    o.view.release();
  }
  const phases: PhaseResult[] = played.map((p, i) => {
    const phase = o.phases[i] as Phase;
    return {
      name: phase.name,
      title: phase.title,
      fromS: p.fromS,
      toS: p.toS,
      client: summarizePhase(load.records, i, p.toS - p.fromS, o.deadlineMs, load.unsent[i]),
      service: p.service,
      breakers: p.window.breakers,
      limiterLimits: p.window.limits,
      instanceCpuS: p.cpuS,
    };
  });
  const lastS = played.at(-1)?.toS ?? seconds();
  return {
    mode: o.mode,
    phases,
    timeline: timeline(load.records, lastS, o.deadlineMs),
    scrapes: watcher.scrapes,
    incidents,
  };
}

/** Adds an incident for each instance that exited on its own since the last look, and says so. */
function noteCrashes(
  instances: Instance[],
  incidents: Incident[],
  phase: string,
  atS: number,
  view: LiveView,
): void {
  for (const instance of instances) {
    const what = instance.crash();
    if (what === undefined || incidents.some((x) => x.instance === instance.name)) continue;
    incidents.push({ instance: instance.name, phase, atS, what, log: instance.logPath });
    view.say(`!! ${instance.name} ${what} (noticed at the end of ${phase}; log ${instance.logPath})`);
  }
}

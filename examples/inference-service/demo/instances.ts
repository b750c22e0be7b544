/**
 * Instances of the service as child processes (`node --import tsx src/main.ts`), their output in a log file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Mode } from './report.js';

/** The example's directory: the instances' working directory. */
export const SERVICE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** A running instance. */
export interface Instance {
  name: string;
  /** `http://127.0.0.1:<port>` */
  base: string;
  logPath: string;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
  /** How it ended when it exited without being stopped (a crash), with the error its log ends on; else `undefined`. */
  crash(): string | undefined;
  /** CPU time it used so far (user + system, seconds); `undefined` once it exited or off Linux. */
  cpuSeconds(): number | undefined;
}

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`: 100 on Linux). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of process `pid` from `/proc/<pid>/stat`, or `undefined`. */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name, which is in parentheses and may contain spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** What every instance of a mode gets. */
export interface InstanceOptions {
  mode: Mode;
  name: string;
  env: Record<string, string>;
  logPath: string;
  /** How long it may take to print its `listening` line. @default 30000 */
  startTimeoutMs?: number | undefined;
}

/** Every instance started and not yet exited, by its stop function. */
const live = new Map<ChildProcess, () => Promise<void>>();

// However the demo ends (an uncaught error included), no instance outlives it. testkit does the same for the
// servers; a SIGKILL of the demo itself leaves the instances to exit when their servers are swept.
process.on('exit', () => {
  for (const child of live.keys()) child.kill('SIGKILL');
});

/** Stops every instance still running (SIGTERM, SIGKILL after 3 s): for an interrupted run. */
export async function stopAllInstances(): Promise<void> {
  await Promise.all([...live.values()].map((stop) => stop()));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The error a crashed process's log ends on: its last `…Error: message` line and the `code:` line after it. */
export function lastError(log: string): string | undefined {
  const lines = log.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (!/^[\w.]*Error\b.*:/.test(line)) continue;
    const code = lines
      .slice(i + 1)
      .find((l) => /^\s+code: /.test(l))
      ?.trim()
      .replace(/,$/, '');
    return code === undefined ? line : `${line} (${code})`;
  }
  return undefined;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts one instance on a free port and resolves once it printed
 * `{"event":"listening","port":…}`; stdout and stderr go to `logPath`.
 * @throws with the log's tail when it exits or stays silent for `startTimeoutMs`.
 */
export async function startInstance(options: InstanceOptions): Promise<Instance> {
  // appended to by two processes (this one copies the child's stdout, the child writes its stderr): O_APPEND
  writeFileSync(options.logPath, '');
  const log = openSync(options.logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: SERVICE_DIR,
    env: { ...process.env, ...options.env, MODE: options.mode, PORT: '0', INSTANCE: options.name },
    stdio: ['ignore', 'pipe', log],
  });
  child.once('exit', () => live.delete(child));
  // 'close' comes after the last of its output
  child.once('close', () => closeSync(log));
  let stopping: Promise<void> | undefined;
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    if (stopping === undefined) exit = signal === null ? `exited with code ${code}` : `killed by ${signal}`;
  });
  const crash = () => {
    if (exit === undefined) return undefined;
    let error: string | undefined;
    try {
      error = lastError(readFileSync(options.logPath, 'utf8'));
    } catch {
      // no log to read: the exit status is all there is
    }
    return error === undefined ? exit : `${exit}: ${error}`;
  };
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited(child);
      clearTimeout(timer);
    })();
    return stopping;
  };
  live.set(child, stop);
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    let listening = false;
    const fail = (why: string) => {
      if (listening) return;
      void stop();
      reject(new Error(`instance ${options.name} ${why}; log ${options.logPath}:\n${tail(options.logPath)}`));
    };
    const timer = setTimeout(
      () => fail('printed no listening line in time'),
      options.startTimeoutMs ?? 30_000,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(`exited (${signal ?? code}) before listening`);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      writeSync(log, chunk);
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const event = parseEvent(line);
        if (!listening && event?.event === 'listening' && typeof event.port === 'number') {
          listening = true;
          clearTimeout(timer);
          resolve(event.port);
        }
      }
    });
  });
  return {
    name: options.name,
    base: `http://127.0.0.1:${port}`,
    logPath: options.logPath,
    stop,
    crash,
    cpuSeconds: () => (exit === undefined ? cpuSecondsOf(child.pid) : undefined),
  };
}

function parseEvent(line: string): { event?: unknown; port?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

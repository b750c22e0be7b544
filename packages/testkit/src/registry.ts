import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Cleanup that cannot be forgotten. Every server process and directory the kit creates is recorded in memory
 * and in a state file named after the owning process. On normal exit, on SIGINT/SIGTERM/SIGHUP and on an
 * uncaught exception, the owner kills what it started and removes its directories; a run that was SIGKILLed
 * leaves its state file behind, and the next start of the kit (in any process) finds it, sees the owner is
 * dead and cleans up after it.
 */

/** One thing to clean up: processes to kill and directories to remove. */
export interface Resource {
  readonly label: string;
  pids: number[];
  dirs: string[];
  /** Kept when the owner exits (servers started by the CLI's `up`, stopped by `down`). */
  persistent?: boolean;
}

interface StateFile {
  ownerPid: number;
  resources: Resource[];
}

/** Where state files live; `BALLAST_TESTKIT_STATE_DIR` overrides (tests of the sweep use their own). */
export function stateDir(): string {
  return process.env.BALLAST_TESTKIT_STATE_DIR ?? join(tmpdir(), 'ballast-testkit-state');
}

const live = new Set<Resource>();
let installed = false;
let swept = false;

function stateFile(pid = process.pid): string {
  return join(stateDir(), `${pid}.json`);
}

function save(): void {
  mkdirSync(stateDir(), { recursive: true });
  const resources = [...live];
  if (resources.length === 0) rmSync(stateFile(), { force: true });
  else writeFileSync(stateFile(), JSON.stringify({ ownerPid: process.pid, resources } satisfies StateFile));
}

/** Records a resource; call {@link release} once it is cleaned up by its owner. */
export function track(resource: Resource): Resource {
  sweepOrphans();
  installHandlers();
  live.add(resource);
  save();
  return resource;
}

/** Updates the state file after a resource's pids or dirs changed (e.g. a restarted server). */
export function touch(): void {
  save();
}

/** Forgets a resource its owner has cleaned up. */
export function release(resource: Resource): void {
  live.delete(resource);
  save();
}

/** True when `pid` is a live process (signal 0), not counting a zombie nobody reaped yet. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; a killed orphan whose parent does not reap it stays as 'Z'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Only kill a recorded pid when it still runs a server binary of ours: pids are reused. */
function isOurServer(pid: number): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /postgres|redis-server|pgbouncer/.test(cmd);
  } catch {
    return false;
  }
}

/** Kills and removes synchronously: usable from an `exit` handler. */
export function destroySync(resource: Resource): void {
  for (const pid of resource.pids) {
    if (alive(pid) && isOurServer(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of resource.dirs) rmSync(dir, { recursive: true, force: true });
}

/** Cleans up after owners that died without doing it themselves. Runs once per process, on first use. */
export function sweepOrphans(force = false): number {
  if (swept && !force) return 0;
  swept = true;
  let cleaned = 0;
  let files: string[];
  try {
    files = readdirSync(stateDir());
  } catch {
    return 0;
  }
  for (const name of files) {
    if (!name.endsWith('.json')) continue;
    const path = join(stateDir(), name);
    let state: StateFile;
    try {
      state = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (state.ownerPid === process.pid || alive(state.ownerPid)) continue;
    const orphans = state.resources.filter((r) => !r.persistent);
    for (const r of orphans) destroySync(r);
    cleaned += orphans.length;
    const kept = state.resources.filter((r) => r.persistent);
    if (kept.length === 0) rmSync(path, { force: true });
    else writeFileSync(path, JSON.stringify({ ...state, resources: kept }));
  }
  return cleaned;
}

/** Every persistent resource recorded by any owner (for the CLI's `down`). */
export function persistentResources(): { path: string; state: StateFile }[] {
  let files: string[];
  try {
    files = readdirSync(stateDir());
  } catch {
    return [];
  }
  const out: { path: string; state: StateFile }[] = [];
  for (const name of files.filter((n) => n.endsWith('.json'))) {
    const path = join(stateDir(), name);
    try {
      const state = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
      if (state.resources.some((r) => r.persistent)) out.push({ path, state });
    } catch {
      // unreadable: sweepOrphans removes it
    }
  }
  return out;
}

function cleanupAll(): void {
  for (const r of live) if (!r.persistent) destroySync(r);
  for (const r of [...live]) if (!r.persistent) live.delete(r);
  try {
    save();
  } catch {
    // exiting anyway
  }
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.once('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupAll();
      // Re-raise so the process ends with the signal's usual status.
      process.kill(process.pid, signal);
    });
  }
}

/** The uid/gid to run PostgreSQL as when this process is root (it refuses to run as root). */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const user = process.env.BALLAST_TESTKIT_PG_USER ?? 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no '${user}' user to run it as. ` +
        `Install the server (apt-get install -y postgresql), which creates that user, or set BALLAST_TESTKIT_PG_USER.`,
    );
  }
}

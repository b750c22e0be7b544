import { spawn } from 'node:child_process';
import { chownSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Running the server programs as another user, and the /proc reading the kit needs to clean up after them. */

/** uid/gid to run the server programs as (PostgreSQL refuses root); undefined runs them as this process. */
export type RunAs = { uid: number; gid: number } | undefined;

/** Environment for the server programs: ours minus PG* variables that would redirect them. */
export function serverEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return { ...env, ...extra };
}

/** Recursively hands `path` to the server's user (a no-op when not running as root). */
export function chownTree(path: string, runAs: RunAs): void {
  if (runAs === undefined) return;
  chownSync(path, runAs.uid, runAs.gid);
  if (!statSync(path).isDirectory()) return;
  for (const name of readdirSync(path)) chownTree(join(path, name), runAs);
}

/** Writes a file the server must be able to read and rewrite. */
export function writeOwned(path: string, text: string, runAs: RunAs): void {
  writeFileSync(path, text, { mode: 0o600 });
  if (runAs !== undefined) chownSync(path, runAs.uid, runAs.gid);
}

/** Runs one of the programs to completion; rejects with its output when it fails. */
export function run(
  program: string,
  args: string[],
  opts: { cwd: string; runAs: RunAs; env?: Record<string, string>; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: opts.cwd,
      env: serverEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.runAs ?? {}),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else {
        const why =
          signal === null ? `exit code ${code}` : `signal ${signal} (timeout ${opts.timeoutMs} ms?)`;
        reject(new Error(`${program.split('/').pop()} failed with ${why}:\n${output.trim()}`));
      }
    });
  });
}

/** Direct children of `pid`, read from /proc (empty where /proc is unavailable). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Sends `sig` to `pid` unless it is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True while `pid` runs (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

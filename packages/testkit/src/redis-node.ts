import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, LOOPBACK } from './ports.js';
import { respRequest } from './redis-resp.js';

/** What one redis-server process needs to start. Internal to the kit. */
export interface NodeSpec {
  bin: string;
  /** `primary` or `replica N`, for messages. */
  role: string;
  dir: string;
  password: string | undefined;
  config: Readonly<Record<string, string | number>>;
  timeoutMs: number;
  detached: boolean;
  /** Start as a replica of this port. */
  primaryPort?: number | undefined;
  /** Bind exactly this port (restart); a free one otherwise. */
  port?: number | undefined;
  /**
   * Run as a Redis Cluster node (`cluster-enabled`, its `nodes.conf` in `dir`). The bus port is set explicitly:
   * the default, port + 10000, is past 65535 for many of the ports the OS hands out.
   */
  cluster?: { nodeTimeoutMs: number; busPort?: number | undefined } | undefined;
  /** Called with the pid right after the spawn, before waiting for readiness (cleanup must know it). */
  onSpawn?: ((pid: number) => void) | undefined;
}

/** One running redis-server. */
export interface RedisNode {
  readonly role: string;
  readonly port: number;
  /** The cluster bus port of a cluster node, else `undefined`. */
  readonly busPort: number | undefined;
  readonly dir: string;
  readonly child: ChildProcess;
  /** Resolves once INFO replication reports `master_link_status:up`. */
  waitLinkUp(timeoutMs: number): Promise<void>;
}

const LOG_TAIL_LINES = 20;

/** True once the process exited (or never started). */
export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

function argsFor(spec: NodeSpec, port: number, busPort: number | undefined): string[] {
  // biome-ignore format: flag/value pairs read best on a line
  const args = [
    '--bind', LOOPBACK, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    '--dir', spec.dir, '--protected-mode', 'no',
    // Diskless sync waits 5 s by default for more replicas to join; here every replica links up at once.
    '--repl-diskless-sync-delay', '0',
  ];
  if (spec.password !== undefined) args.push('--requirepass', spec.password, '--masterauth', spec.password);
  if (spec.primaryPort !== undefined) args.push('--replicaof', LOOPBACK, String(spec.primaryPort));
  if (spec.cluster !== undefined) {
    // biome-ignore format: flag/value pairs read best on a line
    args.push(
      '--cluster-enabled', 'yes', '--cluster-config-file', join(spec.dir, 'nodes.conf'),
      '--cluster-port', String(busPort), '--cluster-node-timeout', String(spec.cluster.nodeTimeoutMs),
      // Nothing to save, and after a failover any node can be a master with replicas: on SIGTERM it would wait
      // up to a second for their next REPLCONF ACK. (Redis >= 7.0, as cluster mode here needs anyway.)
      '--shutdown-on-sigterm', 'now',
    );
  }
  for (const [name, value] of Object.entries(spec.config))
    args.push(`--${name.replace(/^--/, '')}`, String(value));
  return args;
}

function mask(text: string, password: string | undefined): string {
  return password === undefined ? text : text.split(password).join('******');
}

function logSince(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/**
 * Resolves once the process has exited (SIGKILL after `graceMs` when `signal` was gentler).
 * @throws never
 * @example
 * await stopNode(node, 'SIGTERM');
 */
export async function stopNode(
  node: { child: ChildProcess },
  signal: NodeJS.Signals,
  graceMs = 2_000,
): Promise<void> {
  const { child } = node;
  if (exited(child)) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The child is unref'd so a forgotten server never holds the process open; awaiting its exit must, though.
  child.ref();
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  timer.unref();
  await done;
  clearTimeout(timer);
}

/**
 * Polls `check` every 20 ms until it returns true. An error thrown by `check` counts as "not yet" and its message
 * ends up in the timeout error, so a check can throw to say what it is still waiting for.
 * @throws {Error} `it did not <what> within <timeoutMs> ms (last attempt: …)`, or at once when one of `children`
 * exits.
 */
export async function waitUntil(
  what: string,
  children: readonly ChildProcess[],
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const gone = children.find(exited);
    if (gone) {
      const how = gone.signalCode ?? `code ${String(gone.exitCode)}`;
      throw new Error(`it exited (${how}) while waiting to ${what}`);
    }
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? ` (last attempt: ${last.message})` : '';
      throw new Error(`it did not ${what} within ${timeoutMs} ms${detail}`);
    }
    await sleep(20);
  }
}

/**
 * Spawns redis-server and resolves once it answers PING (and, for a replica, has linked up). Retries on another
 * port when the chosen one was taken meanwhile (on the same port, after a pause, when `spec.port` is fixed).
 * @throws {Error} naming the role and port, with the tail of the log, the password masked.
 * @example
 * const node = await startNode({ bin, role: 'primary', dir, password, config: {}, timeoutMs: 15_000, detached: false });
 */
export async function startNode(spec: NodeSpec): Promise<RedisNode> {
  mkdirSync(spec.dir, { recursive: true });
  const logPath = join(spec.dir, 'redis.log');
  const attempts = spec.port === undefined ? 5 : 20;
  for (let attempt = 1; ; attempt++) {
    const port = spec.port ?? (await freePort());
    const busPort = spec.cluster && (spec.cluster.busPort ?? (await freePort()));
    const args = argsFor(spec, port, busPort);
    let logOffset = 0;
    try {
      logOffset = statSync(logPath).size;
    } catch {
      // first start in this directory
    }
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.bin, args, { stdio: ['ignore', fd, fd], detached: spec.detached, cwd: spec.dir });
    } finally {
      closeSync(fd);
    }
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.unref();
    if (child.pid !== undefined) spec.onSpawn?.(child.pid);
    const deadline = Date.now() + spec.timeoutMs;
    const auth = { password: spec.password, timeoutMs: 1_000 };
    const node: RedisNode = {
      role: spec.role,
      port,
      busPort,
      dir: spec.dir,
      child,
      waitLinkUp: (timeoutMs) =>
        waitUntil('link up with its primary', [child], timeoutMs, async () => {
          const info = await respRequest(port, [['INFO', 'replication']], auth);
          return typeof info === 'string' && /^master_link_status:up\r?$/m.test(info);
        }),
    };
    try {
      await waitUntil('answer PING', [child], spec.timeoutMs, async () => {
        if (spawnError) throw spawnError;
        return (await respRequest(port, [['PING']], auth)) === 'PONG';
      });
      if (spec.primaryPort !== undefined) await node.waitLinkUp(Math.max(0, deadline - Date.now()));
      return node;
    } catch (error) {
      await stopNode(node, 'SIGKILL');
      await sleep(0); // a spawn error (ENOENT, EACCES) is emitted on a later tick
      const log = logSince(logPath, logOffset);
      if (/Address already in use/i.test(log) && attempt < attempts) {
        if (spec.port !== undefined) await sleep(100);
        continue;
      }
      const reason = spawnError?.message ?? (error as Error).message;
      const tail = log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
      throw new Error(
        mask(
          `redis-server (${spec.role}) did not start on ${LOOPBACK}:${port}: ${reason}\n` +
            `command: ${spec.bin} ${args.map((a) => (a === '' ? '""' : a)).join(' ')}\n` +
            `last lines of its log:\n${tail === '' ? '(empty)' : tail}`,
          spec.password,
        ),
      );
    }
  }
}

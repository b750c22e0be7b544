import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { PostgresBinaries } from './binaries.js';
import { freePort } from './ports.js';
import { childrenOf, isRunning, type RunAs, serverEnv, signal } from './postgres-process.js';

/** Shutdown modes of the postmaster and the signal that asks for each. */
export type ShutdownMode = 'smart' | 'fast' | 'immediate';
const SHUTDOWN_SIGNAL = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' } as const;

/** Superuser created by initdb; reached over the node's Unix socket with trust auth, for control queries. */
export const SUPERUSER = 'postgres';

/** Heading of the server log excerpt in error messages. */
export const LOG_TAIL_HEADING = '--- server log tail ---';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One PostgreSQL server: its directories, its postmaster process, its log. */
export class PgServer {
  /** Postgres's own data directory (PGDATA). */
  readonly dataDir: string;
  /** Server log (the postmaster's stderr). */
  readonly logFile: string;
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  /**
   * @param name for messages: `primary`, `replica 0`.
   * @param dir the node's directory (owned by the server's user): holds `data/`, the log and the socket.
   */
  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly bins: PostgresBinaries,
    private readonly runAs: RunAs,
    private readonly redact: (text: string) => string,
  ) {
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'postgres.log');
  }

  /** Called right after the postmaster is spawned (the cluster records its pid for cleanup). */
  onSpawn: (() => void) | undefined = undefined;

  /** The postmaster's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** The last `lines` lines of the server log, with credentials masked. */
  logTail(lines = 40): string {
    try {
      const all = readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
      // Readiness probes repeat the same FATAL/DETAIL pair every 50 ms: keep one of each so the tail shows
      // what happened before them.
      const key = (line: string | undefined) => line?.replace(/^\S+ \S+ \S+ \[\d+\] /, '');
      let repeated = 0;
      const kept = all.filter((line, i) => {
        const dup = key(line) === key(all[i - 2]) || key(line) === key(all[i - 1]);
        if (dup) repeated++;
        return !dup;
      });
      const note = repeated > 0 ? `\n(${repeated} repeated lines left out)` : '';
      return this.redact(kept.slice(-lines).join('\n') + note);
    } catch {
      return '(no log)';
    }
  }

  private failure(reason: string): Error {
    return new Error(
      this.redact(
        `PostgreSQL ${this.name} (port ${this.port}) ${reason}\n${LOG_TAIL_HEADING}\n${this.logTail()}`,
      ),
    );
  }

  /** Starts the postmaster on `this.port` and resolves once it answers queries. */
  async start(timeoutMs: number): Promise<void> {
    if (this.pid !== undefined) return;
    const log = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      // Run postgres directly (not through pg_ctl) so the postmaster's pid is ours to watch and signal.
      child = spawn(this.bins.postgres, ['-D', this.dataDir], {
        cwd: this.dir,
        env: serverEnv(),
        stdio: ['ignore', log, log],
        detached: true,
        ...(this.runAs ?? {}),
      });
    } finally {
      closeSync(log);
    }
    // A test process that forgets stop() must still be able to exit; the registry kills the server then.
    child.unref();
    this.child = child;
    // Record the pid now, not once the server is ready: an interrupted start must not orphan a postmaster.
    this.onSpawn?.();
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    await this.waitReady(timeoutMs);
  }

  /** Picks a free port, writes the config for it and starts; picks another port when one was taken meanwhile. */
  async startOnFreePort(writeConfig: (port: number) => void, timeoutMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      writeConfig(this.port);
      const logStart = this.logSize();
      try {
        await this.start(timeoutMs);
        return;
      } catch (error) {
        const log = this.logSince(logStart);
        if (attempt >= 5 || !/Address already in use/.test(log)) throw error;
      }
    }
  }

  private logSize(): number {
    try {
      return statSync(this.logFile).size;
    } catch {
      return 0;
    }
  }

  private logSince(offset: number): string {
    try {
      return readFileSync(this.logFile).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      if (this.pid === undefined) {
        await this.exited;
        throw this.failure(
          `exited during startup (code ${this.child?.exitCode}, signal ${this.child?.signalCode})`,
        );
      }
      try {
        await this.admin('SELECT 1');
        return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > until) {
        await this.stop('immediate', 5_000);
        throw this.failure(`did not accept queries within ${timeoutMs} ms (last error: ${lastError})`);
      }
      await sleep(50);
    }
  }

  /** Runs `sql` as the superuser over the node's Unix socket and returns the rows. */
  admin<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    return this.withAdmin(async (client) => (await client.query<R>(sql, values)).rows);
  }

  /** Runs `fn` with a superuser connection over the node's Unix socket, closed afterwards. */
  async withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({
      host: this.dir,
      port: this.port,
      user: SUPERUSER,
      database: 'postgres',
      application_name: 'ballast-testkit',
      connectionTimeoutMillis: 5_000,
    });
    // An error event after connect (server killed) must not crash the process.
    client.on('error', () => {});
    try {
      await client.connect();
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  /**
   * Asks the postmaster to shut down in `mode` and waits for it to exit; after `timeoutMs` it and its children
   * are killed.
   */
  async stop(mode: ShutdownMode, timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    signal(pid, SHUTDOWN_SIGNAL[mode]);
    const timedOut = Symbol('timeout');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.exited,
      Number.isFinite(timeoutMs)
        ? new Promise<symbol>((resolve) => {
            timer = setTimeout(() => resolve(timedOut), timeoutMs);
          })
        : new Promise<never>(() => {}),
    ]);
    clearTimeout(timer);
    if (outcome === timedOut) await this.kill();
  }

  /**
   * SIGKILLs the postmaster and every process it forked, like a host crash: no shutdown checkpoint, and no
   * orphaned backend keeps the shared memory attached, so the next start runs crash recovery at once.
   */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    // Stopped, the postmaster cannot fork new children or react to its children dying.
    signal(pid, 'SIGSTOP');
    const children = childrenOf(pid);
    signal(pid, 'SIGKILL');
    for (const child of children) signal(child, 'SIGKILL');
    await this.exited;
    // The children are reparented; wait until they are gone so the data directory is free.
    const until = Date.now() + 10_000;
    while (children.some((child) => isRunning(child)) && Date.now() < until) await sleep(20);
  }
}

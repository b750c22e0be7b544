import { randomBytes } from 'node:crypto';
import { invalidArgument } from './fault-proxy-faults.js';
import { findBinary } from './find-binary.js';
import { LOOPBACK } from './ports.js';
import { createRedisGroup } from './redis-group.js';
import { type RespValue, respRequest } from './redis-resp.js';

export { RespError, type RespValue } from './redis-resp.js';

/** Options of {@link startRedis}. */
export interface RedisOptions {
  /**
   * Replicas to start, each with `--replicaof` the primary; startRedis resolves once every one reports
   * `master_link_status:up`.
   * @default 0
   */
  replicas?: number | undefined;
  /**
   * `requirepass` (and `masterauth`) of every server. `false` runs them without auth.
   * @default a random 32-hex-digit password, so URLs carry credentials like production ones do
   */
  password?: string | false | undefined;
  /**
   * Extra redis-server settings, passed as `--name value` after the kit's own (so they win), e.g.
   * `{ maxmemory: '64mb', 'maxmemory-policy': 'allkeys-lru' }`. Each value is passed as one argument.
   * @default {}
   */
  config?: Readonly<Record<string, string | number>> | undefined;
  /**
   * How long each server may take to answer PING (and each replica to link up) before startRedis gives up.
   * @default 15000
   */
  startTimeoutMs?: number | undefined;
  /**
   * Keep the servers when this process exits (the CLI's `up`); the CLI's `down` or the next sweep of a dead
   * owner's state file does not remove them, `stop()` does.
   * @default false
   */
  persistent?: boolean | undefined;
}

/** Defaults of {@link RedisOptions} (the password default is generated per start). */
export const DEFAULT_REDIS_OPTIONS = Object.freeze({
  replicas: 0,
  config: Object.freeze({}) as Readonly<Record<string, string | number>>,
  startTimeoutMs: 15_000,
  persistent: false,
});

/** Where a server listens and the URL (credentials included) to reach it. */
export interface RedisEndpoint {
  /** `redis://:password@127.0.0.1:port`, or `redis://127.0.0.1:port` without a password. */
  readonly url: string;
  readonly port: number;
}

/** A running Redis primary (and replicas) started by {@link startRedis}. */
export interface RedisServer extends RedisEndpoint {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The `requirepass` of every server, `undefined` when started with `password: false`. */
  readonly password: string | undefined;
  /** One entry a replica, in start order. */
  readonly replicas: readonly RedisEndpoint[];
  /** Stops every server (SIGTERM, SIGKILL after 2 s) and removes their directories. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the primary: its port refuses connections until {@link RedisServer.restart}. Replicas keep running. */
  kill(): Promise<void>;
  /**
   * Restarts the primary on the same port with empty data (killing it first when it runs) and waits for it and
   * for every replica to link up again.
   * @throws {Error} when it does not come back within `startTimeoutMs` (log tail in the message).
   */
  restart(): Promise<void>;
  /**
   * Sends one command on a fresh authenticated connection and resolves with the decoded reply.
   * @param options.port a replica's port to send it there instead of to the primary
   * @throws {RespError} on an error reply; `Error` with `code` (e.g. `ECONNREFUSED`)
   * on a connection error.
   */
  command(args: readonly string[], options?: { port?: number; timeoutMs?: number }): Promise<RespValue>;
}

const ENV_BINARY = 'BALLAST_TESTKIT_REDIS_SERVER';
const INSTALL_HINT = `Install it: apt-get install -y redis-server, or set ${ENV_BINARY}.`;

/**
 * The path of the `redis-server` binary: `$BALLAST_TESTKIT_REDIS_SERVER` when set, else the first executable
 * `redis-server` on `PATH`, in `/usr/bin` or in `/usr/local/bin`.
 * @param env the environment to read `PATH` and the override from
 * @throws {Error} `redis-server was not found in <places>. Install it: apt-get install -y redis-server, or set
 * BALLAST_TESTKIT_REDIS_SERVER.` — also when the override names a file that is not executable.
 * @example
 * const bin = findRedisServer(); // '/usr/bin/redis-server'
 */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string {
  return findBinary('redis-server', ENV_BINARY, INSTALL_HINT, ['/usr/bin', '/usr/local/bin'], env);
}

/**
 * A `BALLAST_INVALID_ARGUMENT` error: `<fn>: options.<option> must be <expected>, received <value>`.
 * Shared by the Redis starters through {@link wholeNumber} and {@link resolveServerOptions}.
 */
function invalidOption(fn: string, option: string, expected: string, value: unknown): Error {
  return invalidArgument(`${fn}: options.${option}`, expected, value);
}

/**
 * `value` when it is a whole number from `min` to `max`; `fn` and `option` name it in the error.
 * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` otherwise.
 */
export function wholeNumber(fn: string, option: string, value: number, min: number, max = Infinity): number {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  const expected = max === Infinity ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
  throw invalidOption(fn, option, expected, value);
}

/**
 * Validates the options every Redis starter shares and applies their defaults; `fn` names the starter in errors.
 * Internal to the kit.
 * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` naming the option and the value received.
 */
export function resolveServerOptions(fn: string, options: Omit<RedisOptions, 'replicas'>) {
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_REDIS_OPTIONS.startTimeoutMs;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw invalidOption(fn, 'startTimeoutMs', 'a number of milliseconds > 0', startTimeoutMs);
  }
  const raw = options.password;
  if (raw !== undefined && raw !== false && (typeof raw !== 'string' || raw === '' || /\s/.test(raw))) {
    throw invalidOption(fn, 'password', 'false or a non-empty string without whitespace', raw);
  }
  const password = raw === false ? undefined : (raw ?? randomBytes(16).toString('hex'));
  return {
    startTimeoutMs,
    password,
    config: options.config ?? DEFAULT_REDIS_OPTIONS.config,
    persistent: options.persistent ?? DEFAULT_REDIS_OPTIONS.persistent,
  };
}

/** `redis://[:password@]127.0.0.1:port`. Internal to the kit. */
export function urlFor(port: number, password: string | undefined): string {
  return password === undefined
    ? `redis://${LOOPBACK}:${port}`
    : `redis://:${encodeURIComponent(password)}@${LOOPBACK}:${port}`;
}

/**
 * Starts a Redis primary, and `replicas` replicas of it, as child processes on free loopback ports, each with its
 * own temporary directory, no persistence (`save ""`, `appendonly no`) and its log in `<dir>/redis.log`. The
 * processes and directories are recorded in the kit's cleanup registry, so they go away with this process even
 * when `stop()` is never called.
 * @throws {Error} when redis-server is missing (see {@link findRedisServer}), with code
 * `BALLAST_INVALID_ARGUMENT` for a bad option, or when a server does not answer within `startTimeoutMs`; the
 * message then carries the tail of its log with the password masked, and everything started is cleaned up.
 * @example
 * const redis = await startRedis({ replicas: 1 });
 * await redis.command(['SET', 'k', 'v']);
 * const client = new Redis(redis.url); // ioredis
 * await redis.stop();
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const replicas = wholeNumber(
    'startRedis',
    'replicas',
    options.replicas ?? DEFAULT_REDIS_OPTIONS.replicas,
    0,
  );
  const opts = resolveServerOptions('startRedis', options);
  const group = createRedisGroup('redis', {
    ...opts,
    bin: findRedisServer(),
    timeoutMs: opts.startTimeoutMs,
  });
  try {
    let primary = await group.start({ role: 'primary', name: 'primary' });
    const replicaNodes = await group.startAll(
      Array.from({ length: replicas }, (_, i) => ({
        role: `replica ${i}`,
        name: `replica-${i}`,
        primaryPort: primary.port,
      })),
    );
    const kill = () => group.kill(primary);
    return {
      host: LOOPBACK,
      port: primary.port,
      url: urlFor(primary.port, opts.password),
      password: opts.password,
      replicas: replicaNodes.map((r) => ({ port: r.port, url: urlFor(r.port, opts.password) })),
      kill,
      async restart() {
        if (group.stopped) throw new Error('restart() after stop(): this Redis is gone');
        primary = await group.restart(primary);
        await Promise.all(replicaNodes.map((r) => r.waitLinkUp(opts.startTimeoutMs)));
      },
      // Replicas first, so the primary's shutdown has no replica to wait for.
      stop: () => group.stop(replicaNodes),
      command(args, commandOptions = {}) {
        return respRequest(commandOptions.port ?? primary.port, [args], {
          password: opts.password,
          timeoutMs: commandOptions.timeoutMs,
        });
      },
    };
  } catch (error) {
    await group.destroy();
    throw error;
  }
}

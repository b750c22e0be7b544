import { hostname } from 'node:os';

/** Which data layer serves the routes: Ballast's, or the bare drivers most services use today. */
export type Mode = 'ballast' | 'naive';

/** The service's settings, read from the environment by {@link loadConfig}. */
export interface Config {
  /** @default 'ballast' */
  mode: Mode;
  /** `0` listens on any free port. @default 8080 */
  port: number;
  /** Name in responses and metrics. @default `<hostname>-<pid>` */
  instance: string;
  pgPrimaryUrl: string;
  /** @default [] */
  pgReplicaUrls: string[];
  redisUrl: string;
  /** Each request's budget; Ballast passes what is left of it to every call. @default 1000 */
  requestDeadlineMs: number;
  /** Connections per PostgreSQL host, in both modes. @default 10 */
  pgPoolMax: number;
  /** @default 40 */
  modelLatencyMs: number;
  /** @default 20 */
  modelJitterMs: number;
  /** Share of model calls that fail, in [0, 1]. @default 0 */
  modelFailureRate: number;
  /** Updates the backfill runs at once. @default 8 */
  backfillConcurrency: number;
}

/** An environment variable was missing or invalid. The message names it and never carries a password. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the configuration from `env`: `MODE`, `PORT`, `INSTANCE`, `PG_PRIMARY_URL`, `PG_REPLICA_URLS` (comma-
 * separated), `REDIS_URL`, `REQUEST_DEADLINE_MS`, `PG_POOL_MAX`, `MODEL_LATENCY_MS`, `MODEL_JITTER_MS`,
 * `MODEL_FAILURE_RATE`, `BACKFILL_CONCURRENCY` (defaults on {@link Config}).
 * @throws ConfigError naming the first missing or invalid variable and the value received, URLs masked.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  return {
    mode: oneOf(env, 'MODE', ['ballast', 'naive'], 'ballast'),
    port: integer(env, 'PORT', 8080, 0, 65_535),
    instance: env.INSTANCE?.trim() || `${hostname()}-${process.pid}`,
    pgPrimaryUrl: url('PG_PRIMARY_URL', env.PG_PRIMARY_URL, POSTGRES_PROTOCOLS),
    pgReplicaUrls: (env.PG_REPLICA_URLS ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== '')
      .map((u) => url('PG_REPLICA_URLS', u, POSTGRES_PROTOCOLS)),
    redisUrl: url('REDIS_URL', env.REDIS_URL, REDIS_PROTOCOLS),
    requestDeadlineMs: integer(env, 'REQUEST_DEADLINE_MS', 1000, 1, 600_000),
    pgPoolMax: integer(env, 'PG_POOL_MAX', 10, 1, 1000),
    modelLatencyMs: number(env, 'MODEL_LATENCY_MS', 40, 0, 600_000),
    modelJitterMs: number(env, 'MODEL_JITTER_MS', 20, 0, 600_000),
    modelFailureRate: number(env, 'MODEL_FAILURE_RATE', 0, 0, 1),
    backfillConcurrency: integer(env, 'BACKFILL_CONCURRENCY', 8, 1, 1000),
  };
}

/**
 * `text` with the password of every `scheme://user:password@` and every `password=` / `sslpassword=` query
 * parameter in it replaced by `***`: for anything that may print a connection URL, including one too malformed
 * to parse.
 */
export function maskUrl(text: string): string {
  // Greedy up to the last '@': a password containing '@' is masked whole rather than half-printed.
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)\S*@/gi, '$1***@')
    .replace(/([?&](?:ssl)?password=)[^&\s]*/gi, '$1***');
}

const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:'];
const REDIS_PROTOCOLS = ['redis:', 'rediss:'];

function invalid(name: string, expected: string, received: string): ConfigError {
  return new ConfigError(
    `Invalid ${name}: expected ${expected}, received ${JSON.stringify(maskUrl(received))}`,
  );
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw invalid(name, `one of ${allowed.join(', ')}`, raw);
}

function number(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  return parseNumber(env, name, fallback, min, max, false);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  return parseNumber(env, name, fallback, min, max, true);
}

function parseNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  integral: boolean,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integral && !Number.isInteger(value)))
    throw invalid(name, `${integral ? 'an integer' : 'a number'} in [${min}, ${max}]`, raw);
  return value;
}

function url(name: string, raw: string | undefined, protocols: string[]): string {
  if (raw === undefined || raw.trim() === '') throw new ConfigError(`Missing ${name}: it is required`);
  const expected = `a ${protocols.map((p) => `${p}//`).join(' or ')} URL`;
  // The value is never echoed: a URL that does not parse may hide its password anywhere.
  const refused = new ConfigError(`Invalid ${name}: expected ${expected} with a host`);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw refused;
  }
  // `postgres:///db?host=/var/run/postgresql`: a Unix socket, which pg accepts.
  const host = parsed.hostname !== '' || parsed.searchParams.has('host');
  if (!protocols.includes(parsed.protocol) || !host) throw refused;
  return raw;
}

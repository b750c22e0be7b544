import { randomUUID } from 'node:crypto';
import type { TestkitProvided } from '@ballast/testkit';
import pg from 'pg';
import { inject } from 'vitest';
import type { Config } from './config.js';

/** The shared servers of the run (vitest global setup). */
export const servers: TestkitProvided = inject('ballast');

/** A configuration on the shared servers: port 0, a fast model, a generous budget for a loaded CI machine. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    mode: 'ballast',
    port: 0,
    instance: 'test',
    pgPrimaryUrl: servers.postgres.primaryUrl,
    pgReplicaUrls: servers.postgres.replicaUrls,
    redisUrl: servers.redis.url,
    requestDeadlineMs: 2_000,
    pgPoolMax: 5,
    modelLatencyMs: 5,
    modelJitterMs: 0,
    modelFailureRate: 0,
    backfillConcurrency: 4,
    ...overrides,
  };
}

/** A conversation id no other test uses. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** An HTTP answer: JSON bodies parsed, others as text. */
export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read fields of the JSON they asked for
  body: any;
}

/** Sends a request to a running service. `body` is sent as JSON unless it is a string. */
export async function request(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(new URL(path, baseUrl), {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('application/json') === true;
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
}

/** One sample of the text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

/**
 * Parses Prometheus text format 0.0.4 strictly: every line is a `# HELP`, a `# TYPE` or a sample of a declared
 * family. @throws naming the first line that is not.
 */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) throw new Error(`not a sample: ${line}`);
    const name = match[1] as string;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(name) && types.get(family) !== 'histogram') throw new Error(`no TYPE before ${line}`);
    const labels: Record<string, string> = {};
    const pairs = match[2] ?? '';
    LABEL_PAIR.lastIndex = 0;
    let consumed = 0;
    for (let pair = LABEL_PAIR.exec(pairs); pair !== null; pair = LABEL_PAIR.exec(pairs)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
      consumed = LABEL_PAIR.lastIndex;
    }
    if (consumed !== pairs.length) throw new Error(`bad labels: ${line}`);
    samples.push({ name, labels, value: Number(match[3]) });
  }
  return { types, samples };
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

/** Runs `fn` with a client on `url`, closed after. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Polls `fn` until it returns a value other than `undefined`, every 50 ms, for at most `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

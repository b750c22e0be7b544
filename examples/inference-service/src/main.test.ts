import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { request, servers, uniqueId } from './service.test-helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

/** Every process a test started: killed after it, so a failed assertion leaves none running. */
const started: ChildProcess[] = [];

/** `tsx src/main.ts` with `env` (on top of PATH only), as `pnpm start` runs it. */
function startMain(env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  const child = spawn(tsx, ['src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { child, stderr: () => stderr };
}

describe('the process (src/main.ts)', () => {
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('exits 2 with one line naming the invalid variable, password masked', async () => {
    const { child, stderr } = startMain({
      PG_PRIMARY_URL: 'postgres://app:hunter2@db:5432/app',
      PG_REPLICA_URLS: 'postgres://app:hunter2@replica:99999/app',
      REDIS_URL: 'redis://cache:6379',
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr()).toBe(
      'Invalid PG_REPLICA_URLS: expected a postgres:// or postgresql:// URL with a host\n',
    );
  });

  it('prints the listening line, finishes a request in flight on SIGTERM and exits 0', async () => {
    const { child, stderr } = startMain({
      MODE: 'naive',
      PORT: '0',
      INSTANCE: 'proc',
      PG_PRIMARY_URL: servers.postgres.primaryUrl,
      PG_REPLICA_URLS: servers.postgres.replicaUrls.join(','),
      REDIS_URL: servers.redis.url,
      MODEL_LATENCY_MS: '300',
      MODEL_JITTER_MS: '0',
    });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const [first] = (await once(lines, 'line')) as [string];
    const listening = JSON.parse(first);
    expect(listening).toEqual({
      event: 'listening',
      port: expect.any(Number),
      instance: 'proc',
      mode: 'naive',
    });

    const url = `http://127.0.0.1:${listening.port}`;
    // A new prompt: the model takes 300 ms, so the request is in flight when SIGTERM arrives.
    const inFlight = request(url, 'POST', '/v1/chat', {
      conversationId: uniqueId('proc'),
      message: uniqueId('m'),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.instance).toBe('proc');
    const [code] = await exited;
    expect(code, stderr()).toBe(0);
  });
});

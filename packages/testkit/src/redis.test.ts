import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRedisServer, type RedisServer, startRedis } from './redis.js';
import { RespError, respRequest } from './redis-resp.js';
import { alive, stateDir } from './registry.js';

async function pidOf(redis: RedisServer, port = redis.port): Promise<number> {
  const info = await redis.command(['INFO', 'server'], { port });
  return Number(/process_id:(\d+)/.exec(String(info))?.[1]);
}

describe('startRedis with a replica', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ replicas: 1 });
  });
  afterAll(() => redis.stop());

  it('answers PING with the password in its URL, and refuses commands without it', async () => {
    const url = new URL(redis.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBe(redis.port);
    expect(decodeURIComponent(url.password)).toBe(redis.password);
    expect(redis.password).toMatch(/^[0-9a-f]{32}$/);
    expect(await respRequest(redis.port, [['PING']], { password: url.password })).toBe('PONG');
    await expect(respRequest(redis.port, [['PING']])).rejects.toThrow(RespError);
    await expect(respRequest(redis.port, [['PING']])).rejects.toThrow(/NOAUTH/);
  });

  it('replicates a write on the primary to the replica', async () => {
    const replica = redis.replicas[0];
    expect(replica?.url).toContain(`:${redis.password}@127.0.0.1:${replica?.port}`);
    await redis.command(['SET', 'replicated', 'yes']);
    await expect
      .poll(() => redis.command(['GET', 'replicated'], { port: replica?.port ?? 0 }), {
        timeout: 5_000,
        interval: 20,
      })
      .toBe('yes');
  });

  it('kill() makes connections fail with ECONNREFUSED; restart() brings it back empty on the same port', async () => {
    await redis.command(['SET', 'before-kill', '1']);
    const port = redis.port;
    await redis.kill();
    await expect(redis.command(['PING'])).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await redis.restart();
    expect(redis.port).toBe(port);
    expect(await redis.command(['PING'])).toBe('PONG');
    expect(await redis.command(['GET', 'before-kill'])).toBeNull();
    // The replica linked up again (restart waits for it) and follows the new primary.
    await redis.command(['SET', 'after-restart', '2']);
    const replicaPort = redis.replicas[0]?.port ?? 0;
    await expect
      .poll(() => redis.command(['GET', 'after-restart'], { port: replicaPort }), { timeout: 5_000 })
      .toBe('2');
  });
});

describe('startRedis lifecycle', () => {
  it('stop() leaves no process, no directory and no registry entry behind', async () => {
    const redis = await startRedis({ replicas: 1 });
    const pids = [await pidOf(redis), await pidOf(redis, redis.replicas[0]?.port)];
    const dirs = await Promise.all(
      [redis.port, redis.replicas[0]?.port].map(async (port) => {
        const reply = await redis.command(['CONFIG', 'GET', 'dir'], { port: port ?? 0 });
        return Array.isArray(reply) ? String(reply[1]) : '';
      }),
    );
    const stateFile = join(stateDir(), `${process.pid}.json`);
    expect(readFileSync(stateFile, 'utf8')).toContain(String(pids[0]));
    for (const dir of dirs) expect(existsSync(dir)).toBe(true);

    await redis.stop();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    const state = existsSync(stateFile) ? readFileSync(stateFile, 'utf8') : '';
    expect(state).not.toContain(String(pids[0]));
    await redis.stop(); // idempotent
  });

  it('runs without auth when password is false', async () => {
    const redis = await startRedis({ password: false });
    expect(redis.password).toBeUndefined();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await respRequest(redis.port, [['PING']])).toBe('PONG');
    await redis.stop();
  });

  it('passes config through to redis-server', async () => {
    const redis = await startRedis({ config: { maxmemory: '16mb', 'maxmemory-policy': 'allkeys-lru' } });
    expect(await redis.command(['CONFIG', 'GET', 'maxmemory-policy'])).toEqual([
      'maxmemory-policy',
      'allkeys-lru',
    ]);
    await redis.stop();
  });
});

describe('startRedis failures', () => {
  const leftovers = () => readdirSync(tmpdir()).filter((n) => n.startsWith('ballast-redis-'));

  it('reports a startup failure with the log tail, the password masked, and cleans up', async () => {
    const before = new Set(leftovers());
    const password = 'hunter2-do-not-print';
    const error = await startRedis({ password, config: { 'no-such-directive': password } }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/redis-server \(primary\) did not start on 127\.0\.0\.1:\d+/);
    expect(message).toContain('Bad directive'); // from the log tail
    expect(message).toContain('--requirepass ******');
    expect(message).not.toContain(password);
    expect(leftovers().filter((n) => !before.has(n))).toEqual([]);
  });

  it('names what to install when redis-server is missing', async () => {
    const env = { BALLAST_TESTKIT_REDIS_SERVER: '/nonexistent/redis-server' };
    expect(() => findRedisServer(env)).toThrow(
      'redis-server was not found in /nonexistent/redis-server (BALLAST_TESTKIT_REDIS_SERVER). ' +
        'Install it: apt-get install -y redis-server, or set BALLAST_TESTKIT_REDIS_SERVER.',
    );
    const saved = process.env.BALLAST_TESTKIT_REDIS_SERVER;
    process.env.BALLAST_TESTKIT_REDIS_SERVER = env.BALLAST_TESTKIT_REDIS_SERVER;
    try {
      await expect(startRedis()).rejects.toThrow(/Install it: apt-get install -y redis-server/);
    } finally {
      if (saved === undefined) delete process.env.BALLAST_TESTKIT_REDIS_SERVER;
      else process.env.BALLAST_TESTKIT_REDIS_SERVER = saved;
    }
  });

  it('looks in /usr/bin and /usr/local/bin even with an empty PATH', () => {
    expect(findRedisServer({ PATH: '' })).toMatch(/^\/usr\/(local\/)?bin\/redis-server$/);
  });

  it('rejects invalid options with BALLAST_INVALID_ARGUMENT naming the option', async () => {
    await expect(startRedis({ replicas: -1 })).rejects.toMatchObject({
      code: 'BALLAST_INVALID_ARGUMENT',
      message: expect.stringContaining('options.replicas'),
    });
    await expect(startRedis({ password: '' })).rejects.toThrow(/options\.password/);
  });
});

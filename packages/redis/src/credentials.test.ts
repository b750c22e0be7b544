import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { isBallastError } from '@ballast/core';
import { type RedisServer, startRedis } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from './redis.js';

const PASSWORD = `pw-${process.pid}-Zq7x`;
const WRONG = `wrong-${process.pid}-Kp3v`;

/** Everything the client lets out — errors with their causes, events, diagnostics, stats — as text. */
function text(value: unknown): string {
  return inspect(value, { depth: 20, showHidden: true }) + JSON.stringify(value ?? null);
}

/** Credentials never appear in errors, events, diagnostics_channel messages or stats. */
describe('credentials', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis({ password: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a wrong password: the connection errors, events and call errors carry neither password', async () => {
    const url = server.url.replace(PASSWORD, WRONG);
    const published: unknown[] = [];
    const onMessage = (message: unknown) => published.push(message);
    subscribe('ballast:redis:connection-error', onMessage);
    const redis = createRedis({ url, name: 'wrong-password', retry: false });
    const events: unknown[] = [];
    redis.on('connection-error', (e) => events.push(e));
    try {
      await expect.poll(() => events.length, { timeout: 5_000 }).toBeGreaterThan(0);
      const error = await redis.get('k').catch((e: unknown) => e);
      expect(isBallastError(error, 'BALLAST_NO_HEALTHY_HOST')).toBe(true);
      // The cause says why (authentication failed), without the password ioredis keeps in `command.args`.
      expect(text((error as Error).cause)).toMatch(/WRONGPASS|NOAUTH/);
      for (const leaked of [error, events, published, redis.stats()]) {
        expect(text(leaked)).not.toContain(WRONG);
        expect(text(leaked)).not.toContain(PASSWORD);
      }
    } finally {
      unsubscribe('ballast:redis:connection-error', onMessage);
      await redis.close();
    }
  });

  it('invalid options with a password in the URL name the option, not the password', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => createRedis({ url: `http://:${PASSWORD}@127.0.0.1:1` }), /option url/],
      [() => createRedis({ url: server.url, timeoutMs: -1 }), /option timeoutMs.*received -1/],
      [() => createRedis({ url: server.url, replicas: [`tcp://:${PASSWORD}@h:1`] }), /option replicas\[0\]/],
      // Found by review: short URL strings under a misspelled or wrong option were printed whole.
      [() => createRedis({ uri: `redis://:${PASSWORD}@10.0.0.5:6379` } as never), /option uri/],
      [
        () => createRedis({ url: server.url, replicas: `redis://:${PASSWORD}@h:1` as never }),
        /option replicas/,
      ],
      [() => createRedis({ options: `redis://:${PASSWORD}@h:1` as never }), /option options/],
      [
        () => createRedis({ options: { password: PASSWORD, enableOfflineQueue: true } }),
        /enableOfflineQueue/,
      ],
    ];
    for (const [create, message] of cases) {
      let error: unknown;
      try {
        create();
      } catch (e) {
        error = e;
      }
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
      expect(text(error)).not.toContain(PASSWORD);
    }
  });

  it('a server that goes away: errors and events while it is down carry no password', async () => {
    const other = await startRedis({ password: PASSWORD });
    const redis = createRedis({ url: other.url, name: 'going-away', reconnectMaxDelayMs: 100 });
    const events: unknown[] = [];
    for (const event of ['connection-error', 'reconnecting', 'ready', 'breaker-state-change'] as const)
      redis.on(event, (e) => events.push(e));
    try {
      expect(await redis.set('k', 'v')).toBe(true);
      await other.kill();
      const errors: unknown[] = [];
      for (let i = 0; i < 20; i++) errors.push(await redis.get('k').catch((e: unknown) => e));
      expect(errors.every((e) => isBallastError(e))).toBe(true);
      expect(events.length).toBeGreaterThan(0);
      expect(text([errors, events, redis.stats()])).not.toContain(PASSWORD);
    } finally {
      await redis.close();
      await other.stop();
    }
  });
});

import { FaultProxy } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchema } from './schema.js';
import { type Service, startService } from './server.js';
import { request, servers, testConfig, uniqueId } from './service.test-helpers.js';

describe('chat while Redis is silent', () => {
  let proxy: FaultProxy;
  let ballast: Service;
  let naive: Service;
  beforeAll(async () => {
    await ensureSchema(servers.postgres.primaryUrl);
    proxy = new FaultProxy({ port: Number(new URL(servers.redis.url).port) });
    await proxy.listen();
    const redisUrl = new URL(servers.redis.url);
    redisUrl.port = String(proxy.port);
    const config = { redisUrl: redisUrl.toString(), requestDeadlineMs: 1_000 };
    [ballast, naive] = await Promise.all([
      startService(testConfig({ ...config, instance: 'ballast' })),
      startService(testConfig({ ...config, mode: 'naive', instance: 'naive' })),
    ]);
    // Both clients connected before the fault.
    for (const service of [ballast, naive])
      expect(
        (await request(service.url, 'POST', '/v1/chat', { conversationId: uniqueId('warm'), message: 'hi' }))
          .status,
      ).toBe(200);
    await proxy.set({ blackhole: true });
  });
  afterAll(async () => {
    await proxy.clear();
    await Promise.all([ballast.close(), naive.close()]);
    await proxy.close();
  });

  const chat = (service: Service, message: string) =>
    request(service.url, 'POST', '/v1/chat', { conversationId: uniqueId('redis-down'), message });

  it('Ballast gives Redis part of the budget, then answers from the near cache or the model', async () => {
    const fresh = await chat(ballast, uniqueId('new prompt'));
    expect(fresh.status).toBe(200);
    expect(fresh.body.cache).toBe('miss');
    // The prompt answered before the outage is still in this process's near cache.
    const known = await chat(ballast, 'hi');
    expect(known.status).toBe(200);
    expect(known.body.cache).toBe('hit');
  });

  it('naive waits on the GET until its request budget runs out: 504', async () => {
    const answer = await chat(naive, uniqueId('new prompt'));
    expect(answer.status).toBe(504);
    expect(answer.body).toEqual({ error: 'timeout' });
  });
});

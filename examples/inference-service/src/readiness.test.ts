import { FaultProxy } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchema } from './schema.js';
import { type Service, startService } from './server.js';
import { eventually, request, servers, testConfig, uniqueId } from './service.test-helpers.js';

/** The shared primary's URL, through `proxy`. */
function throughProxy(proxy: FaultProxy): string {
  const url = new URL(servers.postgres.primaryUrl);
  url.port = String(proxy.port);
  return url.toString();
}

describe('readiness when the primary goes silent', () => {
  let proxy: FaultProxy;
  let ballast: Service;
  let naive: Service;
  beforeAll(async () => {
    await ensureSchema(servers.postgres.primaryUrl);
    proxy = new FaultProxy({ port: Number(new URL(servers.postgres.primaryUrl).port) });
    await proxy.listen();
    const pgPrimaryUrl = throughProxy(proxy);
    [ballast, naive] = await Promise.all([
      startService(testConfig({ instance: 'ballast', pgPrimaryUrl, requestDeadlineMs: 1_000 })),
      startService(testConfig({ mode: 'naive', instance: 'naive', pgPrimaryUrl, requestDeadlineMs: 1_000 })),
    ]);
  });
  afterAll(async () => {
    // Connections the blackhole left waiting for an answer: reset them so the naive pool can close.
    await proxy.set({ reset: true });
    await Promise.all([ballast.close(), naive.close()]);
    await proxy.close();
  });

  it('Ballast: /readyz turns 503 once the cluster notices, chat is refused with 503 + Retry-After, both recover', async () => {
    const conversationId = uniqueId('outage');
    expect((await request(ballast.url, 'GET', '/readyz')).status).toBe(200);
    expect(
      (await request(ballast.url, 'POST', '/v1/chat', { conversationId, message: 'before' })).status,
    ).toBe(200);

    await proxy.set({ blackhole: true });
    const down = await eventually(async () => {
      const r = await request(ballast.url, 'GET', '/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).toMatchObject({ ready: false, primary: 'unavailable' });

    const refused = await request(ballast.url, 'POST', '/v1/chat', { conversationId, message: 'during' });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('BALLAST_PRIMARY_UNAVAILABLE');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    await proxy.clear();
    await eventually(async () => {
      const r = await request(ballast.url, 'GET', '/readyz');
      return r.status === 200 ? r : undefined;
    });
    expect(
      (await request(ballast.url, 'POST', '/v1/chat', { conversationId, message: 'after' })).status,
    ).toBe(200);
  });

  it('naive: /readyz answers 503 when SELECT 1 on the primary takes longer than 500 ms', async () => {
    expect((await request(naive.url, 'GET', '/readyz')).status).toBe(200);
    await proxy.set({ blackhole: true });
    try {
      const answer = await request(naive.url, 'GET', '/readyz');
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ ready: false, primary: 'unavailable', breakers: {} });
    } finally {
      await proxy.clear();
    }
  });
});

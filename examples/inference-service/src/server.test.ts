import { BallastError } from '@ballast/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataLayer, RequestData } from './data/types.js';
import { type Service, type ServiceOptions, startService } from './server.js';
import { parsePrometheus, request, sampleValue, testConfig } from './service.test-helpers.js';

/**
 * The HTTP layer over an in-memory data layer: routing, validation, and how errors become statuses. The real
 * data layers are tested against real servers in the other files.
 */
function memoryData(overrides: Partial<RequestData> = {}): DataLayer & { closed: boolean } {
  const rows: Array<{ id: number; conversationId: string; role: 'user' | 'assistant'; content: string }> = [];
  const data: RequestData = {
    async appendMessage(conversationId, role, content) {
      rows.push({ id: rows.length + 1, conversationId, role, content });
      return rows.length;
    },
    async recentMessages(conversationId, limit) {
      const messages = rows.filter((r) => r.conversationId === conversationId).slice(-limit);
      return {
        messages: messages.map(({ id, role, content }) => ({ id, role, content })),
        servedBy: 'replica',
      };
    },
    async completion(_prompt, generate) {
      return { reply: await generate(undefined), cache: 'miss' };
    },
    async unembeddedMessages(limit) {
      return rows.slice(0, limit);
    },
    async setEmbedding() {},
    sessionToken: () => undefined,
    ...overrides,
  };
  return {
    mode: 'ballast',
    closed: false,
    run: (_request, work) => work(data),
    async readiness() {
      return { ready: true, primary: 'ok', breakers: {}, redis: 'ok' };
    },
    async close() {
      this.closed = true;
    },
  };
}

let service: Service | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

async function start(data: DataLayer, config = testConfig()): Promise<Service> {
  const options: ServiceOptions = { data: () => data };
  service = await startService(config, options);
  return service;
}

describe('HTTP layer', () => {
  it('answers a chat turn, and 400 for a body that is not JSON or misses a field', async () => {
    const { url } = await start(memoryData());
    const ok = await request(url, 'POST', '/v1/chat', { conversationId: 'c1', message: 'hello' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      messageId: 1,
      replyId: 2,
      historyIds: [1],
      stale: false,
      instance: 'test',
    });

    const notJson = await request(url, 'POST', '/v1/chat', '{"conversationId": "c1",');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toEqual({ error: 'bad-request', message: 'the body is not valid JSON' });
    const noMessage = await request(url, 'POST', '/v1/chat', { conversationId: 'c1' });
    expect(noMessage.status).toBe(400);
    expect(noMessage.body.message).toMatch(/^message must be/);
    const tooLong = await request(url, 'POST', '/v1/chat', {
      conversationId: 'c'.repeat(129),
      message: 'hi',
    });
    expect(tooLong.body.message).toMatch(/^conversationId must be/);
    const badLimit = await request(url, 'POST', '/v1/embeddings/backfill', { limit: 0 });
    expect(badLimit.status).toBe(400);
  });

  it('answers 404 for an unknown route or method', async () => {
    const { url } = await start(memoryData());
    expect((await request(url, 'GET', '/v1/chats')).status).toBe(404);
    expect((await request(url, 'GET', '/v1/chat')).status).toBe(404);
  });

  it('maps a shed or open-circuit refusal to 503 with Retry-After, and counts it by priority', async () => {
    const shed = new BallastError('BALLAST_SHED', 'shed', {
      retryable: true,
      reason: 'queue-full',
      source: 'db:5432/app',
    });
    const open = new BallastError('BALLAST_CIRCUIT_OPEN', 'open', { retryable: true, retryAfterMs: 2_500 });
    let next: BallastError = shed;
    const { url, metrics } = await start(
      memoryData({
        appendMessage: () => Promise.reject(next),
      }),
    );
    const body = { conversationId: 'c1', message: 'hello' };

    const first = await request(url, 'POST', '/v1/chat', body);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.body).toEqual({
      error: 'BALLAST_SHED',
      retryAfterMs: 1000,
      reason: 'queue-full',
    });

    next = open;
    const second = await request(url, 'POST', '/v1/chat', body);
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('3');
    expect(second.body).toMatchObject({ error: 'BALLAST_CIRCUIT_OPEN', retryAfterMs: 2_500 });

    const { samples } = parsePrometheus(metrics.registry.render());
    expect(sampleValue(samples, 'inference_shed_total', { route: 'chat', priority: 'interactive' })).toBe(2);
    expect(sampleValue(samples, 'inference_requests_total', { route: 'chat', status: '503' })).toBe(2);
  });

  it('maps a deadline to 504 and a model failure to 502', async () => {
    const deadline = new BallastError('BALLAST_DEADLINE_EXCEEDED', 'late', { retryable: false });
    const late = await start(memoryData({ recentMessages: () => Promise.reject(deadline) }));
    const answer = await request(late.url, 'POST', '/v1/chat', { conversationId: 'c1', message: 'hi' });
    expect(answer.status).toBe(504);
    expect(answer.body).toEqual({ error: 'BALLAST_DEADLINE_EXCEEDED' });
    await late.close();

    const failing = await start(memoryData(), testConfig({ modelFailureRate: 1 }));
    const failed = await request(failing.url, 'POST', '/v1/chat', { conversationId: 'c1', message: 'hi' });
    expect(failed.status).toBe(502);
    expect(failed.body).toEqual({ error: 'model-failed' });
    const { samples } = parsePrometheus(failing.metrics.registry.render());
    expect(sampleValue(samples, 'inference_model_calls_total', { outcome: 'failed' })).toBe(1);
  });

  it('answers a backfill whose every update was shed with 503, and one partly shed with its counts', async () => {
    const shed = new BallastError('BALLAST_SHED', 'shed', { retryable: true, reason: 'limit' });
    let refuseAll = true;
    const data = memoryData({
      setEmbedding: (id) => (refuseAll || id % 2 === 0 ? Promise.reject(shed) : Promise.resolve()),
    });
    const { url, metrics } = await start(data);
    for (let i = 0; i < 4; i++)
      await request(url, 'POST', '/v1/chat', { conversationId: 'c1', message: `m${i}` });

    const refused = await request(url, 'POST', '/v1/embeddings/backfill', { limit: 5 });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const { samples } = parsePrometheus(metrics.registry.render());
    expect(sampleValue(samples, 'inference_shed_total', { route: 'backfill', priority: 'batch' })).toBe(1);

    refuseAll = false;
    const partly = await request(url, 'POST', '/v1/embeddings/backfill', { limit: 5 });
    expect(partly.status).toBe(200);
    expect(partly.body).toEqual({ selected: 5, updated: 3, shed: 2, failed: 0 });
  });

  it('finishes a request in flight when it shuts down, refuses new connections, then closes the data layer', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const data = memoryData({
      async appendMessage() {
        await gate;
        return 1;
      },
    });
    const { url } = await start(data);
    const inFlight = request(url, 'POST', '/v1/chat', { conversationId: 'c1', message: 'hi' });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the request is in the handler

    const closing = service?.close();
    await expect(request(url, 'GET', '/healthz')).rejects.toThrow();
    expect(data.closed).toBe(false);
    release();
    expect((await inFlight).status).toBe(200);
    await closing;
    expect(data.closed).toBe(true);
  });
});

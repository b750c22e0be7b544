import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDING_DIMENSIONS } from './backfill.js';
import type { Mode } from './config.js';
import { ensureSchema } from './schema.js';
import { SESSION_HEADER, type Service, startService } from './server.js';
import {
  eventually,
  parsePrometheus,
  request,
  sampleValue,
  servers,
  testConfig,
  uniqueId,
  withClient,
} from './service.test-helpers.js';

/** The routes against the shared PostgreSQL primary + replica and Redis, in both modes. */
describe.each<Mode>(['ballast', 'naive'])('%s mode on real servers', (mode) => {
  let service: Service;
  beforeAll(async () => {
    await ensureSchema(servers.postgres.primaryUrl);
    service = await startService(testConfig({ mode, instance: `test-${mode}` }));
  });
  afterAll(() => service.close());

  const chat = (conversationId: string, message: string, headers: Record<string, string> = {}) =>
    request(service.url, 'POST', '/v1/chat', { conversationId, message }, headers);

  it('POST /v1/chat stores the message and the reply and answers with the history it read', async () => {
    const conversationId = uniqueId('chat');
    const answer = await chat(conversationId, 'how do circuit breakers recover?');
    expect(answer.status).toBe(200);
    const body = answer.body;
    expect(body).toMatchObject({ conversationId, instance: `test-${mode}`, mode, cache: 'miss' });
    expect(body.reply).toContain('how do circuit breakers recover?');
    expect(body.replyId).toBeGreaterThan(body.messageId);
    expect(body.stale).toBe(!body.historyIds.includes(body.messageId));
    expect(['replica', 'primary']).toContain(body.servedBy);

    const stored = await withClient(servers.postgres.primaryUrl, (c) =>
      c.query('SELECT id, role, content FROM messages WHERE conversation_id = $1 ORDER BY id', [
        conversationId,
      ]),
    );
    expect(stored.rows.map((r) => [Number(r.id), r.role])).toEqual([
      [body.messageId, 'user'],
      [body.replyId, 'assistant'],
    ]);
    expect(stored.rows[1].content).toBe(body.reply);
  });

  it('answers a repeated prompt from the cache', async () => {
    const prompt = `${uniqueId('prompt')}: what is a retry budget?`;
    const first = await chat(uniqueId('cache'), prompt);
    const second = await chat(uniqueId('cache'), prompt);
    expect([first.body.cache, second.body.cache]).toEqual(['miss', 'hit']);
    expect(second.body.reply).toBe(first.body.reply);
    const { samples } = parsePrometheus((await request(service.url, 'GET', '/metrics')).body);
    expect(sampleValue(samples, 'inference_cache_total', { result: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'inference_model_calls_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
  });

  it('GET /v1/conversations/:id returns the messages, oldest first', async () => {
    const conversationId = uniqueId('conv');
    const a = (await chat(conversationId, 'first')).body;
    const b = (await chat(conversationId, 'second')).body;
    const expected = [a.messageId, a.replyId, b.messageId, b.replyId];
    // An eventual read: the replica shows the messages once it has replayed them.
    const answer = await eventually(async () => {
      const r = await request(service.url, 'GET', `/v1/conversations/${conversationId}`);
      return r.body.messages?.length === 4 ? r : undefined;
    });
    expect(answer.status).toBe(200);
    expect(answer.body.messages.map((m: { id: number }) => m.id)).toEqual(expected);
    expect(answer.body.messages[0]).toEqual({ id: a.messageId, role: 'user', content: 'first' });
    expect(answer.body).toMatchObject({ conversationId, instance: `test-${mode}` });
  });

  it('POST /v1/embeddings/backfill stores a 16-float embedding on messages without one and counts them', async () => {
    const conversationId = uniqueId('backfill');
    await chat(conversationId, 'embed me');
    const answer = await request(service.url, 'POST', '/v1/embeddings/backfill', { limit: 1000 });
    expect(answer.status).toBe(200);
    const { selected, updated, shed, failed } = answer.body;
    expect(selected).toBeGreaterThanOrEqual(2);
    expect({ updated, shed, failed }).toEqual({ updated: selected, shed: 0, failed: 0 });

    const rows = await withClient(servers.postgres.primaryUrl, (c) =>
      c.query<{ embedding: number[] | null }>('SELECT embedding FROM messages WHERE conversation_id = $1', [
        conversationId,
      ]),
    );
    expect(rows.rows).toHaveLength(2);
    for (const { embedding } of rows.rows) expect(embedding).toHaveLength(EMBEDDING_DIMENSIONS);
  });

  it('GET /metrics is Prometheus text with the service families', async () => {
    await chat(uniqueId('metrics'), 'count me');
    const answer = await request(service.url, 'GET', '/metrics');
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(answer.body);
    const families = [
      'inference_requests_total',
      'inference_request_duration_seconds',
      'inference_shed_total',
      'inference_stale_session_reads_total',
      'inference_ryw_reads_total',
      'inference_ryw_waits_total',
      'inference_ryw_fallbacks_total',
      'inference_cache_total',
      'inference_model_calls_total',
    ];
    if (mode === 'ballast')
      families.push(
        'ballast_breaker_state',
        'ballast_limiter_limit',
        'ballast_pool_connections',
        'ballast_redis_breaker_state',
      );
    for (const family of families) expect(types.has(family), family).toBe(true);
    expect(
      sampleValue(samples, 'inference_requests_total', { route: 'chat', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(samples, 'inference_request_duration_seconds_count', { route: 'chat' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'inference_service_info', { instance: `test-${mode}`, mode })).toBe(1);
    if (mode === 'ballast') {
      const hosts = samples.filter((s) => s.name === 'ballast_limiter_limit').map((s) => s.labels.host);
      expect(hosts).toHaveLength(1 + servers.postgres.replicaUrls.length);
      for (const host of hosts) expect(host).toMatch(/^127\.0\.0\.1:\d+\/\w+$/);
      const primary = hosts[0] as string;
      expect(sampleValue(samples, 'ballast_breaker_state', { host: primary, state: 'closed' })).toBe(1);
      expect(sampleValue(samples, 'ballast_redis_breaker_state', { state: 'closed' })).toBe(1);
      expect(answer.body).not.toContain(new URL(servers.postgres.primaryUrl).password);
    }
  });

  it('GET /healthz and /readyz answer 200 with the servers up', async () => {
    expect((await request(service.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(service.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, primary: 'ok', redis: 'ok' });
    if (mode === 'ballast') expect(Object.values(ready.body.breakers)).toEqual(['closed', 'closed']);
  });

  it('answers 502 when the model fails, and stores no reply', async () => {
    const failing = await startService(testConfig({ mode, modelFailureRate: 1 }));
    try {
      const conversationId = uniqueId('model-fails');
      const answer = await request(failing.url, 'POST', '/v1/chat', {
        conversationId,
        message: uniqueId('m'),
      });
      expect(answer.status).toBe(502);
      expect(answer.body).toEqual({ error: 'model-failed' });
      const roles = await withClient(servers.postgres.primaryUrl, (c) =>
        c.query('SELECT role FROM messages WHERE conversation_id = $1', [conversationId]),
      );
      expect(roles.rows).toEqual([{ role: 'user' }]);
    } finally {
      await failing.close();
    }
  });

  if (mode === 'ballast') {
    it('reads its own write back and returns a session token', async () => {
      const answer = await chat(uniqueId('ryw'), 'did you get my message?');
      expect(answer.body.historyIds).toContain(answer.body.messageId);
      expect(answer.body.stale).toBe(false);
      expect(answer.headers.get(SESSION_HEADER)).toMatch(/^b1\./);
    });

    it('answers 400 to a session header that is not a token', async () => {
      const answer = await chat(uniqueId('token'), 'hi', { [SESSION_HEADER]: 'not-a-token' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('bad-request');
    });
  } else {
    it('sends no session token', async () => {
      const answer = await chat(uniqueId('naive'), 'hi');
      expect(answer.status).toBe(200);
      expect(answer.headers.get(SESSION_HEADER)).toBeNull();
    });
  }
});

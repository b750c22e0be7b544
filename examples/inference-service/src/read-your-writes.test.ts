import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchema } from './schema.js';
import { SESSION_HEADER, type Service, startService } from './server.js';
import {
  parsePrometheus,
  request,
  sampleValue,
  servers,
  testConfig,
  uniqueId,
  withClient,
} from './service.test-helpers.js';

const replicaUrl = servers.postgres.replicaUrls[0] as string;

/** Runs `fn` with WAL replay paused on the shared replica: it receives writes but shows none of them. */
async function withReplayPaused<T>(fn: () => Promise<T>): Promise<T> {
  await withClient(replicaUrl, (c) => c.query('SELECT pg_wal_replay_pause()'));
  try {
    return await fn();
  } finally {
    await withClient(replicaUrl, (c) => c.query('SELECT pg_wal_replay_resume()'));
  }
}

describe('read-your-writes while the replica is behind', () => {
  let a: Service;
  let b: Service;
  let naive: Service;
  beforeAll(async () => {
    await ensureSchema(servers.postgres.primaryUrl);
    [a, b, naive] = await Promise.all([
      startService(testConfig({ instance: 'a' })),
      startService(testConfig({ instance: 'b' })),
      startService(testConfig({ mode: 'naive', instance: 'naive' })),
    ]);
  });
  afterAll(() => Promise.all([a.close(), b.close(), naive.close()]));

  it('Ballast: no stale read, and instance B honours the session token of instance A', async () => {
    const conversationId = uniqueId('paused');
    await withReplayPaused(async () => {
      const first = await request(a.url, 'POST', '/v1/chat', { conversationId, message: 'hello from A' });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ stale: false, servedBy: 'primary' });
      const token = first.headers.get(SESSION_HEADER) as string;
      expect(token).toMatch(/^b1\./);

      const headers = { [SESSION_HEADER]: token };
      const second = await request(b.url, 'POST', '/v1/chat', { conversationId, message: 'and B' }, headers);
      expect(second.body).toMatchObject({ instance: 'b', stale: false });
      expect(second.body.historyIds).toEqual([
        first.body.messageId,
        first.body.replyId,
        second.body.messageId,
      ]);

      // B reads A's writes with A's token; without it, the replica shows none of them.
      const withToken = await request(b.url, 'GET', `/v1/conversations/${conversationId}`, undefined, {
        [SESSION_HEADER]: token,
      });
      expect(withToken.body.messages.map((m: { id: number }) => m.id)).toContain(first.body.replyId);
      const withoutToken = await request(b.url, 'GET', `/v1/conversations/${conversationId}`);
      expect(withoutToken.body).toMatchObject({ messages: [], servedBy: 'replica' });
    });

    // B read twice with the session: its chat turn and the conversation.
    for (const [service, sessionReads] of [
      [a, 1],
      [b, 2],
    ] as const) {
      const { samples } = parsePrometheus((await request(service.url, 'GET', '/metrics')).body);
      expect(sampleValue(samples, 'inference_stale_session_reads_total')).toBe(0);
      expect(sampleValue(samples, 'inference_ryw_reads_total', { served_by: 'primary' })).toBe(1);
      // The replica was asked first; its replay is paused, so the session did not wait for it: the primary answered.
      expect(sampleValue(samples, 'inference_ryw_waits_total')).toBe(0);
      expect(sampleValue(samples, 'inference_ryw_fallbacks_total')).toBe(sessionReads);
    }
  });

  it('naive: the read from a random replica misses the message just written', async () => {
    const answer = await withReplayPaused(() =>
      request(naive.url, 'POST', '/v1/chat', { conversationId: uniqueId('naive-paused'), message: 'hello?' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ stale: true, servedBy: 'replica', historyIds: [] });
    const { samples } = parsePrometheus((await request(naive.url, 'GET', '/metrics')).body);
    expect(sampleValue(samples, 'inference_stale_session_reads_total')).toBe(1);
  });

  it('Ballast: once the replica has caught up, session reads are served by it', async () => {
    const conversationId = uniqueId('caught-up');
    let servedBy = 'primary';
    // Replay just resumed; the first turns may still find it catching up.
    for (let i = 0; i < 20 && servedBy !== 'replica'; i++) {
      const answer = await request(a.url, 'POST', '/v1/chat', { conversationId, message: `turn ${i}` });
      expect(answer.body.stale).toBe(false);
      servedBy = answer.body.servedBy;
    }
    expect(servedBy).toBe('replica');
  });
});

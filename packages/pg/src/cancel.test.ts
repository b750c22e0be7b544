import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { CANCEL_REQUEST_CODE, cancelRequestMessage, sendCancelRequest } from './cancel.js';

const { postgres } = inject('ballast');

describe('cancelRequestMessage', () => {
  it('is length 16, the cancel code, the process ID and the secret key, big-endian', () => {
    const buf = cancelRequestMessage(4242, -17);
    expect(buf.length).toBe(16);
    expect(buf.readInt32BE(0)).toBe(16);
    expect(buf.readInt32BE(4)).toBe(CANCEL_REQUEST_CODE);
    expect(buf.readInt32BE(8)).toBe(4242);
    expect(buf.readInt32BE(12)).toBe(-17);
  });
});

describe('sendCancelRequest', () => {
  const clients: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
  });

  it('stops the running statement of the backend with 57014', async () => {
    const client = new pg.Client({ connectionString: postgres.primaryUrl });
    clients.push(client);
    await client.connect();
    const keys = client as unknown as { processID: number; secretKey: number };
    const sleeping = client.query('SELECT pg_sleep(30)');
    const outcome = sleeping.then(
      () => 'completed',
      (e: { code?: string }) => e.code,
    );
    await new Promise((r) => setTimeout(r, 50));
    await sendCancelRequest({
      host: client.host,
      port: client.port,
      processID: keys.processID,
      secretKey: keys.secretKey,
    });
    expect(await outcome).toBe('57014');
    // The connection itself survives a cancel.
    expect((await client.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
  });

  it('rejects when the server cannot be reached', async () => {
    await expect(
      sendCancelRequest({ host: '127.0.0.1', port: 1, processID: 1, secretKey: 1 }, 1_000),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

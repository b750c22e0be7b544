import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';

/** Integration through the run's shared servers (vitest globalSetup): a fault proxy in front of real PostgreSQL. */
describe('FaultProxy in front of the shared PostgreSQL primary', () => {
  const { postgres } = inject('ballast');
  const target = new URL(postgres.primaryUrl);
  const proxy = new FaultProxy({ port: Number(target.port) });
  let viaProxy: string;

  beforeAll(async () => {
    const port = await proxy.listen();
    const url = new URL(postgres.primaryUrl);
    url.port = String(port);
    viaProxy = url.toString();
  });
  afterAll(() => proxy.close());

  async function timedSelect(url: string): Promise<number> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const t0 = performance.now();
      await client.query('SELECT 1');
      return performance.now() - t0;
    } finally {
      await client.end();
    }
  }

  it('passes queries through untouched when no fault is set', async () => {
    const client = new pg.Client({ connectionString: viaProxy });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('SELECT 41 + 1 AS n');
    await client.end();
    expect(rows[0]?.n).toBe(42);
  });

  it('adds the latency it was set to, each way, to a real query round trip', async () => {
    const direct = await timedSelect(viaProxy);
    await proxy.set({ latencyMs: 40 });
    const slowed = await timedSelect(viaProxy);
    await proxy.clear();
    expect(slowed - direct).toBeGreaterThanOrEqual(75);
  });

  it('a blackholed primary leaves a query hanging without an error', async () => {
    const client = new pg.Client({ connectionString: viaProxy });
    await client.connect();
    client.on('error', () => {});
    await proxy.set({ blackhole: true });
    const outcome = await Promise.race([
      client.query('SELECT 1').then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('hanging'), 300)),
    ]);
    await proxy.clear();
    expect(outcome).toBe('hanging');
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  });

  it('reset breaks a live connection with ECONNRESET and refuses nothing afterwards', async () => {
    const client = new pg.Client({ connectionString: viaProxy });
    await client.connect();
    const failed = new Promise<unknown>((resolve) => client.on('error', resolve));
    await proxy.set({ reset: true });
    const error = (await failed) as NodeJS.ErrnoException;
    expect(error.code ?? error.message).toMatch(/ECONNRESET|Connection terminated/);
    await proxy.clear();
    expect(await timedSelect(viaProxy)).toBeGreaterThanOrEqual(0);
  });

  it('refuse makes new connections fail with ECONNREFUSED until cleared', async () => {
    await proxy.set({ refuse: true });
    const code = await new Promise<string | undefined>((resolve) => {
      const socket = connect(proxy.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    await proxy.clear();
    expect(code).toBe('ECONNREFUSED');
  });

  it('the shared replica streams from the primary', async () => {
    const primary = new pg.Client({ connectionString: postgres.primaryUrl });
    const replica = new pg.Client({ connectionString: postgres.replicaUrls[0] });
    await Promise.all([primary.connect(), replica.connect()]);
    try {
      const { rows } = await replica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      expect(rows[0]?.r).toBe(true);
      await primary.query('CREATE TABLE IF NOT EXISTS shared_probe (id int)');
      await primary.query('INSERT INTO shared_probe VALUES (1)');
      let seen = 0;
      for (let i = 0; i < 100 && seen === 0; i++) {
        const r = await replica.query('SELECT 1 FROM pg_class WHERE relname = $1', ['shared_probe']);
        seen = r.rowCount ?? 0;
        if (seen === 0) await new Promise((r2) => setTimeout(r2, 50));
      }
      expect(seen).toBe(1);
    } finally {
      await Promise.all([primary.end(), replica.end()]);
    }
  });
});

import { isBallastError } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCluster } from './cluster.js';

const { postgres } = inject('ballast');

describe('transactions', () => {
  const db = createCluster({ primary: postgres.primaryUrl, replicas: postgres.replicaUrls });
  beforeAll(() => db.query('CREATE TABLE IF NOT EXISTS tx_accounts (id int PRIMARY KEY, balance int)'));
  afterAll(() => db.close());

  it('commits every statement on one pinned connection', async () => {
    await db.query('TRUNCATE tx_accounts');
    const pids = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_accounts VALUES (1, 100), (2, 0)');
      const a = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await tx.query('UPDATE tx_accounts SET balance = balance - 10 WHERE id = 1');
      const b = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return [a.rows[0]?.pid, b.rows[0]?.pid];
    });
    expect(pids[0]).toBe(pids[1]);
    const { rows } = await db.query<{ balance: number }>('SELECT balance FROM tx_accounts WHERE id = 1');
    expect(rows[0]?.balance).toBe(90);
  });

  it('rolls back when the function throws, and the error is the function’s own', async () => {
    await db.query('TRUNCATE tx_accounts');
    const boom = new Error('model call failed');
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_accounts VALUES (3, 5)');
        throw boom;
      }),
    ).rejects.toBe(boom);
    const { rowCount } = await db.query('SELECT 1 FROM tx_accounts WHERE id = 3');
    expect(rowCount).toBe(0);
  });

  it('retries the whole transaction on a serialization failure when allowed, and not otherwise', async () => {
    await db.query('TRUNCATE tx_accounts');
    await db.query('INSERT INTO tx_accounts VALUES (10, 0)');
    let attempts = 0;
    const failOnce = async (tx: { query: (t: string) => Promise<unknown> }) => {
      attempts++;
      await tx.query('UPDATE tx_accounts SET balance = balance + 1 WHERE id = 10');
      if (attempts === 1) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
    };
    await db.transaction(failOnce, { isolation: 'serializable', retryOnSerializationFailure: true });
    expect(attempts).toBe(2);
    const { rows } = await db.query<{ balance: number }>('SELECT balance FROM tx_accounts WHERE id = 10');
    expect(rows[0]?.balance).toBe(1); // the failed attempt rolled back
    attempts = 0;
    await expect(db.transaction(failOnce, { isolation: 'serializable' })).rejects.toMatchObject({
      code: '40001',
    });
    expect(attempts).toBe(1);
  });

  it('a transaction past its deadline fails with BALLAST_DEADLINE_EXCEEDED and leaves nothing behind', async () => {
    await db.query('TRUNCATE tx_accounts');
    const error = await db
      .transaction(
        async (tx) => {
          await tx.query('INSERT INTO tx_accounts VALUES (20, 1)');
          await tx.query('SELECT pg_sleep(3)');
        },
        { deadlineMs: 300 },
      )
      .catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_DEADLINE_EXCEEDED')).toBe(true);
    await expect
      .poll(async () => (await db.query('SELECT 1 FROM tx_accounts WHERE id = 20')).rowCount, {
        timeout: 2_000,
      })
      .toBe(0);
  });

  it('rejects an unknown isolation level with BALLAST_INVALID_ARGUMENT', async () => {
    const error = await db
      .transaction(async () => 1, { isolation: 'snapshot' as never })
      .catch((e: unknown) => e);
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
  });
});

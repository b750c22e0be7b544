import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findPgbouncer, type Pgbouncer, startPgbouncer } from './pgbouncer.js';
import { alive } from './registry.js';

async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
  config: pg.ClientConfig = {},
) {
  const client = new pg.Client({ connectionString: url, ...config });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const backendPid = async (client: pg.Client): Promise<number> =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? -1;

/**
 * PostgreSQL's CancelRequest (code 80877102) for the backend key pg.Client received at login, sent the way libpq
 * sends it: write, then wait for the other side to close. (Half-closing right after the write makes PgBouncer
 * 1.18 drop the request, or crash: pgbouncer/pgbouncer#801.)
 */
function sendCancel(port: number, client: pg.Client): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(80877102, 4);
  message.writeInt32BE(processID, 8);
  message.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(message));
    socket.setTimeout(2_000, () => socket.destroy(new Error('no answer to the cancel request')));
    socket.on('data', () => {});
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

/**
 * The pid one client's next statement runs on while another client holds the server connection its previous
 * statement ran on, in a transaction: a different backend in transaction pooling, the same in session pooling.
 */
async function pidsAcrossABorrowedConnection(url: string): Promise<[number, number]> {
  return withClient(url, (a) =>
    withClient(url, async (b) => {
      const first = await backendPid(a);
      await b.query('BEGIN');
      await backendPid(b);
      const second = await backendPid(a);
      await b.query('COMMIT');
      return [first, second];
    }),
  );
}

describe('startPgbouncer', () => {
  const { primaryUrl } = inject('ballast').postgres;
  let bouncer: Pgbouncer;

  beforeAll(async () => {
    bouncer = await startPgbouncer({ target: primaryUrl });
  });
  afterAll(async () => {
    await bouncer?.stop();
  });

  it('serves queries with the target login on its own port, in transaction mode by default', async () => {
    const target = new URL(primaryUrl);
    const url = new URL(bouncer.url);
    expect(url.username).toBe(target.username);
    expect(url.password).toBe(target.password);
    expect(url.pathname).toBe(target.pathname);
    expect(bouncer.port).not.toBe(Number(target.port));
    expect(bouncer.poolMode).toBe('transaction');
    const rows = await withClient(bouncer.url, async (c) => (await c.query('SELECT 41 + 1 AS n')).rows);
    expect(rows).toEqual([{ n: 42 }]);
  });

  it('transaction pooling: two statements of one client run on different backends', async () => {
    let differed = false;
    for (let i = 0; i < 5 && !differed; i++) {
      const [first, second] = await pidsAcrossABorrowedConnection(bouncer.url);
      differed = first !== second;
    }
    expect(differed).toBe(true);
  });

  it('session pooling keeps a client on one backend', async () => {
    const session = await startPgbouncer({ target: primaryUrl, poolMode: 'session' });
    try {
      const [first, second] = await pidsAcrossABorrowedConnection(session.url);
      expect(second).toBe(first);
    } finally {
      await session.stop();
    }
  });

  it('accepts the startup parameters pools send, and ignores them', async () => {
    const shown = await withClient(
      bouncer.url,
      async (c) => (await c.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0],
      { options: '-c statement_timeout=1234', statement_timeout: 4321 },
    );
    expect(shown?.statement_timeout).toBe('0');
  });

  it('forwards cancel requests to the server connection running the statement', async () => {
    await withClient(bouncer.url, async (c) => {
      const sleeping = c.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      await sendCancel(bouncer.port, c);
      expect(await sleeping).toMatchObject({ code: '57014', message: expect.stringMatching(/user request/) });
    });
  });

  it('stop() ends the process and removes its directory; stop() again is a no-op', async () => {
    const b = await startPgbouncer({ target: primaryUrl, poolMode: 'session' });
    const pid = b.pid;
    expect(pid).toBeTypeOf('number');
    expect(existsSync(b.dir)).toBe(true);
    await b.stop();
    expect(alive(pid as number)).toBe(false);
    expect(existsSync(b.dir)).toBe(false);
    await b.stop();
  });

  it('kill() makes the port refuse connections', async () => {
    const b = await startPgbouncer({ target: primaryUrl });
    try {
      await b.kill();
      expect(b.pid).toBeUndefined();
      await expect(withClient(b.url, (c) => c.query('SELECT 1'))).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });
    } finally {
      await b.stop();
    }
  });

  it('a wrong password fails the start with the log tail, the password masked', async () => {
    const wrong = new URL(primaryUrl);
    wrong.password = 'not-the-password-123';
    const error = await startPgbouncer({ target: wrong.toString(), startTimeoutMs: 1_500 }).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/pgbouncer did not start/);
    expect((error as Error).message).not.toContain('not-the-password-123');
  });

  it('rejects bad options with BALLAST_INVALID_ARGUMENT', async () => {
    await expect(
      startPgbouncer({ target: primaryUrl, poolMode: 'sometimes' as 'session' }),
    ).rejects.toMatchObject({ code: 'BALLAST_INVALID_ARGUMENT' });
    await expect(startPgbouncer({ target: 'mysql://x@y/z' })).rejects.toMatchObject({
      code: 'BALLAST_INVALID_ARGUMENT',
    });
  });
});

describe('findPgbouncer', () => {
  it('names the install command when the binary is missing', () => {
    expect(() => findPgbouncer({ BALLAST_TESTKIT_PGBOUNCER: '/nonexistent/pgbouncer' })).toThrow(
      /pgbouncer was not found in \/nonexistent\/pgbouncer .*apt-get install -y pgbouncer/,
    );
  });

  it('startPgbouncer rejects with that error', async () => {
    const saved = process.env.BALLAST_TESTKIT_PGBOUNCER;
    process.env.BALLAST_TESTKIT_PGBOUNCER = '/nonexistent/pgbouncer';
    try {
      await expect(startPgbouncer({ target: 'postgres://u:p@127.0.0.1:5432/d' })).rejects.toThrow(
        /apt-get install -y pgbouncer/,
      );
    } finally {
      if (saved === undefined) delete process.env.BALLAST_TESTKIT_PGBOUNCER;
      else process.env.BALLAST_TESTKIT_PGBOUNCER = saved;
    }
  });

  it('finds the installed one', () => {
    expect(findPgbouncer()).toMatch(/pgbouncer$/);
  });
});

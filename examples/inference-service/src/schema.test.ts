import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ensureSchema } from './schema.js';
import { servers, uniqueId, withClient } from './service.test-helpers.js';

describe('ensureSchema', () => {
  it('creates the schema once when instances start together, from URLs and from a client', async () => {
    const database = uniqueId('schema').replace(/-/g, '_');
    const admin = servers.postgres.primaryUrl;
    await withClient(admin, (c) => c.query(`CREATE DATABASE ${database}`));
    try {
      const url = new URL(admin);
      url.pathname = `/${database}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        // Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS collide on pg_type.
        const starts = Array.from({ length: 6 }, () => ensureSchema(url.toString()));
        await Promise.all([...starts, ensureSchema(client)]);
        const indexes = await client.query(
          "SELECT indexname FROM pg_indexes WHERE tablename = 'messages' ORDER BY indexname",
        );
        expect(indexes.rows.map((r) => r.indexname)).toEqual([
          'messages_conversation',
          'messages_pkey',
          'messages_unembedded',
        ]);
        // The client is left open and usable.
        expect((await client.query('SELECT count(*)::int AS n FROM messages')).rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    } finally {
      await withClient(admin, (c) => c.query(`DROP DATABASE ${database} WITH (FORCE)`));
    }
  });
});

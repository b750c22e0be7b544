import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { type Generated, Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createCluster } from './cluster.js';

const { postgres } = inject('ballast');
const suffix = `${process.pid}_${Date.now().toString(36)}`;

class Boom extends Error {}

describe('query builders run unchanged on cluster.asPool()', () => {
  const db = createCluster({ primary: postgres.primaryUrl, replicas: postgres.replicaUrls });
  afterAll(() => db.close());

  it("Kysely's PostgresDialect runs unchanged: create table, insert, select, and a transaction that rolls back on throw", async () => {
    const name = `kysely_${suffix}`;
    interface Schema {
      [name]: { id: Generated<number>; title: string; n: number };
    }
    const k = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: db.asPool() }) });
    const t = name as keyof Schema & string;
    try {
      await k.schema
        .createTable(t)
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute();
      const inserted = await k
        .insertInto(t)
        .values({ title: 'a', n: 1 })
        .returning('id')
        .executeTakeFirstOrThrow();
      expect(inserted.id).toBe(1);
      const rows = await k.selectFrom(t).select(['title', 'n']).execute();
      expect(rows).toEqual([{ title: 'a', n: 1 }]);

      await k.transaction().execute(async (trx) => {
        await trx.insertInto(t).values({ title: 'b', n: 2 }).execute();
      });
      const failed = await k
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto(t).values({ title: 'c', n: 3 }).execute();
          const seen = await trx.selectFrom(t).select('title').where('title', '=', 'c').execute();
          expect(seen).toHaveLength(1); // visible inside the transaction, on its pinned connection
          throw new Boom('roll back');
        })
        .catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(Boom);
      const titles = await k.selectFrom(t).select('title').orderBy('id').execute();
      expect(titles.map((r) => r.title)).toEqual(['a', 'b']);
      const { rows: raw } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(t)}`.execute(
        k,
      );
      expect(raw[0]?.n).toBe(2);
    } finally {
      await k.schema.dropTable(t).ifExists().execute();
      await k.destroy(); // pool.end(): detaches the facade, the cluster stays open
    }
    expect((await db.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
  });

  it("Drizzle's node-postgres driver runs unchanged: insert/select via a pgTable schema and db.transaction with rollback", async () => {
    const name = `drizzle_${suffix}`;
    const items = pgTable(name, {
      id: serial('id').primaryKey(),
      title: text('title').notNull(),
      n: integer('n').notNull(),
    });
    const pool = db.asPool();
    let pinned = 0;
    pool.on('acquire', () => pinned++);
    const orm = drizzle({ client: pool });
    try {
      await db.query(`CREATE TABLE ${name} (id serial PRIMARY KEY, title text NOT NULL, n int NOT NULL)`);
      const [first] = await orm.insert(items).values({ title: 'a', n: 1 }).returning();
      expect(first).toEqual({ id: 1, title: 'a', n: 1 });
      expect(await orm.select().from(items).where(eq(items.title, 'a'))).toEqual([
        { id: 1, title: 'a', n: 1 },
      ]);
      // rowMode: 'array' underneath (selected fields are mapped from arrays).
      expect(await orm.select({ t: items.title }).from(items)).toEqual([{ t: 'a' }]);

      expect(pinned).toBe(0); // plain statements went through pool.query
      await orm.transaction(async (tx) => {
        await tx.insert(items).values({ title: 'b', n: 2 });
      });
      expect(pinned).toBe(1); // `client instanceof Pool`: Drizzle checked out one client for the transaction
      const before = db.stats().hosts[0]?.pool.busy;
      const failed = await orm
        .transaction(async (tx) => {
          await tx.insert(items).values({ title: 'c', n: 3 });
          expect(await tx.select().from(items).where(eq(items.title, 'c'))).toHaveLength(1);
          throw new Boom('roll back');
        })
        .catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(Boom);
      expect(db.stats().hosts[0]?.pool.busy).toBe(before); // the pinned connection went back
      const titles = await orm.select({ title: items.title }).from(items).orderBy(items.id);
      expect(titles.map((r) => r.title)).toEqual(['a', 'b']);
    } finally {
      await db.query(`DROP TABLE IF EXISTS ${name}`);
      await pool.end();
    }
  });
});

import pg from 'pg';

/** The service's one table and its indexes; every statement is idempotent. */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS messages (
  id bigserial PRIMARY KEY,
  conversation_id text NOT NULL,
  role text NOT NULL,
  content text NOT NULL,
  embedding real[],
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id, id);
CREATE INDEX IF NOT EXISTS messages_unembedded ON messages (id) WHERE embedding IS NULL;
`;

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Creates the schema on the primary, under a transaction-scoped advisory lock: `CREATE … IF NOT EXISTS` run by
 * two instances starting together can still collide on the catalog (a unique violation in pg_type), the lock
 * makes the second wait for the first.
 * @param target a connection URL (a client is opened and closed here) or a connected `pg.Client` (left open).
 * @throws pg's error when the primary cannot be reached or a statement fails.
 */
export async function ensureSchema(target: string | pg.Client): Promise<void> {
  // An unreachable primary fails the start instead of hanging it.
  const client =
    typeof target === 'string'
      ? new pg.Client({ connectionString: target, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
      : target;
  if (typeof target === 'string') await client.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('inference-service:schema'))");
      await client.query(SCHEMA_SQL);
      await client.query('COMMIT');
    } catch (error) {
      // The statement's error is the one to report; a failed ROLLBACK only means the connection is gone.
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    if (typeof target === 'string') await client.end();
  }
}

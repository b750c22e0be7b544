import { describe, expect, it } from 'vitest';
import { changesNoData, isPlainRead, opensTransaction, touchesStatementTimeout } from './facade-sql.js';

describe('isPlainRead: only statements a replica can run are reads', () => {
  it.each([
    'SELECT 1',
    '  select * from t where id = $1;',
    '(SELECT 1) UNION (SELECT 2)',
    'WITH x AS (SELECT 1 AS n) SELECT n FROM x',
    "SELECT 'insert into t' AS s",
    'SELECT "update" FROM t',
    '-- a comment with delete\nSELECT 1',
    '/* for update */ SELECT updated_at FROM t',
    'SELECT $$;insert$$ AS s',
  ])('%s is a read', (sql) => {
    expect(isPlainRead(sql)).toBe(true);
  });

  it.each([
    'INSERT INTO t VALUES (1)',
    'SELECT * FROM t FOR UPDATE',
    'SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED',
    'SELECT * FROM t FOR KEY SHARE',
    'SELECT * INTO t2 FROM t',
    'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    'WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x',
    'SELECT 1; DELETE FROM t',
    "SELECT nextval('s')",
    'SELECT pg_advisory_lock(1)',
    "SELECT pg_notify('c', 'x')",
    'SELECT txid_current()',
    "SELECT E'it\\'s'",
    "SELECT 'unterminated",
    'EXPLAIN ANALYZE DELETE FROM t',
    'BEGIN',
    'SHOW search_path',
  ])('%s is not a read', (sql) => {
    expect(isPlainRead(sql)).toBe(false);
  });
});

describe('statement helpers', () => {
  it('opensTransaction matches a lone BEGIN, not a whole transaction in one string', () => {
    expect(opensTransaction('BEGIN')).toBe(true);
    expect(opensTransaction('start transaction isolation level serializable;')).toBe(true);
    expect(opensTransaction('BEGIN; INSERT INTO t VALUES (1); COMMIT')).toBe(false);
    expect(opensTransaction('SELECT 1')).toBe(false);
  });

  it('changesNoData covers reads and transaction control', () => {
    expect(changesNoData('commit')).toBe(true);
    expect(changesNoData('SELECT 1')).toBe(true);
    expect(changesNoData('update t set v = 1')).toBe(false);
  });

  it('touchesStatementTimeout ignores SET LOCAL', () => {
    expect(touchesStatementTimeout('SET statement_timeout = 0')).toBe(true);
    expect(touchesStatementTimeout("SELECT set_config('statement_timeout', '1s', false)")).toBe(true);
    expect(touchesStatementTimeout('SET LOCAL statement_timeout = 100')).toBe(false);
  });
});

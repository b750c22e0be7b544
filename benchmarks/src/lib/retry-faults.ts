/**
 * Server-side transient errors and attempt counters for `retry-storm`: a PL/pgSQL function fails a share of the
 * statements that reach PostgreSQL with a real `40001` (serialization_failure), and counts every execution in a
 * sequence per client, so the load each client puts on the database is measured at the database.
 */
import type pg from 'pg';

/** SQLSTATE the function raises: serialization_failure, the transient error applications are told to retry. */
export const TRANSIENT_SQLSTATE = '40001';

/** The statement every variant runs; `$1` is the variant's index, which picks its attempt counter. */
export const FLAKY_SQL = 'SELECT ballast_flaky($1::int) AS ok';

function counterName(i: number): string {
  return `ballast_attempts_${i}`;
}

/** Server-side attempt counts per variant (in variant order) at a moment, in ms since `origin`. */
export interface CounterSample {
  tMs: number;
  counts: number[];
}

/**
 * Controls the error share of `ballast_flaky` and reads its counters, over one dedicated connection.
 * Create it with {@link installFaults}.
 */
export interface FaultControl {
  /** Sets the share of executions that fail (0..1), then samples the counters (the moment the change is live). */
  set(p: number, origin: number): Promise<CounterSample>;
  /** Reads every variant's counter. */
  sample(origin: number): Promise<CounterSample>;
  close(): Promise<void>;
}

/**
 * Creates (or replaces) `ballast_fault`, `ballast_flaky(int)` and one counter sequence per variant on `client`'s
 * database, starting with no errors. Sequences count every execution, including those that fail: `nextval` is
 * not transactional, and they need no row lock (a counter row would serialise the attempts it counts).
 */
export async function installFaults(client: pg.Client, variants: number): Promise<FaultControl> {
  const counters = Array.from({ length: variants }, (_, i) => counterName(i));
  await client.query(`
    DROP TABLE IF EXISTS ballast_fault;
    CREATE UNLOGGED TABLE ballast_fault (p float8 NOT NULL);
    INSERT INTO ballast_fault VALUES (0);
    ${counters.map((c) => `DROP SEQUENCE IF EXISTS ${c}; CREATE SEQUENCE ${c};`).join('\n')}
    CREATE OR REPLACE FUNCTION ballast_flaky(v int) RETURNS boolean LANGUAGE plpgsql AS $$
    DECLARE share float8;
    BEGIN
      PERFORM nextval(format('ballast_attempts_%s', v)::regclass);
      SELECT p INTO share FROM ballast_fault;
      IF random() < share THEN
        RAISE EXCEPTION 'ballast_flaky: injected transient failure' USING ERRCODE = '${TRANSIENT_SQLSTATE}';
      END IF;
      RETURN true;
    END $$;`);
  // a fresh sequence has last_value 1 with is_called false: it has counted nothing yet
  const select = `SELECT ${counters
    .map((c, i) => `(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ${c}) AS c${i}`)
    .join(', ')}`;
  const sample = async (origin: number): Promise<CounterSample> => {
    const r = await client.query<Record<string, string>>(select);
    const row = r.rows[0] ?? {};
    return {
      tMs: performance.now() - origin,
      counts: counters.map((_, i) => Number(row[`c${i}`])),
    };
  };
  return {
    async set(p, origin) {
      await client.query('UPDATE ballast_fault SET p = $1', [p]);
      const tMs = performance.now() - origin;
      // the counters a moment later: what ran before the change, plus the few attempts of that moment
      return { ...(await sample(origin)), tMs };
    },
    sample,
    close: () => client.end(),
  };
}

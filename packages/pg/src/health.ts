import { normaliseInsertLsn, parseLsn } from './lsn.js';
import type { HostHealth } from './types.js';

/** The one method of `pg.Client` (or a PooledConnection wrapper) that the checks here need. */
export interface HealthQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * The health check: one statement, one round trip, works for any role that is a member of `pg_monitor` (no
 * superuser needed). Columns:
 * - `rec`: `pg_is_in_recovery()`, read once in the subquery so every column agrees with it;
 * - `sysid`: the cluster's system identifier;
 * - `lsn`: a primary's insert position; a standby's replay position (NULL on a standby that has replayed
 *   nothing);
 * - `wr_tli`: a standby's `pg_stat_wal_receiver.received_tli` (NULL while its walreceiver is not running); on
 *   a primary, the timeline of its current WAL file (the first 8 hex digits of the file name);
 * - `ckpt_tli`: the timeline of the last checkpoint (a standby's last restartpoint): the fallback timeline;
 * - `paused`: a standby's `pg_is_wal_replay_paused()`.
 */
export const HEALTH_CHECK_SQL = `SELECT s.rec,
  (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
  CASE WHEN s.rec THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END::text AS lsn,
  CASE WHEN s.rec THEN (SELECT received_tli FROM pg_stat_wal_receiver)
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS wr_tli,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS ckpt_tli,
  CASE WHEN s.rec THEN pg_is_wal_replay_paused() ELSE false END AS paused,
  CASE WHEN NOT s.rec THEN 0
       WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
       ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 END AS lag_ms
FROM (SELECT pg_is_in_recovery() AS rec) AS s`;

/** The row of {@link HEALTH_CHECK_SQL}, as pg returns it. */
export interface HealthCheckRow {
  rec: boolean;
  sysid: string;
  lsn: string | null;
  wr_tli: number | null;
  ckpt_tli: number | null;
  paused: boolean;
  lag_ms: number | null;
}

/**
 * Checks one host in one round trip ({@link HEALTH_CHECK_SQL}). The caller applies its own deadline (the
 * client is a pooled connection with a statement deadline, or a dedicated health connection).
 *
 * The timeline of a standby is its walreceiver's `received_tli`. While the walreceiver is not running (the
 * primary is down, or the standby restores from the archive), it is the larger of the timeline of its last
 * restartpoint (`pg_control_checkpoint()`, which lags a timeline switch until the next restartpoint) and
 * `previous.timeline` when `previous` is from the same cluster: a standby's timeline never goes down.
 *
 * A standby that has not replayed any record yet reports `lsn` 0.
 * @param now clock ms stored as `at`
 * @param previous the last health of this host, for the timeline fallback
 * @throws whatever `client.query` throws (connection errors, SQLSTATE errors), unchanged
 */
export async function checkHealth(
  client: HealthQueryable,
  now: number,
  previous?: HostHealth | undefined,
): Promise<HostHealth> {
  const result = await client.query(HEALTH_CHECK_SQL);
  return toHostHealth(result.rows[0] as HealthCheckRow | undefined, now, previous);
}

/** Maps the row of {@link HEALTH_CHECK_SQL}; exported for tests of the fallbacks a live server rarely shows. */
export function toHostHealth(
  row: HealthCheckRow | undefined,
  now: number,
  previous?: HostHealth,
): HostHealth {
  if (row === undefined) throw new Error('health check returned no row');
  const lsn = row.lsn === null ? 0n : parseLsn(row.lsn);
  let timeline = row.wr_tli ?? row.ckpt_tli ?? 0;
  if (row.wr_tli === null && previous !== undefined && previous.systemId === row.sysid) {
    timeline = Math.max(timeline, previous.timeline);
  }
  return {
    at: now,
    inRecovery: row.rec,
    lsn: row.rec ? lsn : normaliseInsertLsn(lsn),
    systemId: row.sysid,
    timeline,
    replayPaused: row.rec && row.paused,
    // The standby's own view: 0 when it replayed all it received, else the age of its last replayed commit.
    replayLagMs: row.lag_ms == null ? Number.POSITIVE_INFINITY : Math.max(0, row.lag_ms),
  };
}

/**
 * What the pg.Pool facade needs to know about a statement's text, decided conservatively: a wrong "read" sends a
 * write to a replica (it fails there with 25006 and marks the replica down), a wrong "write" only costs a replica
 * read. Every doubt answers "not a read".
 */

/**
 * Built-in functions that write, take locks, assign a transaction id or act on other sessions: a SELECT calling
 * one is not a plain read. User functions that write cannot be seen from the text: see {@link isPlainRead}.
 */
const SIDE_EFFECT_FUNCTIONS =
  /\b(nextval|setval|currval|lastval|pg_advisory_\w*|pg_try_advisory_\w*|pg_notify|set_config|txid_current\w*|pg_current_xact_id\w*|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_switch_wal|pg_create_\w+|pg_drop_\w+|pg_replication_\w+|pg_logical_\w+|lo_\w+|dblink\w*)\s*\(/i;

/** Keywords that make a SELECT or WITH anything but a plain read: data-modifying CTEs, row locks, SELECT INTO. */
const WRITE_KEYWORDS = /\b(insert|update|delete|merge|into|share|truncate|copy|call|do|lock|nowait)\b/i;

/**
 * Removes comments, string literals, quoted identifiers and dollar-quoted bodies, so keywords inside them do not
 * count. Returns `undefined` when the text is not something this simple scanner can vouch for (backslash escapes).
 */
export function stripLiterals(text: string): string | undefined {
  if (text.includes('\\')) return undefined; // E'…\'…' would fool the scanner: not worth the risk
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      out += ' ';
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return undefined;
      i = end + 2;
      out += ' ';
    } else if (c === "'" || c === '"') {
      // '' (or "") inside a literal is an escaped quote: scanning on from the second quote handles it.
      const end = text.indexOf(c, i + 1);
      if (end < 0) return undefined;
      i = end + 1;
      out += c === "'" ? " '' " : ' "" ';
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i));
      if (tag === null) {
        out += c; // a parameter ($1)
        i++;
        continue;
      }
      const end = text.indexOf(tag[0], i + tag[0].length);
      if (end < 0) return undefined;
      i = end + tag[0].length;
      out += " '' ";
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * A statement the facade may send to a replica: one statement (no `;` but a trailing one) that starts with
 * `SELECT`, or `WITH … SELECT`, without data-modifying CTEs, `FOR UPDATE`/`FOR SHARE`, `SELECT … INTO`, or
 * a call to a built-in function with side effects (`nextval`, advisory locks, `pg_notify`, `txid_current` …).
 *
 * A SELECT that calls a user-defined function which writes is still classified as a read (the text cannot tell):
 * route such code through `reads: 'primary'` or `pool.connect()`.
 */
export function isPlainRead(text: string): boolean {
  const bare = stripLiterals(text);
  if (bare === undefined) return false;
  const body = bare.trim().replace(/;\s*$/, '');
  if (body.includes(';')) return false;
  const start = /^\(*\s*(select|with)\b/i.exec(body);
  if (start === null) return false;
  if (WRITE_KEYWORDS.test(body) || SIDE_EFFECT_FUNCTIONS.test(body)) return false;
  // `WITH x AS (…) SELECT`: the main statement must be a SELECT too (the keyword check excluded the others).
  return start[1]?.toLowerCase() === 'select' || /\)\s*\(*\s*select\b/i.test(body);
}

/**
 * A lone `BEGIN` / `START TRANSACTION` sent through `pool.query`: on pg.Pool it leaves a transaction open on a
 * pooled connection that the next caller inherits. The facade refuses it.
 */
export function opensTransaction(text: string): boolean {
  const bare = stripLiterals(text);
  if (bare === undefined) return false;
  const body = bare.trim().replace(/;\s*$/, '');
  return !body.includes(';') && /^(begin|start\s+transaction)\b/i.test(body);
}

/** Transaction control and session commands that change no data (for the session's position). */
export function changesNoData(text: string): boolean {
  return (
    isPlainRead(text) ||
    /^\s*(begin|start|commit|end|rollback|abort|savepoint|release|set|reset|show|prepare\s+transaction)\b/i.test(
      text,
    )
  );
}

/**
 * The statement touches `statement_timeout` at session level: Ballast's connection tracks that setting to
 * derive deadlines, so a pinned client that ran it is closed on release rather than pooled with an unknown value.
 */
export function touchesStatementTimeout(text: string): boolean {
  return /statement_timeout/i.test(text) && !/^\s*set\s+local\b/i.test(text);
}

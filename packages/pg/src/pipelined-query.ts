import pg from 'pg';

/** The parts of pg's `Query` (runtime class, not in its typings) the submittables here drive. */
export interface InnerQuery {
  text: string;
  _result: unknown;
  requiresPreparation(): boolean;
  submit(connection: PgConnection): Error | null;
  handleRowDescription(msg: unknown): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: PgConnection): void;
  handleEmptyQuery(connection: PgConnection): void;
  handleError(error: unknown, connection: PgConnection): void;
  handleReadyForQuery(connection: PgConnection): void;
  handlePortalSuspended(connection: PgConnection): void;
  handleCopyInResponse(connection: PgConnection): void;
  handleCopyData(msg: unknown, connection: PgConnection): void;
}

/** The parts of pg's `Connection` used to write messages. */
export interface PgConnection {
  stream: { cork?: () => void; uncork?: () => void };
  query(text: string): void;
  parse(query: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  describe(msg: { type: 'P'; name: string }): void;
  execute(config: { portal: string; rows: number }): void;
}

/** pg's `Query` constructor (exported by pg at runtime, typed loosely by @types/pg). */
export type QueryCtor = new (
  config: string | pg.QueryConfig,
  values: readonly unknown[] | undefined,
  callback: (error: Error | null, result: pg.QueryResult) => void,
) => InnerQuery;

/** A pg `Query` that reports to `callback`. */
export function newQuery(
  text: string | pg.QueryConfig,
  values: readonly unknown[] | undefined,
  callback: (error: Error | null, result: pg.QueryResult) => void,
): InnerQuery {
  const Query = (pg as unknown as { Query: QueryCtor }).Query;
  return new Query(text, values, callback);
}

/**
 * Can `text` be pipelined with another statement (a replica check, a position capture)? A plain statement only: no prepared-statement name (a
 * name parsed on this connection already would skip its Parse), no row-limited portal, no custom submittable.
 */
export function canPipeline(text: string | pg.QueryConfig, values: readonly unknown[] | undefined): boolean {
  if (values !== undefined && !Array.isArray(values)) return false;
  if (typeof text === 'string') return text.trim() !== '';
  const config = text as pg.QueryConfig & { rows?: unknown; submit?: unknown; queryMode?: unknown };
  return (
    typeof config.text === 'string' &&
    config.text.trim() !== '' &&
    config.name === undefined &&
    config.rows === undefined &&
    config.submit === undefined &&
    (config.values === undefined || Array.isArray(config.values)) &&
    config.queryMode !== 'simple'
  );
}

/**
 * A pg submittable (the protocol pg-cursor uses: the query object writes its own messages and receives the
 * answers) that wraps pg's own `Query` for the caller's statement, so rows, fields, types and errors are exactly
 * what pg gives, and adds messages of its own around it. Awaitable: `await client.query(it)` gives the result.
 * Subclasses write their messages in `submit` and take their own answers before handing the rest to `inner`.
 */
export abstract class PipelinedQuery<R extends pg.QueryResultRow> implements PromiseLike<pg.QueryResult<R>> {
  protected readonly inner: InnerQuery;
  readonly #promise: Promise<pg.QueryResult<R>>;
  protected resolve!: (result: pg.QueryResult<R>) => void;
  protected reject!: (error: unknown) => void;

  constructor(text: string | pg.QueryConfig, values: readonly unknown[] | undefined) {
    this.#promise = new Promise<pg.QueryResult<R>>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.inner = newQuery(text, values, (error, result) => this.answered(error, result));
  }

  /** pg's `Query` answered the caller's statement (it may call twice: an error while binding, then RFQ). */
  protected abstract answered(error: Error | null, result: pg.QueryResult): void;
  abstract submit(connection: PgConnection): Error | null;

  // pg's Client reads these from the active query.
  get text(): string {
    return this.inner.text;
  }
  get name(): undefined {
    return undefined;
  }
  /** pg's Client sets the connection's type parsers on it. */
  get _result(): unknown {
    return this.inner._result;
  }

  // biome-ignore lint/suspicious/noThenProperty: awaitable on purpose, like pg's own query promises.
  then<A = pg.QueryResult<R>, B = never>(
    onFulfilled?: ((value: pg.QueryResult<R>) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  handleRowDescription(msg: unknown): void {
    this.inner.handleRowDescription(msg);
  }
  handleDataRow(msg: unknown): void {
    this.inner.handleDataRow(msg);
  }
  handleCommandComplete(msg: unknown, connection: PgConnection): void {
    this.inner.handleCommandComplete(msg, connection);
  }
  handleEmptyQuery(connection: PgConnection): void {
    this.inner.handleEmptyQuery(connection);
  }
  handleError(error: unknown, connection: PgConnection): void {
    this.inner.handleError(error, connection);
  }
  handleReadyForQuery(connection: PgConnection): void {
    this.inner.handleReadyForQuery(connection);
  }
  handlePortalSuspended(connection: PgConnection): void {
    this.inner.handlePortalSuspended(connection);
  }
  handleCopyInResponse(connection: PgConnection): void {
    this.inner.handleCopyInResponse(connection);
  }
  handleCopyData(msg: unknown, connection: PgConnection): void {
    this.inner.handleCopyData(msg, connection);
  }
}

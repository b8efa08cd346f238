// Copyright 2026 the locco authors. MIT license.
// The client and option types of the PostgreSQL adapter (public, exported
// from postgres.ts): the two drivers' shapes the adapter relies on.

/**
 * A node-postgres client: a `Pool`, a `Client` or a `PoolClient` of the `pg`
 * package fits as it is, outside any open transaction. The adapter runs one
 * statement per call, as a simple query (`values` is empty); the promise
 * rejects with the driver's error, which it passes on unchanged.
 *
 * @example A pool typed structurally
 * ```ts
 * import type { PgLikeClient } from "@kontsedal/locco/postgres";
 *
 * // `new pg.Pool()` and `new pg.Client()` are assignable to PgLikeClient.
 * async function now(client: PgLikeClient): Promise<unknown> {
 *   return (await client.query("SELECT now() AS now", [])).rows[0]?.now;
 * }
 * ```
 */
export interface PgLikeClient {
  /**
   * Runs one statement.
   *
   * @param text The SQL.
   * @param values The parameters: always empty, so the statement is sent as a simple query.
   * @returns The result, whose `rows` the adapter reads by column position.
   */
  query(text: string, values: string[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * A `pg.Pool`: the adapter checks one connection out of it, with
 * `connect()`, to `LISTEN` on while waiters wait, and closes it in
 * {@linkcode PostgresAdapter.close}. It is told from a `pg.Client` by its
 * `totalCount`.
 *
 * @example A pool typed structurally
 * ```ts
 * import type { PgLikePool } from "@kontsedal/locco/postgres";
 *
 * // `new pg.Pool()` is assignable to PgLikePool.
 * function connections(pool: PgLikePool): number {
 *   return pool.totalCount;
 * }
 * ```
 */
export interface PgLikePool extends PgLikeClient {
  /** How many connections the pool has open. */
  readonly totalCount: number;
  /**
   * The pool's options: with `max` below 2 the adapter never checks a
   * connection out to listen (the pool's only connection would be gone for
   * every statement), and its waiters poll.
   */
  readonly options?: { readonly max?: number | undefined } | undefined;
  /**
   * Checks a connection out of the pool.
   *
   * @returns The connection, given back with `release()`.
   */
  connect(): Promise<PgLikeListenConnection>;
}

/**
 * The connection a {@linkcode PgLikePool} hands out (a `pg.PoolClient`), on
 * which the adapter listens for releases.
 *
 * @example A pooled connection typed structurally
 * ```ts
 * import type { PgLikeListenConnection } from "@kontsedal/locco/postgres";
 *
 * // `await pool.connect()` of a `pg.Pool` fits.
 * function giveBack(connection: PgLikeListenConnection): void {
 *   connection.release();
 * }
 * ```
 */
export interface PgLikeListenConnection extends PgLikeClient {
  /**
   * Adds an event listener: `notification`, `error` and `end` are used.
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns Anything.
   */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  /**
   * Removes an event listener.
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns Anything.
   */
  // deno-lint-ignore no-explicit-any
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  /**
   * Gives the connection back to the pool; with an error, the pool closes it.
   *
   * @param error Why the connection must not be reused.
   */
  release(error?: Error | boolean): void;
}

/**
 * A postgres.js `sql` instance (`postgres(url)` of the `postgres` package).
 * The adapter runs statements with `unsafe(text, [])` (a simple query) and
 * waits with `listen()`. A transaction's `tx` does not fit: the adapter's
 * statements must run outside any open transaction.
 *
 * @example An sql instance typed structurally
 * ```ts
 * import type { PostgresJsLikeSql } from "@kontsedal/locco/postgres";
 *
 * // `postgres(url)` from "postgres" is assignable to PostgresJsLikeSql.
 * async function count(sql: PostgresJsLikeSql): Promise<number> {
 *   return (await sql.unsafe("SELECT 1 AS one", [])).length;
 * }
 * ```
 */
export interface PostgresJsLikeSql {
  /**
   * Runs one statement.
   *
   * @param query The SQL.
   * @param values The parameters: always empty, so the statement is sent as a simple query.
   * @returns The rows, read by column position (renamed columns are fine).
   */
  unsafe(query: string, values: string[]): PromiseLike<ArrayLike<Record<string, unknown>>>;
  /**
   * Optional: listens on a channel, on the one listening connection
   * postgres.js keeps per `sql` instance (it reconnects it by itself).
   * Without it, waiters poll.
   *
   * @param channel The channel.
   * @param onNotify Called with each notification's payload.
   * @param onListen Called each time `LISTEN` takes effect.
   * @returns A handle whose `unlisten()` stops listening.
   */
  listen?(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): PromiseLike<{ unlisten(): PromiseLike<unknown> }>;
}

/**
 * Either PostgreSQL client: node-postgres (a `pg.Pool`, `pg.Client` or
 * pooled client) or a postgres.js `sql`, told apart by shape (`unsafe()`).
 *
 * @example Accept either client
 * ```ts
 * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
 *
 * function adapterFor(client: PostgresLikeClient): PostgresAdapter {
 *   return new PostgresAdapter({ client });
 * }
 * ```
 */
export type PostgresLikeClient = PgLikeClient | PgLikePool | PostgresJsLikeSql;

/**
 * Options of {@linkcode PostgresAdapter}.
 *
 * @example Every option
 * ```ts
 * import type { PostgresAdapterOptions, PostgresLikeClient } from "@kontsedal/locco/postgres";
 *
 * function options(client: PostgresLikeClient): PostgresAdapterOptions {
 *   return { client, tableName: "app.locks", createTable: false, waitStrategy: "poll" };
 * }
 * ```
 */
export interface PostgresAdapterOptions {
  /**
   * The client: a `pg.Pool`, a `pg.Client` or a postgres.js `sql`. The
   * adapter never configures or closes it.
   */
  client: PostgresLikeClient;
  /**
   * The lease table, optionally schema-qualified (`"locks"` or
   * `"app.locks"`): letters, digits and `_`, not starting with a digit, at
   * most 57 characters each part. It is quoted, so its case is kept. The
   * fence sequence is this name plus `_fence`.
   *
   * @default {"locco_locks"}
   */
  tableName?: string | undefined;
  /**
   * Whether the adapter creates the table and its sequence on first use (and
   * again if they are dropped). Turn it off when the database user may not
   * run DDL, and run {@linkcode migratePostgres} or
   * {@linkcode postgresSchemaSql} once instead.
   *
   * @default {true}
   */
  createTable?: boolean | undefined;
  /**
   * How `acquire()` waits for a held key. `"notify"`: woken by the `NOTIFY`
   * a release sends, on a listening connection (one connection checked out
   * of a `pg.Pool`, or postgres.js's own); a `pg.Client` cannot open one,
   * so it polls. `"poll"`: retry after each retry delay, with no listening
   * connection (for example behind a transaction-pooling PgBouncer, which
   * cannot carry `LISTEN`). A `pg.Pool` whose `options.max` is below 2
   * polls too: its only connection cannot be lent out to listen. Either way,
   * waiters of one adapter are served first come first served.
   *
   * @default {"notify"}
   */
  waitStrategy?: "notify" | "poll" | undefined;
}

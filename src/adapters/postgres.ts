// Copyright 2026 the locco authors. MIT license.

/**
 * The PostgreSQL adapter, for a client you create, own and close:
 * [node-postgres](https://node-postgres.com) (`pg`: a `Pool` or a `Client`) or
 * [postgres.js](https://github.com/porsager/postgres) (`postgres`). A lock is
 * one row of a lease table (`locco_locks` by default, created on first use or
 * by {@linkcode migratePostgres}). Acquire, release and extend are one
 * statement each, timed by the server's clock, and must run outside any open
 * transaction; fences come from a sequence; waiters are woken by
 * `LISTEN`/`NOTIFY`.
 *
 * ```ts
 * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `new pg.Pool({ connectionString })` or `postgres(url)`.
 * async function updateUser(client: PostgresLikeClient): Promise<void> {
 *   const adapter = new PostgresAdapter({ client });
 *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 10 } });
 *   await locker.lock("user:123", 3000).acquire(async (lock) => {
 *     // critical section; pass lock.fence to the writes it guards
 *   });
 *   await adapter.close();
 * }
 * ```
 *
 * @module
 */

import type { ILockAdapter, LockIdentity, LockLease } from "../adapter.ts";
import { LoccoError, LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import { ValidationError } from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import {
  describe,
  validateIdentity,
  validateKey,
  validateLease,
  validateObject,
  validateWait,
} from "../_validate.ts";
import { isPostgresClient, type Row, type Transport, transportOf } from "./_postgres_client.ts";
import {
  DEFAULT_TABLE,
  isUndefinedTable,
  schemaSql,
  type Statements,
  statements,
  type TableNames,
  tableNames,
  toHex,
} from "./_postgres_sql.ts";
import { PostgresWaiting } from "./_postgres_wait.ts";
import type { PostgresAdapterOptions } from "./_postgres_types.ts";

export type {
  PgLikeClient,
  PgLikeListenConnection,
  PgLikePool,
  PostgresAdapterOptions,
  PostgresJsLikeSql,
  PostgresLikeClient,
} from "./_postgres_types.ts";
export {
  migratePostgres,
  type PostgresSchemaOptions,
  postgresSchemaSql,
} from "./_postgres_schema.ts";

/**
 * Locks in a PostgreSQL table, one row per key ever used: `(key_hash bytea
 * PRIMARY KEY, key bytea, owner bytea, expires_at timestamptz, fence
 * bigint)`, the key and owner stored as their UTF-8 bytes (so any key,
 * U+0000 included, of any length: the primary key is its SHA-256).
 *
 * - Acquire is one `INSERT ... ON CONFLICT (key_hash) DO UPDATE ... WHERE
 *   expires_at <= clock_timestamp()`: it takes a free key or an expired lock,
 *   atomically, and returns the fence (a key's first acquisition takes its
 *   fence in a second statement). Release frees the row (it stays, so the
 *   key's next fence is taken under its row lock) and extend moves
 *   `expires_at`, each only for the owner of an unexpired lock, so a lost
 *   lock is never re-created.
 * - Expiry is on the server's clock: `expires_at = clock_timestamp() + ttl`,
 *   evaluated after the request was sent, while the Lock counts its validity
 *   from the send time on the host's monotonic clock; so the server never
 *   frees a lock the host still believes it holds, whatever the hosts'
 *   clocks say (as long as the server's clock does not jump forward).
 * - Fences come from a sequence (`<table>_fence`), taken while the row is
 *   locked, so they grow across release, expiry and takeover, and across a
 *   `DELETE` or `TRUNCATE` of the table. They restart only if the sequence
 *   is dropped or reset.
 * - Each method is one statement in its own implicit transaction, sent as a
 *   simple query: no session state, so it works through a
 *   transaction-pooling PgBouncer (waiting needs `waitStrategy: "poll"`
 *   there, or a client connected directly). The statements must run outside
 *   any explicit transaction (a rollback would undo a lock its holder
 *   believes it holds): a statement that finds itself inside one changes
 *   nothing, and the call rejects with `ValidationError`.
 * - The table keeps one row per key ever used; delete old rows at will
 *   (`DELETE FROM locco_locks WHERE expires_at < now() - interval '1 day'`).
 *
 * @example Contention, then release (with a client of your own)
 * ```ts
 * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
 * import { LockCreateError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * async function demo(client: PostgresLikeClient): Promise<void> {
 *   const adapter = new PostgresAdapter({ client, tableName: "app_locks" });
 *   const { fence } = await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
 *   assert.ok(fence > 0);
 *   await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "b", ttl: 1000 }), LockCreateError);
 *   await adapter.releaseLock({ key: "k", uniqueValue: "a" });
 *   await adapter.close();
 * }
 * ```
 */
export class PostgresAdapter implements ILockAdapter {
  #transport: Transport;
  #names: TableNames;
  #sql: Statements;
  #createTable: boolean;
  #schema: Promise<void> | undefined;
  #waiting: PostgresWaiting;

  /**
   * Creates an adapter over `options.client`. It does no I/O: the table is
   * created on first use.
   *
   * @param options The client, the table name, whether to create the table, the wait strategy.
   * @throws {ValidationError} When an option is invalid.
   * @example A table in another schema
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   *
   * function adapterFor(client: PostgresLikeClient): PostgresAdapter {
   *   return new PostgresAdapter({ client, tableName: "app.locks", waitStrategy: "poll" });
   * }
   * ```
   */
  constructor(options: PostgresAdapterOptions) {
    validateObject(options, "options");
    const { client, tableName = DEFAULT_TABLE, createTable = true, waitStrategy = "notify" } =
      options;
    if (!isPostgresClient(client)) {
      throw new ValidationError(
        `options.client should be a pg Pool or Client (query()) or a postgres.js sql (unsafe()): got ${
          describe(client)
        }`,
        "options.client",
      );
    }
    const names = tableNames(tableName, "options.tableName");
    if (typeof createTable !== "boolean") {
      throw new ValidationError(
        `options.createTable should be a boolean: got ${describe(createTable)}`,
        "options.createTable",
      );
    }
    if (waitStrategy !== "notify" && waitStrategy !== "poll") {
      throw new ValidationError(
        `options.waitStrategy should be "notify" or "poll": got ${describe(waitStrategy)}`,
        "options.waitStrategy",
      );
    }
    this.#transport = transportOf(client, waitStrategy === "notify");
    this.#names = names;
    this.#sql = statements(names);
    this.#createTable = createTable;
    this.#waiting = new PostgresWaiting(this.#transport.listen, names.channel);
  }

  /**
   * Takes the key if it is free or its lock expired, in one statement.
   *
   * @param lease The key, unique value and ttl in milliseconds.
   * @returns The lock's fencing token, from the table's sequence.
   * @throws {LockCreateError} When an unexpired lock holds the key (even with the same unique value), or an earlier waiter of this adapter waits for it.
   * @throws {ValidationError} When an argument is invalid, or the client is inside an open transaction.
   * @example Take a free key
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   *
   * async function take(client: PostgresLikeClient): Promise<number> {
   *   const adapter = new PostgresAdapter({ client });
   *   const { fence } = await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   *   return fence;
   * }
   * ```
   */
  async createLock(lease: LockLease): Promise<{ fence: number }> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    this.#waiting.admit(key, uniqueValue);
    const sentAt = monotonicNow();
    const keyHex = toHex(key);
    const ownerHex = toHex(uniqueValue);
    let [fence] = await this.#row(this.#sql.acquire(keyHex, ownerHex, ttl));
    if (fence === null || fence === undefined) {
      this.#waiting.contended(key, uniqueValue, sentAt);
      throw new LockCreateError(`Key ${describe(key)} is already locked`);
    }
    if (fence === "0") {
      // The key's first row (or its first since a DELETE): its fence is
      // taken now, under this lock, so that it is newer than any issued.
      [fence] = await this.#row(this.#sql.fence(keyHex, ownerHex));
      if (fence === null || fence === undefined) {
        throw new LockCreateError(
          `Key ${describe(key)} was taken over right after its acquisition`,
        );
      }
    }
    const value = Number(fence);
    if (typeof fence !== "string" || !Number.isSafeInteger(value) || value <= 0) {
      throw new LoccoError(`Unexpected fence from PostgreSQL: ${describe(fence)}`);
    }
    this.#waiting.took(key, uniqueValue);
    return { fence: value };
  }

  /**
   * Frees the lock if this unique value holds it, unexpired, and notifies
   * the key's waiters in the same statement.
   *
   * @param identity The key and unique value.
   * @returns A promise that resolves once the lock is freed.
   * @throws {LockReleaseError} "Lock is already expired" or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid, or the client is inside an open transaction.
   * @example Release by the owner
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   *
   * async function cycle(client: PostgresLikeClient): Promise<void> {
   *   const adapter = new PostgresAdapter({ client });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   *   await adapter.releaseLock({ key: "k", uniqueValue: "a" });
   * }
   * ```
   */
  async releaseLock(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const keyHex = toHex(key);
    const state = await this.#state(this.#sql.release(keyHex, toHex(uniqueValue)));
    if (state === "expired") throw new LockReleaseError("Lock is already expired");
    if (state === "taken") throw new LockReleaseError("Lock is already taken");
  }

  /**
   * Sets the expiry to the server's now + `ttl` if this unique value holds
   * the lock, unexpired.
   *
   * @param lease The key, unique value and new ttl in milliseconds.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} "Lock is already expired" or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid, or the client is inside an open transaction.
   * @example Extend by the owner
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   *
   * async function hold(client: PostgresLikeClient): Promise<void> {
   *   const adapter = new PostgresAdapter({ client });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   *   await adapter.extendLock({ key: "k", uniqueValue: "a", ttl: 5000 });
   * }
   * ```
   */
  async extendLock(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const state = await this.#state(this.#sql.extend(toHex(key), toHex(uniqueValue), ttl));
    if (state === "expired") throw new LockExtendError("Lock is already expired");
    if (state === "taken") throw new LockExtendError("Lock is already taken");
  }

  /**
   * Tells whether this unique value holds the key, unexpired (server clock).
   *
   * @param identity The key and unique value.
   * @returns Whether the lock is held by this unique value.
   * @throws {ValidationError} When an argument is invalid.
   * @example Another owner's lock
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   *
   * async function mine(client: PostgresLikeClient): Promise<boolean> {
   *   return await new PostgresAdapter({ client }).isValidLock({ key: "k", uniqueValue: "a" });
   * }
   * ```
   */
  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    return (await this.#query(this.#sql.isValid(toHex(key), toHex(uniqueValue)))).length > 0;
  }

  /**
   * Tells whether the key is held, without revealing by whom: the time left
   * of its lease on the server's clock and its fencing token.
   *
   * @param key The key.
   * @returns `{ expiresIn, fence }` (milliseconds, at least 1) while the key is held, else `undefined`.
   * @throws {ValidationError} When `key` is invalid.
   * @example Inspect a key
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   *
   * async function held(client: PostgresLikeClient): Promise<boolean> {
   *   return (await new PostgresAdapter({ client }).inspectLock("k")) !== undefined;
   * }
   * ```
   */
  async inspectLock(key: string): Promise<{ expiresIn: number; fence?: number } | undefined> {
    const rows = await this.#query(this.#sql.inspect(toHex(validateKey(key))));
    const row = rows[0];
    if (row === undefined) return undefined;
    const expiresIn = Math.max(1, Number(row[0]));
    const fence = Number(row[1]);
    return Number.isSafeInteger(fence) && fence > 0 ? { expiresIn, fence } : { expiresIn };
  }

  /**
   * Waits, first come first served among this adapter's waiters, until a
   * release of the key is notified, or `maxWaitMs` passed, or `signal`
   * aborted. The first call opens the listening connection (see
   * `waitStrategy`); a lost notification or connection only delays a waiter
   * to its retry delay.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @example Waiting through a Locker
   * ```ts
   * import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
   * import { Locker } from "@kontsedal/locco";
   *
   * async function queue(client: PostgresLikeClient): Promise<void> {
   *   const adapter = new PostgresAdapter({ client });
   *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 30 } });
   *   await locker.lock("k", 5000).acquire(async () => {});
   *   await adapter.close();
   * }
   * ```
   */
  async waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { key, uniqueValue } = validateWait(identity, maxWaitMs, signal);
    await this.#waiting.wait(key, uniqueValue, maxWaitMs, signal);
  }

  /**
   * Stops listening: closes the connection it checked out of a `pg.Pool`
   * (destroyed, never reused), or unlistens on postgres.js (waiting at most
   * 1 s for the server); a listening connection still being opened is closed
   * when it arrives, not awaited. The client stays open. Call it before
   * closing the client.
   *
   * @returns A promise that resolves once the adapter stopped listening.
   * @example Close the adapter, then the client
   * ```ts
   * import { PostgresAdapter } from "@kontsedal/locco/postgres";
   *
   * async function shutdown(pool: { query(text: string, values: string[]): Promise<{ rows: [] }>; end(): Promise<void> }): Promise<void> {
   *   await new PostgresAdapter({ client: pool }).close();
   *   await pool.end();
   * }
   * ```
   */
  close(): Promise<void> {
    return this.#waiting.close();
  }

  async #state(text: string): Promise<string> {
    const [state] = await this.#row(text);
    if (state === "done" || state === "expired" || state === "taken") return state;
    throw new LoccoError(`Unexpected reply from PostgreSQL: ${describe(state)}`);
  }

  // A write statement's one row, whose last value says whether it ran inside
  // an explicit transaction: then it changed nothing (a rollback could undo
  // what the adapter reported), and the call fails.
  async #row(text: string): Promise<unknown[]> {
    const row = (await this.#query(text))[0];
    if (row === undefined) throw new LoccoError("Unexpected reply from PostgreSQL: no row");
    const inTransaction = row[row.length - 1];
    if (inTransaction === false || inTransaction === "f") return row;
    if (inTransaction === true || inTransaction === "t") {
      throw new ValidationError(
        "options.client runs its statements inside an open transaction (BEGIN without COMMIT, " +
          "or a driver that sends them with the extended protocol): the adapter's statements " +
          "must each run as their own transaction; nothing was changed",
        "options.client",
      );
    }
    throw new LoccoError(`Unexpected reply from PostgreSQL: ${describe(inTransaction)}`);
  }

  // A missing table or sequence (never created, or dropped) is created again
  // and the statement, which did nothing, is sent once more.
  async #query(text: string): Promise<Row[]> {
    if (!this.#createTable) return await this.#transport.query(text);
    await this.#ensureSchema();
    try {
      return await this.#transport.query(text);
    } catch (error) {
      if (!isUndefinedTable(error)) throw error;
      this.#schema = undefined;
      await this.#ensureSchema();
      return await this.#transport.query(text);
    }
  }

  // Concurrent first calls share one creation; a failure is not kept.
  #ensureSchema(): Promise<void> {
    let pending = this.#schema;
    if (pending === undefined) {
      pending = this.#transport.query(schemaSql(this.#names)).then(() => {});
      const created = pending;
      this.#schema = created;
      created.catch(() => {
        if (this.#schema === created) this.#schema = undefined;
      });
    }
    return pending;
  }
}

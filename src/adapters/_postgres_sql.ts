// Copyright 2026 the locco authors. MIT license.
// The SQL of the PostgreSQL adapter. Every statement is one round trip and
// one implicit transaction (no session state, so it works through a
// transaction-pooling PgBouncer), sent as a simple query: the only text
// spliced in is the validated, quoted table name and values of a checked
// form (hex digits and integers, see below), never a caller's text.
//
// Keys and owners are stored as bytea, the UTF-8 bytes of the string sent as
// hex: PostgreSQL text cannot hold U+0000, which a locco key may contain.
// Times are the server's (clock_timestamp()), so hosts' clocks do not matter.
// Results are read by position, never by column name (a client may rename
// columns, as postgres.js's `transform` does).

import { describe } from "../_validate.ts";
import { ValidationError } from "../errors.ts";

/** The default lease table. */
export const DEFAULT_TABLE = "locco_locks";

// Unquoted-identifier characters only, so the name can be quoted and spliced
// in (including into a DO block's body and the channel literal) without any
// escaping; 57 bytes leaves
// room for the "_fence" suffix within PostgreSQL's 63-byte identifiers.
const PART = "[A-Za-z_][A-Za-z0-9_]{0,56}";
const TABLE_NAME = new RegExp(`^${PART}(\\.${PART})?$`);

/** The quoted names a table name stands for: the table, its fence sequence and its channel. */
export interface TableNames {
  /** `"schema"."table"` or `"table"`. */
  table: string;
  /** The fence sequence, beside the table: `"schema"."table_fence"`. */
  sequence: string;
  /** The same names as string literals for `to_regclass()`. */
  tableLiteral: string;
  sequenceLiteral: string;
  /** The LISTEN/NOTIFY channel of releases (at most 63 bytes). */
  channel: string;
}

/** Checks a table name (`name` or `schema.name`) and derives the quoted names. */
export function tableNames(tableName: unknown, parameter: string): TableNames {
  if (typeof tableName !== "string" || !TABLE_NAME.test(tableName)) {
    throw new ValidationError(
      `${parameter} should be an SQL identifier, optionally schema-qualified (letters, digits and "_", ` +
        `not starting with a digit, at most 57 characters each): got ${describe(tableName)}`,
      parameter,
    );
  }
  const parts = tableName.split(".");
  const quote = (names: string[]) => names.map((name) => `"${name}"`).join(".");
  const table = quote(parts);
  const sequenceParts = [...parts];
  sequenceParts[sequenceParts.length - 1] += "_fence";
  const sequence = quote(sequenceParts);
  let channel = `locco:${tableName}`;
  if (channel.length > 63) channel = `locco:${tableName.slice(0, 40)}:${fnv1a(tableName)}`;
  return {
    table,
    sequence,
    tableLiteral: `'${table}'`,
    sequenceLiteral: `'${sequence}'`,
    channel,
  };
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

const ENCODER = new TextEncoder();

/** The UTF-8 bytes of `value` in hex, for `decode($n, 'hex')`. */
export function toHex(value: string): string {
  let hex = "";
  for (const byte of ENCODER.encode(value)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

// A NOTIFY payload is at most 8000 bytes: a release names its key by a hex
// prefix. Two keys with the same prefix wake each other's waiters early,
// which is safe (a waiter may always resolve early).
const PAYLOAD_HEX_CHARS = 1000;

/** The payload a release of the key `keyHex` sends. */
export function releasePayload(keyHex: string): string {
  return keyHex.slice(0, PAYLOAD_HEX_CHARS);
}

/**
 * The schema: the lease table and the fence sequence. Run it once per table,
 * or let the adapter run it on first use; it is idempotent, and concurrent
 * runs serialise on a transaction-scoped advisory lock (a concurrent
 * `CREATE ... IF NOT EXISTS` can otherwise fail on a unique violation).
 */
export function schemaSql(names: TableNames): string {
  return `DO $locco$
BEGIN
  IF to_regclass(${names.tableLiteral}) IS NULL OR to_regclass(${names.sequenceLiteral}) IS NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext('locco schema ' || ${names.tableLiteral}));
    IF to_regclass(${names.sequenceLiteral}) IS NULL THEN
      -- CACHE 1: every value is taken under a row lock, in order.
      CREATE SEQUENCE ${names.sequence} AS bigint CACHE 1;
      -- A sequence dropped under a table in use starts beyond its fences.
      IF to_regclass(${names.tableLiteral}) IS NOT NULL THEN
        PERFORM setval(${names.sequenceLiteral}, max(fence), true) FROM ${names.table}
          HAVING max(fence) > 0;
      END IF;
    END IF;
    IF to_regclass(${names.tableLiteral}) IS NULL THEN
      CREATE TABLE ${names.table} (
        key_hash bytea PRIMARY KEY,
        key bytea NOT NULL,
        owner bytea NOT NULL,
        expires_at timestamptz NOT NULL,
        fence bigint NOT NULL
      );
    END IF;
  END IF;
END
$locco$`;
}

/** The statements of one table, built once per adapter. */
export interface Statements {
  /**
   * Key hex, owner hex, ttl ms → one row `(fence, in_tx)`: fence (text) when
   * taken, null when held. Fence "0": the row was inserted, and `fence` must
   * follow.
   */
  acquire(keyHex: string, ownerHex: string, ttl: number): string;
  /** Key hex, owner hex → one row `(fence, in_tx)`: a fresh fence for an inserted row, or null. */
  fence(keyHex: string, ownerHex: string): string;
  /** Key hex, owner hex → one row `(state, notified, in_tx)`: done, expired or taken. */
  release(keyHex: string, ownerHex: string): string;
  /** Key hex, owner hex, ttl ms → one row `(state, in_tx)`: done, expired or taken. */
  extend(keyHex: string, ownerHex: string, ttl: number): string;
  /** Key hex, owner hex → one row when the owner holds the key, unexpired. */
  isValid(keyHex: string, ownerHex: string): string;
  /** Key hex → one row `(expires_in, fence)` (ms and fence, text) when the key is held. */
  inspect(keyHex: string): string;
}

// The statements are sent as simple queries, without parameters: only then
// is statement_timestamp() equal to transaction_timestamp() in an implicit
// transaction (the extended protocol stamps Parse, Bind and Execute apart),
// which is how a statement tells that it runs inside an open transaction.
// So the values are spliced in, as literals of a form checked here: hex
// digits, an integer, or the channel (built from a validated table name).
// None can carry a quote.
function hexLiteral(hex: string): string {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new TypeError("not a hex string");
  return `decode('${hex}', 'hex')`;
}

function msLiteral(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TypeError("not a millisecond count");
  return `${ms} * interval '1 millisecond'`;
}

function channelLiteral(channel: string): string {
  if (!/^[A-Za-z0-9_.:]+$/.test(channel)) throw new TypeError("not a channel name");
  return `'${channel}'`;
}

// The statement's one instant, read once (a CTE with a volatile function is
// evaluated once), so "expired" and "taken" are decided on the same time;
// and whether it runs inside an explicit transaction, whose rollback would
// undo it after the adapter reported it: then it changes nothing.
const INSTANT = `t AS (
    SELECT clock_timestamp() AS now, transaction_timestamp() <> statement_timestamp() AS in_tx
  )`;
const IN_TX = "(SELECT in_tx FROM t) AS in_tx";

/** The lock statements on `names.table`. */
export function statements(names: TableNames): Statements {
  const { table } = names;
  const nextFence = `nextval(${names.sequenceLiteral}::regclass)`;
  const keyHash = (keyHex: string) => `sha256(${hexLiteral(keyHex)})`;
  const owned = (keyHex: string, ownerHex: string) =>
    `key_hash = ${keyHash(keyHex)} AND owner = ${hexLiteral(ownerHex)} AND expires_at > t.now`;
  const current = (keyHex: string) =>
    `current AS (SELECT expires_at > t.now AS live FROM ${table}, t WHERE key_hash = ${
      keyHash(keyHex)
    })`;
  // Release and extend read the row as it was (the CTE snapshot) only to
  // tell "expired" from "taken" when their guarded write matched nothing.
  const stateOf = (written: string) =>
    `SELECT CASE
    WHEN (SELECT count(*) FROM ${written}) > 0 THEN 'done'
    WHEN EXISTS (SELECT 1 FROM current WHERE live) THEN 'taken'
    ELSE 'expired' END AS state`;
  return {
    // One statement: takes over a free (released or expired) lock row, or
    // inserts the key's first one; the conflicting row is locked, so two
    // racers cannot both take it. The fence is taken from the sequence in
    // the update, under the row lock, so it is newer than every fence issued
    // before this acquisition; a value computed in the inserted row could be
    // older (a statement can stall between computing it and locking the
    // row). An inserted row gets fence 0, then its fence from `fence`, while
    // held.
    acquire: (keyHex, ownerHex, ttl) =>
      `WITH ${INSTANT},
  taken AS (
    INSERT INTO ${table} AS l (key_hash, key, owner, expires_at, fence)
    SELECT ${keyHash(keyHex)}, ${hexLiteral(keyHex)}, ${hexLiteral(ownerHex)}, t.now + ${
        msLiteral(ttl)
      }, 0
      FROM t WHERE NOT t.in_tx
    ON CONFLICT (key_hash) DO UPDATE
      SET owner = excluded.owner, expires_at = excluded.expires_at, fence = ${nextFence}
      WHERE l.expires_at <= (SELECT now FROM t)
    RETURNING fence::text AS fence
  )
  SELECT (SELECT fence FROM taken) AS fence, ${IN_TX}`,
    fence: (keyHex, ownerHex) =>
      `WITH ${INSTANT},
  updated AS (
    UPDATE ${table} SET fence = ${nextFence} FROM t
    WHERE key_hash = ${keyHash(keyHex)} AND owner = ${hexLiteral(ownerHex)} AND fence = 0
      AND NOT t.in_tx
    RETURNING fence::text AS fence
  )
  SELECT (SELECT fence FROM updated) AS fence, ${IN_TX}`,
    // The row stays, free (no owner, expired since ever), so the key's next
    // acquisition takes its fence under the row lock.
    release: (keyHex, ownerHex) =>
      `WITH ${INSTANT}, ${current(keyHex)},
  released AS (
    UPDATE ${table} SET owner = ''::bytea, expires_at = '-infinity' FROM t
    WHERE ${owned(keyHex, ownerHex)} AND NOT t.in_tx RETURNING 1
  ),
  notified AS (
    SELECT pg_notify(${channelLiteral(names.channel)}, '${releasePayload(keyHex)}') FROM released
  )
  ${stateOf("released")}, (SELECT count(*) FROM notified)::text AS notified, ${IN_TX}`,
    extend: (keyHex, ownerHex, ttl) =>
      `WITH ${INSTANT}, ${current(keyHex)},
  updated AS (
    UPDATE ${table} SET expires_at = t.now + ${msLiteral(ttl)} FROM t
    WHERE ${owned(keyHex, ownerHex)} AND NOT t.in_tx RETURNING 1
  )
  ${stateOf("updated")}, ${IN_TX}`,
    isValid: (keyHex, ownerHex) =>
      `WITH ${INSTANT} SELECT 1 AS held FROM ${table}, t WHERE ${owned(keyHex, ownerHex)}`,
    inspect: (keyHex) =>
      `WITH ${INSTANT}
  SELECT ceil(extract(epoch FROM expires_at - t.now) * 1000)::text AS expires_in,
    fence::text AS fence
  FROM ${table}, t WHERE key_hash = ${keyHash(keyHex)} AND expires_at > t.now`,
  };
}

// SQLSTATE of an error the driver raised for a missing table: the adapter
// creates the schema again and retries once.
const UNDEFINED_TABLE = "42P01";

/** Whether `error` says a relation (the table or the sequence) does not exist. */
export function isUndefinedTable(error: unknown): boolean {
  return typeof error === "object" && error !== null &&
    (error as { code?: unknown }).code === UNDEFINED_TABLE;
}

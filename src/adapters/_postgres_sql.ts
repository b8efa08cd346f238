// Copyright 2026 the locco authors. MIT license.
// The SQL of the PostgreSQL adapter. Every statement is one round trip and
// one implicit transaction (no session state, so it works through a
// transaction-pooling PgBouncer); values are always parameters, and the only
// text spliced in is the validated, quoted table name.
//
// Keys and owners are stored as bytea, the UTF-8 bytes of the string sent as
// hex: PostgreSQL text cannot hold U+0000, which a locco key may contain.
// Times are the server's (clock_timestamp()), so hosts' clocks do not matter.

import { describe } from "../_validate.ts";
import { ValidationError } from "../errors.ts";

/** The default lease table. */
export const DEFAULT_TABLE = "locco_locks";

// Unquoted-identifier characters only, so the name can be quoted and spliced
// in (including into a DO block's body) without any escaping; 57 bytes leaves
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
      CREATE SEQUENCE ${names.sequence} AS bigint;
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
   * $1 key hex, $2 owner hex, $3 ttl ms → one row `fence` (text) when taken,
   * none when held. Fence "0": the row was inserted, and `fence` must follow.
   */
  acquire: string;
  /** $1 key hex, $2 owner hex → one row `fence` (text): a fresh fence for an inserted row. */
  fence: string;
  /** $1 key hex, $2 owner hex, $3 channel, $4 payload → one row `state`: done, expired or taken. */
  release: string;
  /** $1 key hex, $2 owner hex, $3 ttl ms → one row `state`: done, expired or taken. */
  extend: string;
  /** $1 key hex, $2 owner hex → one row when the owner holds the key, unexpired. */
  isValid: string;
  /** $1 key hex → one row `expires_in` (ms, text) and `fence` (text) when the key is held. */
  inspect: string;
}

const KEY = "decode($1, 'hex')";
// The primary key is the key's SHA-256: a B-tree entry cannot exceed about
// 2.7 kB, and a locco key has no length limit.
const KEY_HASH = "sha256(decode($1, 'hex'))";
const OWNER = "decode($2, 'hex')";
const EXPIRY = "clock_timestamp() + $3::integer * interval '1 millisecond'";

// Release and extend read the row as it was (the CTE snapshot) only to tell
// "expired" from "taken" when their guarded write matched nothing.
function stateOf(written: string): string {
  return `SELECT CASE
    WHEN (SELECT count(*) FROM ${written}) > 0 THEN 'done'
    WHEN EXISTS (SELECT 1 FROM current WHERE live) THEN 'taken'
    ELSE 'expired' END AS state`;
}

/** The four lock statements on `names.table`. */
export function statements(names: TableNames): Statements {
  const { table } = names;
  const current = `current AS (
    SELECT expires_at > clock_timestamp() AS live FROM ${table} WHERE key_hash = ${KEY_HASH}
  )`;
  const nextFence = `nextval(${names.sequenceLiteral}::regclass)`;
  const owned = `key_hash = ${KEY_HASH} AND owner = ${OWNER} AND expires_at > clock_timestamp()`;
  return {
    // One statement: takes over a free (released or expired) lock row, or
    // inserts the key's first one; the conflicting row is locked, so two
    // racers cannot both take it. The fence is taken from the sequence in
    // the update, under the row lock, so it is newer than every fence issued
    // before this acquisition; a value computed in VALUES could be older (a
    // statement can stall between computing it and locking the row). An
    // inserted row gets fence 0, then its fence from `fence`, while held.
    acquire: `INSERT INTO ${table} AS l (key_hash, key, owner, expires_at, fence)
  VALUES (${KEY_HASH}, ${KEY}, ${OWNER}, ${EXPIRY}, 0)
  ON CONFLICT (key_hash) DO UPDATE
    SET owner = excluded.owner, expires_at = excluded.expires_at, fence = ${nextFence}
    WHERE l.expires_at <= clock_timestamp()
  RETURNING fence::text AS fence`,
    fence: `UPDATE ${table} SET fence = ${nextFence}
  WHERE key_hash = ${KEY_HASH} AND owner = ${OWNER} AND fence = 0
  RETURNING fence::text AS fence`,
    // The row stays, free (no owner, expired since ever), so the key's next
    // acquisition takes its fence under the row lock.
    release: `WITH ${current},
  released AS (
    UPDATE ${table} SET owner = ''::bytea, expires_at = '-infinity' WHERE ${owned} RETURNING 1
  ),
  notified AS (SELECT pg_notify($3, $4) FROM released)
  ${stateOf("released")}, (SELECT count(*) FROM notified) AS notified`,
    extend: `WITH ${current},
  updated AS (UPDATE ${table} SET expires_at = ${EXPIRY} WHERE ${owned} RETURNING 1)
  ${stateOf("updated")}`,
    isValid: `SELECT 1 AS held FROM ${table} WHERE ${owned}`,
    inspect:
      `SELECT ceil(extract(epoch FROM expires_at - clock_timestamp()) * 1000)::text AS expires_in,
    fence::text AS fence
  FROM ${table} WHERE key_hash = ${KEY_HASH} AND expires_at > clock_timestamp()`,
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

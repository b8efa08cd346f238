// Copyright 2026 the locco authors. MIT license.
// The schema of the PostgreSQL adapter for a migration tool (public,
// exported from postgres.ts): its SQL, and a function that runs it.

import { ValidationError } from "../errors.ts";
import { describe, validateObject } from "../_validate.ts";
import { isPostgresClient, transportOf } from "./_postgres_client.ts";
import { DEFAULT_TABLE, schemaSql, tableNames } from "./_postgres_sql.ts";
import type { PostgresLikeClient } from "./_postgres_types.ts";

/**
 * Options of {@linkcode migratePostgres} and {@linkcode postgresSchemaSql}.
 *
 * @example A table in another schema
 * ```ts
 * import { postgresSchemaSql, type PostgresSchemaOptions } from "@kontsedal/locco/postgres";
 * import assert from "node:assert/strict";
 *
 * const options: PostgresSchemaOptions = { tableName: "app.locks" };
 * assert.match(postgresSchemaSql(options), /"app"\."locks_fence"/);
 * ```
 */
export interface PostgresSchemaOptions {
  /**
   * The lease table, as in {@linkcode PostgresAdapterOptions.tableName}.
   *
   * @default {"locco_locks"}
   */
  tableName?: string | undefined;
}

/**
 * The SQL that creates the lease table and its fence sequence, for a
 * migration tool: one idempotent statement, safe to run concurrently.
 *
 * @param options The table name.
 * @returns The SQL.
 * @throws {ValidationError} When the table name is not a valid identifier.
 * @example Print the schema
 * ```ts
 * import { postgresSchemaSql } from "@kontsedal/locco/postgres";
 * import assert from "node:assert/strict";
 *
 * assert.match(postgresSchemaSql({ tableName: "app.locks" }), /CREATE TABLE "app"\."locks"/);
 * ```
 */
export function postgresSchemaSql(options: PostgresSchemaOptions = {}): string {
  validateObject(options, "options");
  const { tableName = DEFAULT_TABLE } = options;
  return schemaSql(tableNames(tableName, "options.tableName"));
}

/**
 * Creates the lease table and its fence sequence if they do not exist, as
 * the adapter does on first use.
 *
 * @param client The client, as for {@linkcode PostgresAdapter}.
 * @param options The table name.
 * @returns A promise that resolves once the schema exists.
 * @throws {ValidationError} When the client or the table name is invalid.
 * @example Create the table at deploy time
 * ```ts
 * import { migratePostgres, type PostgresLikeClient } from "@kontsedal/locco/postgres";
 *
 * async function deploy(client: PostgresLikeClient): Promise<void> {
 *   await migratePostgres(client, { tableName: "app_locks" });
 * }
 * ```
 */
export async function migratePostgres(
  client: PostgresLikeClient,
  options: PostgresSchemaOptions = {},
): Promise<void> {
  if (!isPostgresClient(client)) {
    throw new ValidationError(
      `client should be a pg Pool or Client (query()) or a postgres.js sql (unsafe()): got ${
        describe(client)
      }`,
      "client",
    );
  }
  const sql = postgresSchemaSql(options);
  await transportOf(client, false).query(sql);
}

// Copyright 2026 the locco authors. MIT license.
// The PostgreSQL lock store of a chaos worker: a PostgresAdapter on the run's
// table, through the fault proxy, with the client the worker's slot picks
// (slot % 3: pg Pool, pg Client, postgres.js). Connections carry the run's
// application_name, so the harness can terminate them. A pg Client does not
// reconnect by itself: reopen() replaces it once it broke.

import pg from "pg";
import postgres from "postgres";
import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
import type { LockStore, WorkerConfig } from "./_worker.ts";
import { chaosApplicationName, chaosTable } from "./_store_postgres.ts";

interface Opened {
  client: PostgresLikeClient;
  broken(): boolean;
  close(): Promise<void>;
}

function open(config: WorkerConfig): Opened {
  const applicationName = chaosApplicationName(config.runId);
  const kind = config.slot % 3;
  if (kind === 0) {
    const pool = new pg.Pool({
      connectionString: config.lockUrl,
      application_name: applicationName,
      max: 3,
      connectionTimeoutMillis: 1000,
      query_timeout: 1500,
    });
    pool.on("error", () => {});
    return { client: pool, broken: () => false, close: () => pool.end() };
  }
  if (kind === 1) {
    let broken = false;
    const client = new pg.Client({
      connectionString: config.lockUrl,
      application_name: applicationName,
      connectionTimeoutMillis: 1000,
      query_timeout: 1500,
    });
    client.on("error", () => (broken = true));
    client.on("end", () => (broken = true));
    const connected = client.connect().catch(() => (broken = true));
    const query = async (text: string, values: string[]) => {
      await connected;
      return await client.query(text, values);
    };
    return {
      client: { query },
      broken: () => broken,
      close: () => client.end().catch(() => {}),
    };
  }
  const sql = postgres(config.lockUrl, {
    max: 3,
    connect_timeout: 1,
    idle_timeout: 5,
    onnotice: () => {},
    connection: { application_name: applicationName },
  });
  return { client: sql, broken: () => false, close: () => sql.end({ timeout: 1 }) };
}

/** The worker's lock store on PostgreSQL. */
export function openPostgresStore(config: WorkerConfig): Promise<LockStore> {
  const tableName = chaosTable(config.runId);
  let opened = open(config);
  const store: LockStore = {
    adapter: new PostgresAdapter({ client: opened.client, tableName }),
    async reopen() {
      if (!opened.broken()) return;
      const old = opened;
      const adapter = store.adapter as PostgresAdapter;
      opened = open(config);
      store.adapter = new PostgresAdapter({ client: opened.client, tableName });
      await adapter.close().catch(() => {});
      await old.close().catch(() => {});
    },
    async close() {
      await (store.adapter as PostgresAdapter).close().catch(() => {});
      await opened.close();
    },
  };
  return Promise.resolve(store);
}

// Copyright 2026 the locco authors. MIT license.
// The demo's PostgreSQL backend (`deno task demo --postgres <url>`): each
// worker gets a PostgresAdapter on its own pg Pool, on a lease table of the
// run's own; the shared counter is a row read and written in two round trips.
// Both tables are dropped at the end.

import pg from "pg";
import { PostgresAdapter } from "@kontsedal/locco/postgres";
import type { DemoBackend } from "./demo.ts";

/** Connects to the PostgreSQL at `url` (e.g. postgres://postgres@127.0.0.1:5432/test). */
export async function postgresBackend(url: string): Promise<DemoBackend> {
  const table = `locco_demo_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const main = new pg.Pool({ connectionString: url, max: 2 });
  main.on("error", () => {});
  const pools = [main];
  const adapters: PostgresAdapter[] = [];
  await main.query(`CREATE TABLE "${table}_counter" (value int NOT NULL)`);
  await main.query(`INSERT INTO "${table}_counter" VALUES (0)`);
  return {
    name: `PostgreSQL at ${url}`,
    adapter() {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      pool.on("error", () => {});
      pools.push(pool);
      const adapter = new PostgresAdapter({ client: pool, tableName: table });
      adapters.push(adapter);
      return adapter;
    },
    counter: {
      async get(): Promise<number> {
        return (await main.query(`SELECT value FROM "${table}_counter"`)).rows[0].value;
      },
      async set(value: number): Promise<void> {
        await main.query(`UPDATE "${table}_counter" SET value = $1`, [value]);
      },
    },
    async close(): Promise<void> {
      try {
        await Promise.all(adapters.map((adapter) => adapter.close()));
        await main.query(`DROP TABLE IF EXISTS "${table}", "${table}_counter"`);
        await main.query(`DROP SEQUENCE IF EXISTS "${table}_fence"`);
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    },
  };
}

// Copyright 2026 the locco authors. MIT license.
// The PostgreSQL lock store of a chaos run: a private PostgreSQL server of
// the run's own (see _postgres_server.ts; never the machine's, which other
// programs use), a lease table of the run's own, and the PostgreSQL faults:
// terminate every backend of the run's workers (they connect with
// application_name "locco-chaos-<runId>"), and restart the server. A
// restart keeps the data (the table is durable), so an overlap across it is
// a violation, not the store losing data.

import pg from "pg";
import type { LockStore } from "./_store.ts";
import { PrivatePostgres } from "./_postgres_server.ts";

/** The workers' lease table. */
export function chaosTable(runId: string): string {
  return `chaos_${runId}`;
}

/** The application_name of the workers' connections. */
export function chaosApplicationName(runId: string): string {
  return `locco-chaos-${runId}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Starts the PostgreSQL store of run `runId`; rejects, loudly, if PostgreSQL cannot start. */
export async function startPostgresStore(runId: string): Promise<LockStore> {
  const server = await PrivatePostgres.start();
  const base = server.url();
  const table = chaosTable(runId);
  const applicationName = chaosApplicationName(runId);
  let admin: pg.Client;
  try {
    admin = await connect(base);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const withAdmin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    try {
      return await fn(admin);
    } catch {
      await admin.end().catch(() => {});
      admin = await connect(base);
      return await fn(admin);
    }
  };
  return {
    description: `a private PostgreSQL (127.0.0.1:${server.port}, table ${table})`,
    port: server.port,
    url: (p) => server.url(p),
    durable: true,
    async terminate() {
      return await withAdmin(async (client) => {
        const { rows } = await client.query(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE application_name = $1`,
          [applicationName],
        );
        return Number(rows[0]?.n);
      });
    },
    async restart() {
      await admin.end().catch(() => {});
      await server.restart();
      for (let tries = 0;; tries++) {
        try {
          admin = await connect(base);
          return server.port;
        } catch (error) {
          if (tries >= 100) throw error;
          await sleep(100);
        }
      }
    },
    async stop() {
      await admin.end().catch(() => {});
      await server.stop();
    },
  };
}

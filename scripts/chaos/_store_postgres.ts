// Copyright 2026 the locco authors. MIT license.
// The PostgreSQL lock store of a chaos run: the machine's PostgreSQL
// (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test), a lease
// table of the run's own (dropped at the end), and the PostgreSQL faults:
// terminate every backend of the run's workers (they connect with
// application_name "locco-chaos-<runId>"), and restart the server with
// pg_ctlcluster. A restart keeps the data (the table is durable), so an
// overlap across it is a violation, not the store losing data.

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import pg from "pg";
import type { LockStore } from "./_store.ts";

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

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
    });
  });
}

/** Opens the PostgreSQL store of run `runId`; rejects, loudly, if PostgreSQL is not reachable. */
export async function startPostgresStore(runId: string): Promise<LockStore> {
  const base = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const table = chaosTable(runId);
  const applicationName = chaosApplicationName(runId);
  let admin = await connect(base).catch((error) => {
    throw new Error(`PostgreSQL is not reachable at ${base}: start it or set POSTGRES_URL`, {
      cause: error,
    });
  });
  const port = Number(new URL(base).port || 5432);
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
    description: `PostgreSQL (${new URL(base).host}, table ${table})`,
    port,
    url: (p) => {
      const through = new URL(base);
      through.hostname = "127.0.0.1";
      through.port = String(p);
      return through.toString();
    },
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
      const [version] = readdirSync("/etc/postgresql");
      if (version === undefined) throw new Error("no cluster under /etc/postgresql to restart");
      await admin.end().catch(() => {});
      await run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "restart"]);
      for (let tries = 0;; tries++) {
        try {
          admin = await connect(base);
          return port;
        } catch (error) {
          if (tries >= 100) throw error;
          await sleep(100);
        }
      }
    },
    async stop() {
      await withAdmin(async (client) => {
        await client.query(`DROP TABLE IF EXISTS "${table}"`);
        await client.query(`DROP SEQUENCE IF EXISTS "${table}_fence"`);
      }).catch(() => {});
      await admin.end().catch(() => {});
    },
  };
}

// Copyright 2026 the locco authors. MIT license.
// PostgreSQL for tests: the server at POSTGRES_URL (default the local one),
// which must be running (these tests fail, never skip, without it), and the
// three clients the adapter supports: a pg Pool, a pg Client and postgres.js.
// Each test uses a table of its own and drops it (and its sequence) after.

import process from "node:process";
import pg from "pg";
import postgres from "postgres";
import {
  PostgresAdapter,
  type PostgresAdapterOptions,
  type PostgresLikeClient,
} from "@kontsedal/locco/postgres";

// process.env, not Deno.env: the multi-process workers import this file and
// run without the test shim on Node and Bun.
export const POSTGRES_URL: string = process.env.POSTGRES_URL ??
  "postgres://postgres@127.0.0.1:5432/test";

/** One client of the server, and how to close it. */
export interface TestClient {
  client: PostgresLikeClient;
  close(): Promise<void>;
}

/** A way to open a client: pg Pool, pg Client or postgres.js. */
export interface ClientKind {
  name: string;
  /** Whether the adapter can listen for releases with this client. */
  listens: boolean;
  /** Opens a client whose connections carry `application_name` (see {@link terminateBackends}). */
  open(applicationName?: string, url?: string): Promise<TestClient>;
}

export const CLIENT_KINDS: ClientKind[] = [
  {
    name: "pg Pool",
    listens: true,
    open(applicationName = "locco-test", url = POSTGRES_URL) {
      const pool = new pg.Pool({
        connectionString: url,
        max: 4,
        application_name: applicationName,
      });
      pool.on("error", () => {});
      return Promise.resolve({ client: pool, close: () => pool.end() });
    },
  },
  {
    name: "pg Client",
    listens: false,
    async open(applicationName = "locco-test", url = POSTGRES_URL) {
      const client = new pg.Client({ connectionString: url, application_name: applicationName });
      client.on("error", () => {});
      await client.connect();
      return { client, close: () => client.end() };
    },
  },
  {
    name: "postgres.js",
    listens: true,
    open(applicationName = "locco-test", url = POSTGRES_URL) {
      const sql = postgres(url, {
        max: 4,
        onnotice: () => {},
        connection: { application_name: applicationName },
      });
      return Promise.resolve({ client: sql, close: () => sql.end({ timeout: 5 }) });
    },
  },
];

/** A table name no other test (or run) uses. */
export function uniqueTable(prefix = "locco_test"): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

/** An administrative connection (pg Client) for inspection and fault injection. */
export async function adminClient(url: string = POSTGRES_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${url}: start it (pg_ctlcluster --skip-systemctl-redirect ` +
        `$(ls /etc/postgresql) main start) or set POSTGRES_URL (these tests need a real PostgreSQL)`,
      { cause: error },
    );
  }
  return client;
}

/** Drops a test table and its fence sequence. */
export async function dropTable(admin: pg.Client, table: string): Promise<void> {
  await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  await admin.query(`DROP SEQUENCE IF EXISTS "${table}_fence"`);
}

/** A unique application_name, so that a test terminates only its own connections. */
export function uniqueApplicationName(): string {
  return `locco-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Terminates the backends whose application_name is `applicationName` (only
 * the one waiting in LISTEN when `listening`); resolves to how many.
 */
export async function terminateBackends(
  admin: pg.Client,
  applicationName: string,
  listening = false,
): Promise<number> {
  const { rows } = await admin.query(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE application_name = $1 AND pid <> pg_backend_pid()
       AND (NOT $2::boolean OR query ILIKE 'listen %')`,
    [applicationName, listening],
  );
  return rows[0].n;
}

/** How many backends run as `applicationName` and wait in LISTEN (their last query). */
export async function listeningBackends(
  admin: pg.Client,
  applicationName: string,
): Promise<number> {
  const { rows } = await admin.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE application_name = $1 AND query ILIKE 'listen %'`,
    [applicationName],
  );
  return rows[0].n;
}

/** One test's PostgreSQL: a fresh table, clients and adapters that are all closed at the end. */
export class PostgresEnv {
  readonly table: string = uniqueTable();
  #clients: TestClient[] = [];
  #adapters: PostgresAdapter[] = [];

  constructor(
    readonly kind: ClientKind,
    readonly admin: pg.Client,
  ) {}

  static async open(kind: ClientKind): Promise<PostgresEnv> {
    return new PostgresEnv(kind, await adminClient());
  }

  async client(applicationName?: string): Promise<TestClient> {
    const client = await this.kind.open(applicationName);
    this.#clients.push(client);
    return client;
  }

  /** A new adapter on a new client, on this test's table. */
  async adapter(
    options: Omit<PostgresAdapterOptions, "client"> = {},
    applicationName?: string,
  ): Promise<PostgresAdapter> {
    const { client } = await this.client(applicationName);
    const adapter = new PostgresAdapter({ client, tableName: this.table, ...options });
    this.#adapters.push(adapter);
    return adapter;
  }

  async close(): Promise<void> {
    try {
      await Promise.all(this.#adapters.map((adapter) => adapter.close()));
      await Promise.all(this.#clients.map((client) => client.close()));
      await dropTable(this.admin, this.table);
    } finally {
      await this.admin.end();
    }
  }
}

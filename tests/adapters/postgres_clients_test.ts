// Copyright 2026 the locco authors. MIT license.
// PostgresAdapter with clients as users configure them: a pg Pool of one
// connection, a client inside an open transaction, postgres.js renaming
// columns, a server that stops answering while the adapter listens; the
// table's growth and its cleanup; and fences under 16 racing connections,
// checked by a table that refuses a write older than the last.

import assert from "node:assert/strict";
import pg from "pg";
import postgres from "postgres";
import { LockCreateError, Locker, ValidationError } from "@kontsedal/locco";
import { PostgresAdapter } from "@kontsedal/locco/postgres";
import { delay, uniqueKey } from "../_helpers.ts";
import { adminClient, dropTable, POSTGRES_URL, uniqueTable } from "../_postgres.ts";
import { SilentProxy } from "../_tcp_proxy.ts";

/** Rejects when `promise` takes longer than `ms` (a hang fails the test instead of stalling it). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function withTable(fn: (table: string, admin: pg.Client) => Promise<void>): Promise<void> {
  const admin = await adminClient();
  const table = uniqueTable();
  try {
    await fn(table, admin);
  } finally {
    await dropTable(admin, table);
    await admin.end();
  }
}

Deno.test("PostgresAdapter on a pg Pool of max 1 does not take its only connection to listen: waiters poll and a release goes through", async () => {
  await withTable(async (table) => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    pool.on("error", () => {});
    const adapter = new PostgresAdapter({ client: pool, tableName: table });
    try {
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 100, retryTimes: 100 } });
      const key = uniqueKey();
      const held = await locker.lock(key, 30_000).acquire();
      const waiting = locker.lock(key, 30_000).acquire();
      await delay(300);
      await within(held.release({ throwOnFail: true }), 5000, "release on a pool of one");
      const next = await within(waiting, 5000, "the waiter");
      await next.release({ throwOnFail: true });
    } finally {
      await within(adapter.close(), 5000, "close()");
      await pool.end();
    }
  });
});

Deno.test("PostgresAdapter refuses to lock, release or extend inside an open transaction and changes nothing (pg)", async () => {
  await withTable(async (table, admin) => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 3 });
    pool.on("error", () => {});
    const outside = new PostgresAdapter({ client: pool, tableName: table });
    const key = uniqueKey();
    try {
      await outside.createLock({ key: "other", uniqueValue: "x", ttl: 30_000 });
      const connection = await pool.connect();
      try {
        await connection.query("BEGIN");
        const inside = new PostgresAdapter({ client: connection, tableName: table });
        await assert.rejects(
          inside.createLock({ key, uniqueValue: "a", ttl: 30_000 }),
          (e) => e instanceof ValidationError && /transaction/.test(e.message),
        );
        await assert.rejects(
          inside.extendLock({ key: "other", uniqueValue: "x", ttl: 60_000 }),
          ValidationError,
        );
        await assert.rejects(
          inside.releaseLock({ key: "other", uniqueValue: "x" }),
          ValidationError,
        );
        // Even if the caller commits, nothing was written.
        await connection.query("COMMIT");
      } finally {
        connection.release();
      }
      const { fence } = await outside.createLock({ key, uniqueValue: "b", ttl: 30_000 });
      assert.ok(fence > 0);
      await assert.rejects(
        outside.createLock({ key: "other", uniqueValue: "y", ttl: 1000 }),
        LockCreateError,
      );
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM "${table}" WHERE expires_at > now() + interval '40 seconds'`,
      );
      assert.equal(rows[0].n, 0, "the extend inside the transaction changed nothing");
    } finally {
      await outside.close();
      await pool.end();
    }
  });
});

Deno.test("PostgresAdapter refuses to lock inside a postgres.js transaction (sql.begin)", async () => {
  await withTable(async (table) => {
    const sql = postgres(POSTGRES_URL, { max: 2, onnotice: () => {} });
    const key = uniqueKey();
    try {
      await sql.begin(async (tx) => {
        const inside = new PostgresAdapter({ client: tx, tableName: table });
        await assert.rejects(
          inside.createLock({ key, uniqueValue: "a", ttl: 30_000 }),
          ValidationError,
        );
      });
      const outside = new PostgresAdapter({ client: sql, tableName: table });
      assert.ok((await outside.createLock({ key, uniqueValue: "b", ttl: 1000 })).fence > 0);
      await outside.releaseLock({ key, uniqueValue: "b" });
      await outside.close();
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});

for (const [name, transform] of [["pascal", postgres.pascal], ["camel", postgres.camel]] as const) {
  Deno.test(`PostgresAdapter works with postgres.js transform: postgres.${name} (columns renamed)`, async () => {
    await withTable(async (table) => {
      const sql = postgres(POSTGRES_URL, { max: 2, onnotice: () => {}, transform });
      const adapter = new PostgresAdapter({ client: sql, tableName: table });
      try {
        const key = uniqueKey();
        const first = await adapter.createLock({ key, uniqueValue: "a", ttl: 30_000 });
        assert.ok(first.fence > 0);
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
        const info = await adapter.inspectLock(key);
        assert.equal(info?.fence, first.fence);
        assert.ok(info.expiresIn > 0 && info.expiresIn <= 30_000);
        await adapter.extendLock({ key, uniqueValue: "a", ttl: 30_000 });
        await assert.rejects(
          adapter.createLock({ key, uniqueValue: "b", ttl: 1000 }),
          LockCreateError,
        );
        await adapter.releaseLock({ key, uniqueValue: "a" });
        const second = await adapter.createLock({ key, uniqueValue: "b", ttl: 1000 });
        assert.ok(second.fence > first.fence);
        await adapter.releaseLock({ key, uniqueValue: "b" });
      } finally {
        await adapter.close();
        await sql.end({ timeout: 5 });
      }
    });
  });
}

function urlThrough(port: number): string {
  const url = new URL(POSTGRES_URL);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return url.toString();
}

const UNREACHABLE_CLIENTS = [
  {
    name: "pg Pool",
    open(port: number) {
      const pool = new pg.Pool({
        connectionString: urlThrough(port),
        max: 4,
      });
      pool.on("error", () => {});
      return { client: pool, end: () => pool.end() };
    },
  },
  {
    name: "postgres.js",
    open(port: number) {
      const sql = postgres(urlThrough(port), {
        max: 4,
        onnotice: () => {},
      });
      return { client: sql, end: () => sql.end({ timeout: 1 }) };
    },
  },
];

for (const kind of UNREACHABLE_CLIENTS) {
  Deno.test(`PostgresAdapter.close() returns while the server stops answering, listening or not yet (${kind.name})`, async () => {
    await withTable(async (table) => {
      const proxy = await SilentProxy.start(Number(new URL(POSTGRES_URL).port || 5432));
      const { client, end } = kind.open(proxy.port);
      try {
        // Listening, then the link goes silent: close() must not wait for UNLISTEN.
        const adapter = new PostgresAdapter({ client, tableName: table });
        const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 5 } });
        const key = uniqueKey();
        const held = await locker.lock(key, 30_000).acquire();
        const waiting = locker.lock(key, 30_000).acquire().then(
          (lock) => lock,
          () => undefined,
        );
        await delay(500);
        proxy.silence();
        await within(adapter.close(), 3000, "close() after the link went silent");
        // Not listening yet: the listen is still connecting when close() is called.
        const second = new PostgresAdapter({ client, tableName: table, createTable: false });
        const aborter = new AbortController();
        const stuck = second.waitForUnlock({ key, uniqueValue: "z" }, 200, aborter.signal);
        await delay(100);
        await within(second.close(), 3000, "close() while the listen connects");
        aborter.abort();
        await stuck;
        await proxy.close();
        await waiting;
        void held;
      } finally {
        await proxy.close();
        await within(end(), 10_000, "ending the client");
      }
    });
  });
}

Deno.test("PostgresAdapter: rows stay one per key used; the documented cleanup deletes old ones and fences still grow", async () => {
  await withTable(async (table, admin) => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const adapter = new PostgresAdapter({ client: pool, tableName: table });
    try {
      const keys = Array.from({ length: 5 }, () => uniqueKey());
      let last = 0;
      for (const key of keys) {
        last = (await adapter.createLock({ key, uniqueValue: "a", ttl: 1000 })).fence;
        await adapter.releaseLock({ key, uniqueValue: "a" });
      }
      const count = async () =>
        (await admin.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n;
      assert.equal(await count(), 5);
      // The README's cleanup statement, with this test's table and no age limit.
      await admin.query(`DELETE FROM "${table}" WHERE expires_at < now() - interval '0 seconds'`);
      assert.equal(await count(), 0);
      const again = await adapter.createLock({ key: keys[0]!, uniqueValue: "b", ttl: 1000 });
      assert.ok(again.fence > last);
      // A dropped fence sequence is created again beyond the table's fences.
      await admin.query(`DROP SEQUENCE "${table}_fence" CASCADE`);
      await adapter.releaseLock({ key: keys[0]!, uniqueValue: "b" });
      const after = await adapter.createLock({ key: keys[0]!, uniqueValue: "c", ttl: 1000 });
      assert.ok(after.fence > again.fence, `${after.fence} after ${again.fence}`);
    } finally {
      await adapter.close();
      await pool.end();
    }
  });
});

Deno.test("PostgresAdapter: 16 connections racing for one key write with fences a monotonic table accepts", async () => {
  await withTable(async (table, admin) => {
    const guarded = `${table}_guarded`;
    await admin.query(`CREATE TABLE "${guarded}" (id int PRIMARY KEY, fence bigint, count int)`);
    await admin.query(`INSERT INTO "${guarded}" VALUES (1, 0, 0)`);
    const pools = Array.from({ length: 16 }, () => {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
      pool.on("error", () => {});
      return pool;
    });
    const adapters = pools.map((client) =>
      new PostgresAdapter({ client, tableName: table, waitStrategy: "poll" })
    );
    try {
      await adapters[0]!.createLock({ key: "warm-up", uniqueValue: "w", ttl: 100 });
      const key = uniqueKey();
      let refused = 0;
      let written = 0;
      await Promise.all(adapters.map(async (adapter, i) => {
        const locker = new Locker({ adapter, retrySettings: { retryDelay: 5, retryTimes: 5000 } });
        for (let round = 0; round < 6; round++) {
          await locker.lock(key, 5000).acquire(async (lock) => {
            // The write is refused unless its fence is newer than the last one written.
            const { rowCount } = await pools[i]!.query(
              `UPDATE "${guarded}" SET fence = $1, count = count + 1 WHERE id = 1 AND fence < $1`,
              [lock.fence],
            );
            if (rowCount === 1) written++;
            else refused++;
          });
        }
      }));
      const { rows } = await admin.query(`SELECT count FROM "${guarded}" WHERE id = 1`);
      assert.equal(refused, 0, "a holder's fence was not newer than the previous holder's");
      assert.equal(written, 16 * 6);
      assert.equal(rows[0].count, 16 * 6);
    } finally {
      await Promise.all(adapters.map((adapter) => adapter.close()));
      await Promise.all(pools.map((pool) => pool.end()));
      await admin.query(`DROP TABLE IF EXISTS "${guarded}"`);
    }
  });
});

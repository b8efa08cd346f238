// Copyright 2026 the locco authors. MIT license.
// PostgresAdapter against the real PostgreSQL (POSTGRES_URL), with each
// client it supports: a pg Pool, a pg Client and postgres.js. Every test has
// a table of its own, dropped at the end.

import assert from "node:assert/strict";
import { LockCreateError, Locker, ValidationError } from "@kontsedal/locco";
import { migratePostgres, PostgresAdapter, postgresSchemaSql } from "@kontsedal/locco/postgres";
import { testAdapterContract } from "../_adapter_contract.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { CLIENT_KINDS, type ClientKind, PostgresEnv } from "../_postgres.ts";

function postgresTest(kind: ClientKind, name: string, fn: (env: PostgresEnv) => Promise<void>) {
  Deno.test(`${name} (${kind.name})`, async () => {
    const env = await PostgresEnv.open(kind);
    try {
      await fn(env);
    } finally {
      await env.close();
    }
  });
}

// postgres.js can start the connect timer (30 s) of a connection it
// reconnects while `sql.end()` closes the pool, and never clear it: Deno's op
// sanitizer then fails whichever test was running (seen under 40 racing Locks).
const POSTGRES_JS_LEAK = "postgres.js may leave a reconnecting connection's connect timer behind";

for (const kind of CLIENT_KINDS) {
  testAdapterContract(`PostgresAdapter (${kind.name})`, async () => {
    const env = await PostgresEnv.open(kind);
    return { connect: () => env.adapter(), close: () => env.close() };
  }, kind.name === "postgres.js" ? { leakReason: POSTGRES_JS_LEAK } : {});

  postgresTest(
    kind,
    "PostgresAdapter creates its table once when 8 adapters use a new table at the same time",
    async (env) => {
      const adapters = await Promise.all(Array.from({ length: 8 }, () => env.adapter()));
      const key = uniqueKey();
      const results = await Promise.allSettled(
        adapters.map((adapter, i) => adapter.createLock({ key, uniqueValue: `u${i}`, ttl: 5000 })),
      );
      const won = results.filter((result) => result.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const result of results) {
        if (result.status === "rejected") assert.ok(result.reason instanceof LockCreateError);
      }
      const { rows } = await env.admin.query(`SELECT count(*)::int AS n FROM "${env.table}"`);
      assert.equal(rows[0].n, 1);
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter fences never go backwards across release, expiry, takeover, DELETE and TRUNCATE",
    async (env) => {
      const adapter = await env.adapter();
      const key = uniqueKey();
      const fences: number[] = [];
      const take = async (uniqueValue: string, ttl = 5000) => {
        fences.push((await adapter.createLock({ key, uniqueValue, ttl })).fence);
      };
      await take("a");
      await adapter.releaseLock({ key, uniqueValue: "a" });
      await take("b", 50);
      await delay(120);
      await take("c");
      await env.admin.query(`DELETE FROM "${env.table}"`);
      await take("d");
      await env.admin.query(`TRUNCATE "${env.table}"`);
      await take("e");
      await env.admin.query(`DROP TABLE "${env.table}"`);
      await take("f");
      for (let i = 1; i < fences.length; i++) {
        assert.ok(fences[i]! > fences[i - 1]!, `fences went backwards: ${fences.join(", ")}`);
      }
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter gives a newer fence to an acquisition that waited on the row while another holder came and went",
    async (env) => {
      const adapter = await env.adapter();
      const key = uniqueKey();
      await adapter.createLock({ key, uniqueValue: "x", ttl: 5000 });
      await adapter.releaseLock({ key, uniqueValue: "x" });
      const hash = "sha256(convert_to($1, 'UTF8'))";
      await env.admin.query("BEGIN");
      let fenceOfOther: number;
      try {
        await env.admin.query(`SELECT 1 FROM "${env.table}" WHERE key_hash = ${hash} FOR UPDATE`, [
          key,
        ]);
        const waiting = adapter.createLock({ key, uniqueValue: "b", ttl: 5000 });
        await delay(300);
        const { rows } = await env.admin.query(
          `UPDATE "${env.table}" SET fence = nextval('"${env.table}_fence"'), owner = 'a'::bytea,
             expires_at = '-infinity' WHERE key_hash = ${hash} RETURNING fence::int AS fence`,
          [key],
        );
        fenceOfOther = rows[0].fence;
        await env.admin.query("COMMIT");
        const { fence } = await waiting;
        assert.ok(fence > fenceOfOther, `fence ${fence} after another holder's ${fenceOfOther}`);
      } catch (error) {
        await env.admin.query("ROLLBACK").catch(() => {});
        throw error;
      }
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter.inspectLock() reports a held key's time left and fence, and a free, released or expired key as undefined",
    async (env) => {
      const adapter = await env.adapter();
      const key = uniqueKey();
      assert.equal(await adapter.inspectLock(key), undefined);
      const { fence } = await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
      const info = await adapter.inspectLock(key);
      assert.equal(info?.fence, fence);
      assert.ok(info!.expiresIn > 4000 && info!.expiresIn <= 5000, `${info!.expiresIn} ms`);
      assert.deepEqual(Object.keys(info!).sort(), ["expiresIn", "fence"]);
      await adapter.releaseLock({ key, uniqueValue: "a" });
      assert.equal(await adapter.inspectLock(key), undefined);
      await adapter.createLock({ key, uniqueValue: "b", ttl: 50 });
      await delay(120);
      assert.equal(await adapter.inspectLock(key), undefined);
      await assert.rejects(adapter.inspectLock(""), ValidationError);
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter tells an expired from a taken lock on release and extend",
    async (env) => {
      const adapter = await env.adapter();
      const key = uniqueKey();
      await adapter.createLock({ key, uniqueValue: "a", ttl: 50 });
      await delay(120);
      await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), {
        name: "LockReleaseError",
        message: "Lock is already expired",
      });
      await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 100 }), {
        name: "LockExtendError",
        message: "Lock is already expired",
      });
      await adapter.createLock({ key, uniqueValue: "b", ttl: 5000 });
      await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), {
        name: "LockReleaseError",
        message: "Lock is already taken",
      });
      await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 100 }), {
        name: "LockExtendError",
        message: "Lock is already taken",
      });
      assert.equal(await adapter.isValidLock({ key, uniqueValue: "b" }), true);
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter times the lease on the server clock: expires_at is the server's now + ttl",
    async (env) => {
      const adapter = await env.adapter();
      const key = uniqueKey();
      await adapter.createLock({ key, uniqueValue: "a", ttl: 60_000 });
      const { rows } = await env.admin.query(
        `SELECT extract(epoch FROM expires_at - clock_timestamp()) * 1000 AS left_ms FROM "${env.table}"`,
      );
      const left = Number(rows[0].left_ms);
      assert.ok(left > 55_000 && left <= 60_000, `expires in ${left} ms`);
      const { rows: keys } = await env.admin.query(
        `SELECT convert_from(key, 'UTF8') AS key FROM "${env.table}"`,
      );
      assert.equal(keys[0].key, key);
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter stores long keys and keys and owners with NUL and non-ASCII characters as distinct locks",
    async (env) => {
      const adapter = await env.adapter();
      const keys = [
        "a\u0000b",
        "a\u0000c",
        "ключ",
        "🔒",
        "a",
        "x".repeat(70_000),
        "x".repeat(69_999),
      ];
      for (const key of keys) await adapter.createLock({ key, uniqueValue: "\u0000é", ttl: 5000 });
      for (const key of keys) {
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "\u0000é" }), true);
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "\u0000e" }), false);
      }
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter with createTable: false uses a table made by migratePostgres() and creates nothing",
    async (env) => {
      const { client } = await env.client();
      const adapter = new PostgresAdapter({ client, tableName: env.table, createTable: false });
      const key = uniqueKey();
      await assert.rejects(adapter.createLock({ key, uniqueValue: "a", ttl: 1000 }), {
        code: "42P01",
      });
      await migratePostgres(client, { tableName: env.table });
      await migratePostgres(client, { tableName: env.table });
      await adapter.createLock({ key, uniqueValue: "a", ttl: 1000 });
      assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter passes the driver's error through unchanged, never as a lock error",
    async (env) => {
      const { client } = await env.client();
      await env.admin.query(
        `CREATE TABLE "${env.table}" (key_hash bytea PRIMARY KEY, key bytea NOT NULL, owner bytea NOT NULL,
           expires_at timestamptz NOT NULL, fence bigint NOT NULL CHECK (fence < 0))`,
      );
      await migratePostgres(client, { tableName: env.table });
      const adapter = new PostgresAdapter({ client, tableName: env.table });
      const error = await adapter.createLock({ key: uniqueKey(), uniqueValue: "a", ttl: 1000 })
        .then(() => undefined, (error: unknown) => error);
      assert.ok(error instanceof Error, String(error));
      assert.equal((error as { code?: string }).code, "23514");
      assert.ok(!(error instanceof LockCreateError));
    },
  );

  postgresTest(
    kind,
    "PostgresAdapter keeps a table name's case and schema, quoted",
    async (env) => {
      const { client } = await env.client();
      const schema = `Locco_${env.table.slice(-8)}`;
      await env.admin.query(`CREATE SCHEMA "${schema}"`);
      try {
        const tableName = `${schema}.MixedCase`;
        const adapter = new PostgresAdapter({ client, tableName });
        await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
        const { rows } = await env.admin.query(
          `SELECT count(*)::int AS n FROM "${schema}"."MixedCase"`,
        );
        assert.equal(rows[0].n, 1);
      } finally {
        await env.admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
    },
  );
}

Deno.test("PostgresAdapter: an uncontended acquire and release of a key used before is 2 statements (3 the first time)", async () => {
  const env = await PostgresEnv.open(CLIENT_KINDS[0]!);
  try {
    const { client } = await env.client();
    const inner = client as { query(text: string, values: string[]): Promise<{ rows: [] }> };
    const sent: string[] = [];
    const counting = {
      query(text: string, values: string[]) {
        // The statement's first write (the CTE that changes the table).
        sent.push(/\b(INSERT|UPDATE|DELETE)\b/.exec(text)?.[1] ?? "SELECT");
        return inner.query(text, values);
      },
    };
    const adapter = new PostgresAdapter({ client: counting, tableName: env.table });
    await adapter.isValidLock({ key: "warm-up", uniqueValue: "a" });
    sent.length = 0;
    const key = uniqueKey();
    await adapter.createLock({ key, uniqueValue: "a", ttl: 1000 });
    await adapter.releaseLock({ key, uniqueValue: "a" });
    assert.deepEqual(sent, ["INSERT", "UPDATE", "UPDATE"], "a key's first acquisition");
    sent.length = 0;
    await adapter.createLock({ key, uniqueValue: "b", ttl: 1000 });
    await adapter.releaseLock({ key, uniqueValue: "b" });
    assert.deepEqual(sent, ["INSERT", "UPDATE"]);
  } finally {
    await env.close();
  }
});

Deno.test("PostgresAdapter works when each statement runs on another connection, as through a transaction pooler", async () => {
  const env = await PostgresEnv.open(CLIENT_KINDS[1]!);
  try {
    const connections = await Promise.all([env.client(), env.client(), env.client()]);
    let next = 0;
    const roundRobin = {
      query(text: string, values: string[]) {
        const { client } = connections[next++ % connections.length]!;
        return (client as { query(t: string, v: string[]): Promise<{ rows: [] }> }).query(
          text,
          values,
        );
      },
    };
    const adapter = new PostgresAdapter({
      client: roundRobin,
      tableName: env.table,
      waitStrategy: "poll",
    });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 50, retryTimes: 100 } });
    const key = uniqueKey();
    const held = await locker.lock(key, 5000).acquire();
    await held.extend(5000);
    assert.equal(await held.isLocked(), true);
    const waiting = locker.lock(key, 5000).acquire();
    await delay(150);
    await held.release({ throwOnFail: true });
    const next2 = await waiting;
    assert.ok(next2.fence! > held.fence!);
    await next2.release({ throwOnFail: true });
    assert.ok(next >= 9, `only ${next} statements`);
  } finally {
    await env.close();
  }
});

function noIoClient(): { query(): never; calls: number } {
  const client = {
    calls: 0,
    query(): never {
      client.calls++;
      throw new Error("the client was used");
    },
  };
  return client;
}

Deno.test("PostgresAdapter() throws ValidationError naming the invalid option, and does no I/O", async (t) => {
  const client = noIoClient();
  const cases: [string, unknown][] = [
    ["options", null],
    ["options.client", { client: {} }],
    ["options.client", { client: null }],
    ["options.tableName", { client, tableName: "" }],
    ["options.tableName", { client, tableName: 'locks"; DROP TABLE x; --' }],
    ["options.tableName", { client, tableName: "1locks" }],
    ["options.tableName", { client, tableName: "a.b.c" }],
    ["options.tableName", { client, tableName: "x".repeat(58) }],
    ["options.tableName", { client, tableName: "lo$cks" }],
    ["options.createTable", { client, createTable: "yes" }],
    ["options.waitStrategy", { client, waitStrategy: "push" }],
  ];
  for (const [parameter, options] of cases) {
    await t.step(`${parameter} = ${JSON.stringify(options)}`, () => {
      assert.throws(() => new PostgresAdapter(options as never), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.equal(error.parameter, parameter);
        return true;
      });
    });
  }
  new PostgresAdapter({ client, tableName: "public.locks_2" });
  new PostgresAdapter({ client, tableName: "x".repeat(57) });
  assert.equal(client.calls, 0);
});

Deno.test("PostgresAdapter methods reject ValidationError before any I/O", async () => {
  const client = noIoClient();
  const adapter = new PostgresAdapter({ client });
  const signal = new AbortController().signal;
  await assert.rejects(adapter.createLock({ key: "", uniqueValue: "a", ttl: 1 }), ValidationError);
  await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "a", ttl: 0 }), ValidationError);
  await assert.rejects(adapter.releaseLock({ key: "k", uniqueValue: "" }), ValidationError);
  await assert.rejects(
    adapter.extendLock({ key: "k", uniqueValue: "a", ttl: 1.5 }),
    ValidationError,
  );
  await assert.rejects(adapter.isValidLock({ key: "\ud800", uniqueValue: "a" }), ValidationError);
  await assert.rejects(adapter.waitForUnlock({ key: "k", uniqueValue: "a" }, -1, signal));
  await assert.rejects(migratePostgres({} as never), ValidationError);
  await assert.rejects(migratePostgres(client, { tableName: "a b" }), ValidationError);
  assert.equal(client.calls, 0);
});

Deno.test("PostgresAdapter methods reject with the client's own error, unchanged", async () => {
  const failure = new Error("connection refused");
  for (
    const client of [
      { query: () => Promise.reject(failure) },
      { unsafe: () => Promise.reject(failure) },
    ]
  ) {
    const adapter = new PostgresAdapter({ client: client as never });
    const lease = { key: "k", uniqueValue: "a", ttl: 1000 };
    for (
      const call of [
        () => adapter.createLock(lease),
        () => adapter.releaseLock(lease),
        () => adapter.extendLock(lease),
        () => adapter.isValidLock(lease),
      ]
    ) {
      await assert.rejects(call(), (error: unknown) => error === failure);
    }
  }
});

Deno.test("postgresSchemaSql() quotes the table name and creates a table and a fence sequence", () => {
  const sql = postgresSchemaSql({ tableName: "app.Locks" });
  assert.match(sql, /CREATE TABLE "app"\."Locks"/);
  assert.match(sql, /CREATE SEQUENCE "app"\."Locks_fence"/);
  assert.match(postgresSchemaSql(), /CREATE TABLE "locco_locks"/);
  assert.throws(() => postgresSchemaSql({ tableName: "x;y" }), ValidationError);
});

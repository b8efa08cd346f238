// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runScript, uniqueKey } from "../_helpers.ts";
import { adminClient, CLIENT_KINDS, dropTable, POSTGRES_URL, uniqueTable } from "../_postgres.ts";

const WORKER = fileURLToPath(new URL("./_postgres_worker.ts", import.meta.url));
const WORKERS = 4;
const ITERATIONS = 150;

async function runCounter(mode: "lock" | "nolock"): Promise<{ total: number; lines: string[] }> {
  const admin = await adminClient();
  const table = uniqueTable("locco_process");
  const key = uniqueKey("locco-test:processes");
  try {
    await admin.query(`CREATE TABLE "${table}_ready" (pid text)`);
    await admin.query(
      `CREATE TABLE "${table}_counter" (value int NOT NULL, fence bigint NOT NULL)`,
    );
    await admin.query(`INSERT INTO "${table}_counter" VALUES (0, 0)`);
    // Workers alternate the three clients: pg Pool, pg Client, postgres.js.
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, i) =>
        runScript(WORKER, {
          args: [
            String(i % CLIENT_KINDS.length),
            POSTGRES_URL,
            table,
            key,
            String(WORKERS),
            String(ITERATIONS),
            mode,
          ],
          timeoutMs: 180_000,
        })),
    );
    const lines: string[] = [];
    for (const { code, stdout, stderr } of results) {
      assert.equal(code, 0, stderr);
      lines.push(...stdout.trim().split("\n").filter((line) => line.length > 0));
    }
    const { rows } = await admin.query(`SELECT value FROM "${table}_counter"`);
    return { total: rows[0].value, lines };
  } finally {
    await admin.query(`DROP TABLE IF EXISTS "${table}_ready", "${table}_counter"`);
    await dropTable(admin, table);
    await admin.end();
  }
}

Deno.test(`PostgresAdapter: ${WORKERS} OS processes doing ${ITERATIONS} locked read-then-write increments each lose no update, with fences growing`, async () => {
  const { total, lines } = await runCounter("lock");
  assert.equal(total, WORKERS * ITERATIONS);
  const fenceByValue = new Map<number, number>();
  for (const line of lines) {
    const [value, fence] = line.split(" ").map(Number);
    assert.ok(Number.isSafeInteger(fence), `no fence in "${line}"`);
    assert.equal(fenceByValue.has(value!), false, `value ${value} read twice: exclusion broke`);
    fenceByValue.set(value!, fence!);
  }
  let previous = -Infinity;
  for (let value = 0; value < WORKERS * ITERATIONS; value++) {
    const fence = fenceByValue.get(value);
    assert.ok(fence !== undefined, `value ${value} missing: an update was lost`);
    assert.ok(fence > previous, `fence went backwards at ${value}: ${previous} then ${fence}`);
    previous = fence;
  }
});

Deno.test(`PostgresAdapter: the same ${WORKERS} processes without the lock do lose updates (control)`, async () => {
  const { total } = await runCounter("nolock");
  assert.ok(total < WORKERS * ITERATIONS, `expected lost updates, got ${total}`);
});

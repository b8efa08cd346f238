// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { runScript, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, REDIS_URL } from "../_redis_server.ts";

const WORKER = fileURLToPath(new URL("./_redis_counter_worker.ts", import.meta.url));
const WORKERS = 4;
const ITERATIONS = 250;

async function runWorker(args: string[]): Promise<{ code: number | null; output: string }> {
  const { code, stdout, stderr } = await runScript(WORKER, { args, timeoutMs: 120_000 });
  return { code, output: stdout + stderr };
}

// The client family of each worker, in turn.
type Families = readonly ("ioredis" | "node-redis" | "glide")[];

async function runCounter(
  mode: "lock" | "nolock",
  families: Families = ["ioredis"],
): Promise<number> {
  await assertRedisReachable();
  const prefix = uniqueKey("locco-test:processes");
  const admin = new Redis(REDIS_URL);
  try {
    const results = await Promise.all(
      Array.from(
        { length: WORKERS },
        (_, i) =>
          runWorker([
            REDIS_URL,
            prefix,
            String(WORKERS),
            String(ITERATIONS),
            mode,
            families[i % families.length]!,
          ]),
      ),
    );
    for (const { code, output } of results) assert.equal(code, 0, output);
    return Number(await admin.get(`${prefix}:counter`));
  } finally {
    await admin.del(`${prefix}:counter`, `${prefix}:ready`, `${prefix}:lock`);
    await admin.quit();
  }
}

Deno.test(`IoRedisAdapter: ${WORKERS} OS processes doing ${ITERATIONS} locked GET/SET increments each lose no update`, async () => {
  assert.equal(await runCounter("lock"), WORKERS * ITERATIONS);
});

Deno.test(`NodeRedisAdapter: ${WORKERS} OS processes doing ${ITERATIONS} locked GET/SET increments each lose no update`, async () => {
  assert.equal(await runCounter("lock", ["node-redis"]), WORKERS * ITERATIONS);
});

Deno.test(`IoRedisAdapter and NodeRedisAdapter: ${WORKERS} OS processes, half on each client, doing locked increments lose no update`, async () => {
  assert.equal(await runCounter("lock", ["ioredis", "node-redis"]), WORKERS * ITERATIONS);
});

Deno.test(`GlideAdapter: ${WORKERS} OS processes doing ${ITERATIONS} locked GET/SET increments each lose no update`, async () => {
  assert.equal(await runCounter("lock", ["glide"]), WORKERS * ITERATIONS);
});

Deno.test(`IoRedisAdapter, NodeRedisAdapter and GlideAdapter: ${WORKERS} OS processes on the three clients doing locked increments lose no update`, async () => {
  assert.equal(
    await runCounter("lock", ["ioredis", "node-redis", "glide"]),
    WORKERS * ITERATIONS,
  );
});

Deno.test(`IoRedisAdapter: the same ${WORKERS} processes without the lock do lose updates (control)`, async () => {
  const total = await runCounter("nolock");
  assert.ok(total < WORKERS * ITERATIONS, `expected lost updates, got ${total}`);
});

// Copyright 2026 the locco authors. MIT license.
// Semaphores across OS processes: never more holders than the limit, counted
// exactly (Redis INCR inside each section), with a no-permit control that
// shows the count does exceed the limit when nothing guards the section.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runScript, uniqueKey } from "../_helpers.ts";
import { startJongodb } from "../_jongodb.ts";
import { assertRedisReachable, REDIS_URL } from "../_redis_server.ts";

const WORKER = fileURLToPath(new URL("./_semaphore_worker.ts", import.meta.url));
const PROCESSES = 4;
const LOOPS = 3;
const SECTIONS = 25;
const LIMIT = 3;

async function run(mode: "mongodb" | "none", mongoUrl: string): Promise<{ most: number }> {
  const key = uniqueKey("locco-test:semaphore");
  const args = [mode, mongoUrl, REDIS_URL, key, String(LIMIT), String(LOOPS), String(SECTIONS)];
  const results = await Promise.all(
    Array.from({ length: PROCESSES }, () => runScript(WORKER, { args, timeoutMs: 180_000 })),
  );
  let most = 0;
  let done = 0;
  for (const { code, stdout, stderr } of results) {
    assert.equal(code, 0, stderr);
    const [seen, sections] = stdout.trim().split(" ").map(Number);
    most = Math.max(most, seen!);
    done += sections!;
  }
  assert.equal(done, PROCESSES * LOOPS * SECTIONS, "every section ran");
  return { most };
}

Deno.test("MongoAdapter semaphore: 12 loops in 4 OS processes never exceed limit 3, while unguarded ones do (stand-in)", async () => {
  await assertRedisReachable();
  const server = await startJongodb();
  try {
    const guarded = await run("mongodb", server.uri);
    assert.ok(guarded.most <= LIMIT, `${guarded.most} holders at once with limit ${LIMIT}`);
    assert.equal(guarded.most, LIMIT, "the limit is reached: the semaphore lets 3 in");
    const control = await run("none", server.uri);
    assert.ok(control.most > LIMIT, `the unguarded control peaked at ${control.most}`);
  } finally {
    await server.stop();
  }
});

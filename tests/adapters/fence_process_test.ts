// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runScript, uniqueKey } from "../_helpers.ts";
import { startJongodb } from "../_jongodb.ts";
import { assertRedisReachable, REDIS_URL } from "../_redis_server.ts";

const WORKER = fileURLToPath(new URL("./_fence_worker.ts", import.meta.url));
const PROCESSES = 4;
const ITERATIONS = 250;

async function checkFences(
  backend: "redis" | "node-redis" | "mongodb",
  url: string,
): Promise<void> {
  const key = uniqueKey("locco-test:fence");
  const results = await Promise.all(
    Array.from(
      { length: PROCESSES },
      () =>
        runScript(WORKER, { args: [backend, url, key, String(ITERATIONS)], timeoutMs: 120_000 }),
    ),
  );
  const bySequence = new Map<number, number>();
  for (const { code, stdout, stderr } of results) {
    assert.equal(code, 0, stderr);
    for (const line of stdout.trim().split("\n")) {
      const [sequence, fence] = line.split(" ").map(Number);
      assert.ok(Number.isSafeInteger(fence), `no fence in "${line}"`);
      assert.equal(
        bySequence.has(sequence!),
        false,
        `sequence ${sequence} seen twice: exclusion broke`,
      );
      bySequence.set(sequence!, fence!);
    }
  }
  const total = PROCESSES * ITERATIONS;
  assert.equal(bySequence.size, total);
  let previous = -Infinity;
  for (let sequence = 0; sequence < total; sequence++) {
    const fence = bySequence.get(sequence);
    assert.ok(fence !== undefined, `sequence ${sequence} missing: an update was lost`);
    assert.ok(
      fence > previous,
      `fence went backwards at sequence ${sequence}: ${previous} then ${fence}`,
    );
    previous = fence;
  }
}

Deno.test("MongoAdapter: fencing tokens grow across 1,000 acquisitions by 4 OS processes (stand-in)", async () => {
  const server = await startJongodb();
  try {
    await checkFences("mongodb", server.uri);
  } finally {
    await server.stop();
  }
});

Deno.test("IoRedisAdapter: fencing tokens grow across 1,000 acquisitions by 4 OS processes", async () => {
  await assertRedisReachable();
  await checkFences("redis", REDIS_URL);
});

Deno.test("NodeRedisAdapter: fencing tokens grow across 1,000 acquisitions by 4 OS processes", async () => {
  await assertRedisReachable();
  await checkFences("node-redis", REDIS_URL);
});

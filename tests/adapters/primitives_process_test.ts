// Copyright 2026 the locco authors. MIT license.
// Semaphores, read-write locks and multi-key locks across OS processes on
// MongoDB (the stand-in), and semaphores and read-write locks on Redis, counted exactly with Redis INCR inside each section
// (see _primitives_worker.ts), each against an unguarded control that shows
// the count does break the rule when nothing guards the section.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runScript, uniqueKey } from "../_helpers.ts";
import { startJongodb } from "../_jongodb.ts";
import { assertRedisReachable, REDIS_URL } from "../_redis_server.ts";

const WORKER = fileURLToPath(new URL("./_primitives_worker.ts", import.meta.url));
const PROCESSES = 4;
const LOOPS = 3;
const SECTIONS = 20;
const LIMIT = 3;

interface Outcome {
  most: number;
  violations: number;
}

async function run(
  /** The stand-in's URL, or "redis" for IoRedisAdapter at REDIS_URL. */
  mongoUrl: string,
  primitive: "semaphore" | "rw" | "multi",
  guard: "locked" | "none",
): Promise<Outcome> {
  const key = uniqueKey(`locco-test:${primitive}`);
  const args = [primitive, guard, mongoUrl, REDIS_URL, key, String(LIMIT), String(LOOPS)];
  const results = await Promise.all(
    Array.from(
      { length: PROCESSES },
      () => runScript(WORKER, { args: [...args, String(SECTIONS)], timeoutMs: 180_000 }),
    ),
  );
  const outcome = { most: 0, violations: 0 };
  let done = 0;
  for (const { code, stdout, stderr } of results) {
    assert.equal(code, 0, stderr);
    const [most, violations, sections] = stdout.trim().split(" ").map(Number);
    outcome.most = Math.max(outcome.most, most!);
    outcome.violations += violations!;
    done += sections!;
  }
  assert.equal(done, PROCESSES * LOOPS * SECTIONS, "every section ran");
  return outcome;
}

function processTest(name: string, fn: (mongoUrl: string) => Promise<void>): void {
  Deno.test(name, async () => {
    await assertRedisReachable();
    const server = await startJongodb();
    try {
      await fn(server.uri);
    } finally {
      await server.stop();
    }
  });
}

processTest(
  "MongoAdapter semaphore: 12 loops in 4 OS processes never pass limit 3, while unguarded ones do (stand-in)",
  async (url) => {
    const guarded = await run(url, "semaphore", "locked");
    assert.equal(guarded.violations, 0, `${guarded.most} holders at once with limit ${LIMIT}`);
    assert.equal(guarded.most, LIMIT, "the limit is reached: the semaphore lets 3 in");
    const control = await run(url, "semaphore", "none");
    assert.ok(control.most > LIMIT, `the unguarded control peaked at ${control.most}`);
  },
);

processTest(
  "MongoAdapter read-write lock: 4 OS processes' writers never meet readers or writers, while unguarded ones do (stand-in)",
  async (url) => {
    const guarded = await run(url, "rw", "locked");
    assert.equal(guarded.violations, 0);
    assert.ok(guarded.most > 1, "readers held the key together");
    const control = await run(url, "rw", "none");
    assert.ok(control.violations > 0, "the unguarded control broke the rule");
  },
);

processTest(
  "MongoAdapter multi-key locks: overlapping key pairs in 4 OS processes never share a key, while unguarded ones do (stand-in)",
  async (url) => {
    const guarded = await run(url, "multi", "locked");
    assert.equal(guarded.violations, 0);
    assert.equal(guarded.most, 1);
    const control = await run(url, "multi", "none");
    assert.ok(control.violations > 0, "the unguarded control broke the rule");
  },
);

Deno.test(
  "IoRedisAdapter semaphore: 12 loops in 4 OS processes never pass limit 3, while unguarded ones do",
  async () => {
    await assertRedisReachable();
    const guarded = await run("redis", "semaphore", "locked");
    assert.equal(guarded.violations, 0, `${guarded.most} holders at once with limit ${LIMIT}`);
    assert.equal(guarded.most, LIMIT, "the limit is reached: the semaphore lets 3 in");
    const control = await run("redis", "semaphore", "none");
    assert.ok(control.most > LIMIT, `the unguarded control peaked at ${control.most}`);
  },
);

Deno.test(
  "IoRedisAdapter read-write lock: 4 OS processes' writers never meet readers or writers, while unguarded ones do",
  async () => {
    await assertRedisReachable();
    const guarded = await run("redis", "rw", "locked");
    assert.equal(guarded.violations, 0);
    assert.ok(guarded.most > 1, "readers held the key together");
    const control = await run("redis", "rw", "none");
    assert.ok(control.violations > 0, "the unguarded control broke the rule");
  },
);

// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, REDIS_URL } from "../_redis_server.ts";

const WORKER = fileURLToPath(new URL("./_redis_counter_worker.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const WORKERS = 4;
const ITERATIONS = 250;

// The command that runs a TypeScript file on the current runtime. Bun and
// Deno are told apart by process.versions, since under Node the test shim
// defines a globalThis.Deno of its own.
function runtimeCommand(script: string, args: string[]): [string, string[]] {
  if (process.versions.bun !== undefined) return [process.execPath, [script, ...args]];
  if ((process.versions as Record<string, string | undefined>).deno !== undefined) {
    return [process.execPath, ["run", "-A", `--config=${CONFIG}`, script, ...args]];
  }
  return [process.execPath, ["--import", "tsx", script, ...args]];
}

function runWorker(args: string[]): Promise<{ code: number | null; output: string }> {
  const [command, argv] = runtimeCommand(WORKER, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => output += chunk);
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => output += chunk);
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

async function runCounter(mode: "lock" | "nolock"): Promise<number> {
  await assertRedisReachable();
  const prefix = uniqueKey("locco-test:processes");
  const admin = new Redis(REDIS_URL);
  try {
    const results = await Promise.all(
      Array.from(
        { length: WORKERS },
        () => runWorker([REDIS_URL, prefix, String(WORKERS), String(ITERATIONS), mode]),
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

Deno.test(`IoRedisAdapter: the same ${WORKERS} processes without the lock do lose updates (control)`, async () => {
  const total = await runCounter("nolock");
  assert.ok(total < WORKERS * ITERATIONS, `expected lost updates, got ${total}`);
});

// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter across OS processes on one file database: four processes bump
// a shared counter with a plain read then write under the lock; no update is
// lost and fences grow along the counter. The same run without the lock (the
// control) does lose updates, so the check can fail. On Deno, one more run
// mixes runtimes on one database: Deno, Node and Bun processes share its locks.
// And a waiter takes a key another process released within its retry delay
// (a watch does not see other processes' writes to a local file).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Locker } from "@kontsedal/locco";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { runScript, type ScriptResult, uniqueKey } from "../_helpers.ts";
import { ON_DENO, openTestKv, tempKvPath } from "../_kv.ts";
import { Child } from "./_kv_child.ts";

const WORKER = fileURLToPath(new URL("./_kv_counter_worker.ts", import.meta.url));
const RELEASE_WORKER = fileURLToPath(new URL("./_kv_release_worker.ts", import.meta.url));
const SOURCE_WORKER = fileURLToPath(new URL("./_kv_counter_worker_source.ts", import.meta.url));
const PROCESSES = 4;

if (!ON_DENO) {
  // deno-lint-ignore no-console
  console.log(
    "DenoKvAdapter across Deno, Node and Bun processes runs once, on Deno: it starts each runtime",
  );
}

/** Runs `command args` to completion; SIGKILLs it after 180 s. */
function runCommand(command: string, args: string[]): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function run(
  path: string,
  key: string,
  iterations: number,
  mode: string,
  runtimes: Array<"this" | "node" | "bun"> = Array(PROCESSES).fill("this"),
) {
  const args = [path, key, String(iterations), mode];
  const results = await Promise.all(
    runtimes.map((runtime) =>
      runtime === "this"
        ? runScript(WORKER, { args, timeoutMs: 180_000 })
        : runtime === "node"
        ? runCommand("node", ["--import", "tsx", SOURCE_WORKER, ...args])
        : runCommand("bun", [SOURCE_WORKER, ...args])
    ),
  );
  const lines: string[] = [];
  for (const { code, stdout, stderr } of results) {
    assert.equal(code, 0, stderr);
    lines.push(...stdout.trim().split("\n"));
  }
  return lines.map((line) => line.split(" "));
}

/** Fails unless every counter value from 0 to `total` - 1 was read once, with fences growing. */
function assertNoLostUpdate(rows: string[][], total: number): void {
  const bySequence = new Map<number, number>();
  for (const [sequence, fence] of rows) {
    assert.ok(Number.isSafeInteger(Number(fence)), `no fence in "${sequence} ${fence}"`);
    assert.equal(bySequence.has(Number(sequence)), false, `counter ${sequence} read twice`);
    bySequence.set(Number(sequence), Number(fence));
  }
  let previous = -Infinity;
  for (let sequence = 0; sequence < total; sequence++) {
    const fence = bySequence.get(sequence);
    assert.ok(fence !== undefined, `counter ${sequence} missing: an update was lost`);
    assert.ok(fence > previous, `fence went backwards at ${sequence}: ${previous}, ${fence}`);
    previous = fence;
  }
}

Deno.test("DenoKvAdapter: 4 OS processes on one file database lose no update and fences grow", async () => {
  const { path, remove } = tempKvPath();
  try {
    const iterations = 120;
    const rows = await run(path, uniqueKey("locco-test:kv"), iterations, "lock");
    assertNoLostUpdate(rows, PROCESSES * iterations);
  } finally {
    remove();
  }
});

Deno.test("DenoKvAdapter control: the same 4 processes without the lock do lose updates", async () => {
  const { path, remove } = tempKvPath();
  try {
    const rows = await run(path, uniqueKey("locco-test:kv"), 120, "nolock");
    const reads = rows.map(([sequence]) => Number(sequence));
    assert.ok(
      new Set(reads).size < reads.length,
      "no counter value was read twice without the lock: the test could not detect a lost update",
    );
  } finally {
    remove();
  }
});

Deno.test({
  name:
    "DenoKvAdapter: Deno, Node and Bun processes share one file database's locks and lose no update",
  ignore: !ON_DENO,
  async fn() {
    const { path, remove } = tempKvPath();
    try {
      const iterations = 80;
      const rows = await run(path, uniqueKey("locco-test:kv"), iterations, "lock", [
        "this",
        "this",
        "node",
        "bun",
      ]);
      assertNoLostUpdate(rows, PROCESSES * iterations);
    } finally {
      remove();
    }
  },
});

Deno.test("DenoKvAdapter: a waiter takes a key another OS process released within its retry delay", async () => {
  const { path, remove } = tempKvPath();
  const key = uniqueKey("locco-test:kv");
  const holder = new Child(RELEASE_WORKER, [path, key, "1000"]);
  const kv = await openTestKv(path);
  // The default strategy: a watch on Deno (which sees only this process's
  // writes to a local file), polling on Node and Bun.
  const adapter = new DenoKvAdapter({ kv });
  try {
    await holder.line("held");
    const retryDelay = 1500;
    const lock = await new Locker({ adapter, retrySettings: { retryDelay, retryTimes: 40 } })
      .lock(key, 30_000).acquire();
    const acquiredAt = Date.now();
    const releasedAt = Number((await holder.line("released")).split(" ")[1]);
    const after = acquiredAt - releasedAt;
    // deno-lint-ignore no-console
    console.log(`took the key ${after} ms after the other process released it`);
    // The retry delay, plus one attempt on a busy 2-core machine.
    assert.ok(after <= retryDelay + 2000, `took the key ${after} ms after its release`);
    assert.equal((await holder.exited).code, 0, holder.stderr);
    await lock.release({ throwOnFail: true });
  } finally {
    holder.kill();
    await adapter.close();
    kv.close();
    remove();
  }
});

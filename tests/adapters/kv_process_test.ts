// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter across OS processes on one file database: four processes bump
// a shared counter with a plain read then write under the lock; no update is
// lost and fences grow along the counter. The same run without the lock (the
// control) does lose updates, so the check can fail.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runScript, uniqueKey } from "../_helpers.ts";
import { tempKvPath } from "../_kv.ts";

const WORKER = fileURLToPath(new URL("./_kv_counter_worker.ts", import.meta.url));
const PROCESSES = 4;

async function run(path: string, key: string, iterations: number, mode: string) {
  const results = await Promise.all(
    Array.from(
      { length: PROCESSES },
      () =>
        runScript(WORKER, {
          args: [path, key, String(iterations), mode],
          timeoutMs: 180_000,
        }),
    ),
  );
  const lines: string[] = [];
  for (const { code, stdout, stderr } of results) {
    assert.equal(code, 0, stderr);
    lines.push(...stdout.trim().split("\n"));
  }
  return lines.map((line) => line.split(" "));
}

Deno.test("DenoKvAdapter: 4 OS processes on one file database lose no update and fences grow", async () => {
  const { path, remove } = tempKvPath();
  try {
    const iterations = 120;
    const rows = await run(path, uniqueKey("locco-test:kv"), iterations, "lock");
    const bySequence = new Map<number, number>();
    for (const [sequence, fence] of rows) {
      assert.ok(Number.isSafeInteger(Number(fence)), `no fence in "${sequence} ${fence}"`);
      assert.equal(bySequence.has(Number(sequence)), false, `counter ${sequence} read twice`);
      bySequence.set(Number(sequence), Number(fence));
    }
    const total = PROCESSES * iterations;
    let previous = -Infinity;
    for (let sequence = 0; sequence < total; sequence++) {
      const fence = bySequence.get(sequence);
      assert.ok(fence !== undefined, `counter ${sequence} missing: an update was lost`);
      assert.ok(fence > previous, `fence went backwards at ${sequence}: ${previous}, ${fence}`);
      previous = fence;
    }
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

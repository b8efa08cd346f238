// Copyright 2026 the locco authors. MIT license.
// One OS process of the multi-process Deno KV test (kv_process_test.ts): on a
// file database shared with the other processes, `iterations` times, takes
// the lock (mode "lock") or not (mode "nolock", the control), reads a counter
// entry, pauses a moment, writes it back plus one (a plain read then write),
// and prints "<counter read> <fence>". Some locks are left to expire instead
// of released. The worker files pass in locco's classes: from the package
// (_kv_counter_worker.ts) or from the sources (_kv_counter_worker_source.ts).

import process from "node:process";
import type { Locker } from "@kontsedal/locco";
import type { DenoKvAdapter } from "@kontsedal/locco/kv";
import { openTestKv, type TestKv } from "../_kv.ts";

/** The classes a worker runs with. */
export interface Locco {
  Locker: typeof Locker;
  DenoKvAdapter: typeof DenoKvAdapter;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries a call while SQLite reports the database busy (another process writes). */
async function retryBusy<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt > 200 || !/database is locked/i.test(String(error))) throw error;
      await delay(1 + Math.random() * 5);
    }
  }
}

async function bump(kv: TestKv, key: string): Promise<number> {
  const counterKey = ["locco-test-counter", key];
  const entry = await retryBusy(() => kv.get(counterKey));
  const value = entry.value instanceof Uint8Array
    ? Number(new TextDecoder().decode(entry.value))
    : 0;
  await delay(1);
  await retryBusy(() => kv.set(counterKey, new TextEncoder().encode(String(value + 1))));
  return value;
}

async function main({ Locker, DenoKvAdapter }: Locco): Promise<void> {
  const [path, key, iterationsArg, mode] = process.argv.slice(2);
  if (!path || !key || !iterationsArg || (mode !== "lock" && mode !== "nolock")) {
    throw new Error("usage: _kv_counter_worker <path> <key> <iterations> <lock|nolock>");
  }
  const kv = await openTestKv(path);
  const adapter = new DenoKvAdapter({ kv });
  const lines: string[] = [];
  try {
    const locker = new Locker({
      adapter,
      retrySettings: { retryDelayFn: () => 1 + Math.random() * 3, totalTime: 90_000 },
    });
    for (let i = 0; i < Number(iterationsArg); i++) {
      if (mode === "nolock") {
        lines.push(`${await bump(kv, key)} -`);
        continue;
      }
      // The ttl leaves room for a loaded 2-core machine.
      const lock = await locker.lock(key, 1000).acquire();
      lines.push(`${await bump(kv, key)} ${lock.fence}`);
      if (i % 40 !== 39) await lock.release();
      else await delay(1060);
    }
  } finally {
    await adapter.close();
    kv.close();
  }
  process.stdout.write(lines.join("\n") + "\n");
}

/** Runs the worker with `locco`'s classes; sets a non-zero exit code on failure. */
export function runCounterWorker(locco: Locco): void {
  main(locco).catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exitCode = 1;
  });
}

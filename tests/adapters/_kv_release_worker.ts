// Copyright 2026 the locco authors. MIT license.
// Holds a Deno KV lock in a process of its own, then releases it: prints
// "held", and after `holdMs` "released <epoch ms>" once the release is done.
// Usage: _kv_release_worker.ts <path> <key> <holdMs>. No top-level await.

import process from "node:process";
import { Locker } from "@kontsedal/locco";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { openTestKv } from "../_kv.ts";

async function main(): Promise<void> {
  const [path, key, holdMs] = process.argv.slice(2);
  const kv = await openTestKv(path!);
  const adapter = new DenoKvAdapter({ kv });
  const locker = new Locker({ adapter, retrySettings: { retryDelay: 50, retryTimes: 20 } });
  const lock = await locker.lock(key!, 60_000).acquire();
  process.stdout.write("held\n");
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  await lock.release({ throwOnFail: true });
  process.stdout.write(`released ${Date.now()}\n`);
  await adapter.close();
  kv.close();
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

// Copyright 2026 the locco authors. MIT license.
// A waiter in its own OS process, for redis_waiting_faults_test.ts: prints
// "started" and then waits for `key`, holding it briefly if it gets it.
// The test kills it while it waits. Runs on Deno, Node (tsx) and Bun.

import process from "node:process";
import { Locker } from "@kontsedal/locco";
import { openWorkerRedis } from "./_redis_worker_client.ts";

async function main(): Promise<void> {
  const [url, key, retryDelayArg, family = "ioredis"] = process.argv.slice(2);
  if (!url || !key || !retryDelayArg) {
    throw new Error("usage: worker <redis url> <key> <retry delay> [ioredis|node-redis]");
  }
  const client = await openWorkerRedis(family, url);
  const adapter = client.adapter;
  try {
    const locker = new Locker({
      adapter,
      retrySettings: { retryDelay: Number(retryDelayArg), retryTimes: 1000, totalTime: 30_000 },
    });
    const lock = locker.lock(key, 1000);
    await client.get(key);
    process.stdout.write(`started ${lock.uniqueValue}\n`);
    await lock.acquire(async () => {
      process.stdout.write("acquired\n");
    });
  } finally {
    await client.close();
  }
}

main().then(
  () => process.stdout.write("done\n"),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);

// Copyright 2026 the locco authors. MIT license.
// One OS process of the multi-process fencing test (redis_fence_test.ts):
// waits until every worker is connected, then takes the lock `iterations`
// times through the adapter and, while holding it, appends the fencing token
// it got to a Redis list, so the list is in acquisition order. Runs on Deno
// (`deno run -A`), Node (`node --import tsx`) and Bun.

import process from "node:process";
import { Redis } from "ioredis";
import { LockCreateError } from "@kontsedal/locco";
import { IoRedisAdapter } from "@kontsedal/locco/redis";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const [url, prefix, workersArg, iterationsArg] = process.argv.slice(2);
  if (!url || !prefix || !workersArg || !iterationsArg) {
    throw new Error("usage: worker <redis url> <key prefix> <workers> <iterations>");
  }
  const workers = Number(workersArg);
  const iterations = Number(iterationsArg);
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const adapter = new IoRedisAdapter({ client });
    await client.incr(`${prefix}:ready`);
    const deadline = Date.now() + 20_000;
    while (Number(await client.get(`${prefix}:ready`)) < workers) {
      if (Date.now() > deadline) throw new Error("the other workers never became ready");
      await sleep(5);
    }
    const uniqueValue = crypto.randomUUID();
    const lease = { key: `${prefix}:lock`, uniqueValue, ttl: 2000 };
    for (let i = 0; i < iterations; i++) {
      let grant: { fence?: number | undefined } | void;
      while (true) {
        try {
          grant = await adapter.createLock(lease);
          break;
        } catch (error) {
          if (!(error instanceof LockCreateError)) throw error;
          if (Date.now() > deadline + 60_000) throw new Error("could not take the lock in time");
          await sleep(Math.random() * 2);
        }
      }
      await client.rpush(`${prefix}:fences`, String(grant?.fence));
      await adapter.releaseLock(lease);
    }
  } finally {
    await client.quit();
  }
}

main().then(
  () => process.stdout.write("done\n"),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);

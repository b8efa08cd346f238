// Copyright 2026 the locco authors. MIT license.
// One OS process of the multi-process counter test (redis_process_test.ts):
// waits until every worker is connected, then does `iterations` non-atomic
// GET + SET increments of a Redis counter, under the lock unless mode is
// "nolock". Runs on Deno (`deno run -A`), Node (`node --import tsx`) and Bun.

import process from "node:process";
import { Locker } from "@kontsedal/locco";
import { openWorkerRedis } from "./_redis_worker_client.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const [url, prefix, workersArg, iterationsArg, mode, family = "ioredis"] = process.argv.slice(2);
  if (!url || !prefix || !workersArg || !iterationsArg || !mode) {
    throw new Error(
      "usage: worker <redis url> <key prefix> <workers> <iterations> <lock|nolock> [ioredis|node-redis]",
    );
  }
  const workers = Number(workersArg);
  const iterations = Number(iterationsArg);
  const counterKey = `${prefix}:counter`;
  const readyKey = `${prefix}:ready`;
  const client = await openWorkerRedis(family, url);
  try {
    const locker = new Locker({
      adapter: client.adapter,
      retrySettings: { retryDelayFn: () => 1 + Math.random() * 4, totalTime: 20_000 },
    });
    await client.incr(readyKey);
    const deadline = Date.now() + 20_000;
    while (Number(await client.get(readyKey)) < workers) {
      if (Date.now() > deadline) throw new Error("the other workers never became ready");
      await sleep(5);
    }
    const increment = async (): Promise<void> => {
      const value = Number(await client.get(counterKey) ?? 0);
      await client.set(counterKey, String(value + 1));
    };
    for (let i = 0; i < iterations; i++) {
      if (mode === "lock") await locker.lock(`${prefix}:lock`, 2000).acquire(increment);
      else await increment();
    }
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

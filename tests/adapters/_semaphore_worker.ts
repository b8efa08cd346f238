// Copyright 2026 the locco authors. MIT license.
// One OS process of the multi-process semaphore test
// (semaphore_process_test.ts): runs `loops` concurrent loops that each enter
// a section `sections` times, holding a permit of the semaphore `key`
// (limit `limit`) on MongoDB, or no permit at all in the "none" control.
// Inside, it counts itself in with Redis INCR, which answers the exact number
// of processes' loops inside at that moment, and out with DECR. It prints the
// largest count it saw and the sections it completed: "<most> <done>".
// Runs on Deno, Node (through tsx) and Bun; no top-level await (Node's CJS run).

import process from "node:process";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { Locker } from "@kontsedal/locco";
import { MongoAdapter } from "@kontsedal/locco/mongodb";

async function main(): Promise<void> {
  const [mode, mongoUrl, redisUrl, key, limitArg, loopsArg, sectionsArg] = process.argv.slice(2);
  if (!mode || !mongoUrl || !redisUrl || !key || !limitArg || !loopsArg || !sectionsArg) {
    throw new Error(
      "usage: _semaphore_worker <mongodb|none> <mongo url> <redis url> <key> <limit> <loops> <sections>",
    );
  }
  const counter = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const client = new MongoClient(mongoUrl, { directConnection: true, maxPoolSize: 4 });
  let most = 0;
  let done = 0;
  try {
    const locker = new Locker({
      adapter: new MongoAdapter({ client, dbName: "locco-semaphore" }),
      retrySettings: { retryDelayFn: () => 2 + Math.random() * 5, totalTime: 120_000 },
    });
    const section = async () => {
      most = Math.max(most, await counter.incr(`${key}:inside`));
      await new Promise((resolve) => setTimeout(resolve, 3));
      await counter.decr(`${key}:inside`);
      done++;
    };
    await Promise.all(Array.from({ length: Number(loopsArg) }, async () => {
      for (let i = 0; i < Number(sectionsArg); i++) {
        if (mode === "none") await section();
        else await locker.semaphore(key, Number(limitArg), 10_000).acquire(section);
      }
    }));
  } finally {
    await Promise.all([client.close(), counter.quit()]);
  }
  process.stdout.write(`${most} ${done}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

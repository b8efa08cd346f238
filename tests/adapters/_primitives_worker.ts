// Copyright 2026 the locco authors. MIT license.
// One OS process of the multi-process primitives test
// (primitives_process_test.ts): runs `loops` concurrent loops that each enter
// a section `sections` times under a primitive on MongoDB or on Redis
// (IoRedisAdapter, when the Mongo URL is "redis"), or unguarded
// ("none") as the control. Inside, it counts itself in with Redis INCR, which
// answers the exact number of loops of all processes inside at that moment,
// and out with DECR:
// - semaphore: one counter; the largest value seen must not pass the limit.
// - rw: loop 0 of each process writes, the others read; a writer must see no
//   other writer and no reader, a reader no writer.
// - multi: loop i locks keys i and i+1 (mod 3); every key's counter stays <= 1.
// It prints "<largest count seen> <violations> <sections done>".
// Runs on Deno, Node (through tsx) and Bun; no top-level await (Node's CJS run).

import process from "node:process";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { Locker } from "@kontsedal/locco";
import { MongoAdapter } from "@kontsedal/locco/mongodb";
import { IoRedisAdapter } from "@kontsedal/locco/redis";

async function main(): Promise<void> {
  const [primitive, guard, mongoUrl, redisUrl, key, limitArg, loopsArg, sectionsArg] = process
    .argv.slice(2);
  if (!primitive || !guard || !mongoUrl || !redisUrl || !key || !sectionsArg) {
    throw new Error(
      'usage: _primitives_worker <semaphore|rw|multi> <locked|none> <mongo url or "redis"> <redis url> <key> <limit> <loops> <sections>',
    );
  }
  const limit = Number(limitArg);
  const counter = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const onRedis = mongoUrl === "redis";
  const client = onRedis
    ? undefined
    : new MongoClient(mongoUrl, { directConnection: true, maxPoolSize: 4 });
  const lockClient = onRedis ? new Redis(redisUrl) : undefined;
  const adapter = client === undefined
    ? new IoRedisAdapter({ client: lockClient! })
    : new MongoAdapter({ client, dbName: "locco-primitives" });
  let most = 0;
  let violations = 0;
  let done = 0;
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 3));
  // Stays in a section until `name`'s count reaches `target` (or a while
  // passed), so that sections overlap as far as the guard lets them however
  // slow the machine is.
  const fill = async (name: string, target: number) => {
    const until = performance.now() + 300;
    while (performance.now() < until) {
      const inside = Number(await counter.get(`${key}:${name}`));
      most = Math.max(most, inside);
      if (inside >= target) return;
      await pause();
    }
  };
  try {
    const locker = new Locker({
      adapter,
      retrySettings: { retryDelayFn: () => 2 + Math.random() * 5, totalTime: 120_000 },
    });
    const guarded = <T>(
      lock: () => { acquire(cb: () => Promise<T>): Promise<T> },
      cb: () => Promise<T>,
    ) => guard === "none" ? cb() : lock().acquire(cb);
    const counted = async (
      names: string[],
      check: (counts: number[]) => boolean,
      stay: () => Promise<void> = pause,
    ) => {
      const counts = await Promise.all(names.map((name) => counter.incr(`${key}:${name}`)));
      most = Math.max(most, ...counts);
      if (!check(counts)) violations++;
      await stay();
      await Promise.all(names.map((name) => counter.decr(`${key}:${name}`)));
      done++;
    };
    const loop = async (i: number) => {
      for (let n = 0; n < Number(sectionsArg); n++) {
        if (primitive === "semaphore") {
          await guarded(
            () => locker.semaphore(key, limit, 10_000),
            () => counted(["inside"], ([inside]) => inside! <= limit, () => fill("inside", limit)),
          );
        } else if (primitive === "rw" && i === 0) {
          await guarded(() => locker.readWrite(key, 10_000).write(), async () => {
            const writers = await counter.incr(`${key}:writers`);
            const readers = Number(await counter.get(`${key}:readers`));
            most = Math.max(most, writers);
            if (writers > 1 || readers > 0) violations++;
            await pause();
            await counter.decr(`${key}:writers`);
            done++;
          });
        } else if (primitive === "rw") {
          await guarded(() => locker.readWrite(key, 10_000).read(), async () => {
            most = Math.max(most, await counter.incr(`${key}:readers`));
            if (Number(await counter.get(`${key}:writers`)) > 0) violations++;
            await fill("readers", 2);
            await counter.decr(`${key}:readers`);
            done++;
          });
        } else {
          const mine = [`k${i % 3}`, `k${(i + 1) % 3}`];
          await guarded(
            () => locker.lock(mine.map((k) => `${key}:${k}`), 10_000),
            () => counted(mine, (counts) => counts.every((c) => c <= 1)),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Number(loopsArg) }, (_, i) => loop(i)));
  } finally {
    if (adapter instanceof IoRedisAdapter) await adapter.close();
    await Promise.all([client?.close(), lockClient?.quit(), counter.quit()]);
  }
  process.stdout.write(`${most} ${violations} ${done}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

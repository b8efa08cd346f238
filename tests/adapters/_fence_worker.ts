// Copyright 2026 the locco authors. MIT license.
// One OS process of the multi-process fencing test (fence_process_test.ts):
// acquires one key `iterations` times on Redis or MongoDB and, under the lock,
// reads and bumps a shared sequence number (a plain read then write), then
// prints "<sequence> <fence>" per acquisition. The parent checks that the
// sequence has no gap (exclusion held) and that fences grow along it.
// Runs on Deno, Node (through tsx) and Bun; no top-level await (Node's CJS run).

import process from "node:process";
import { MongoClient } from "mongodb";
import { type ILockAdapter, Locker } from "@kontsedal/locco";
import { openWorkerRedis } from "./_redis_worker_client.ts";
import { MongoAdapter } from "@kontsedal/locco/mongodb";

interface Store {
  adapter: ILockAdapter;
  next(): Promise<number>;
  close(): Promise<void>;
}

async function openStore(backend: string, url: string, key: string): Promise<Store> {
  if (backend === "redis" || backend === "node-redis") {
    const client = await openWorkerRedis(backend === "redis" ? "ioredis" : backend, url);
    return {
      adapter: client.adapter,
      async next() {
        const value = Number(await client.get(`${key}:sequence`) ?? 0);
        await client.set(`${key}:sequence`, String(value + 1));
        return value;
      },
      close: () => client.close(),
    };
  }
  const client = new MongoClient(url, { directConnection: true, maxPoolSize: 2 });
  const sequences = client.db("locco-fence").collection<{ _id: string; value: number }>("seq");
  return {
    adapter: new MongoAdapter({ client, dbName: "locco-fence" }),
    async next() {
      const value = (await sequences.findOne({ _id: key }))?.value ?? 0;
      await sequences.updateOne({ _id: key }, { $set: { value: value + 1 } }, { upsert: true });
      return value;
    },
    close: () => client.close(),
  };
}

async function main(): Promise<void> {
  const [backend, url, key, iterationsArg] = process.argv.slice(2);
  if (!backend || !url || !key || !iterationsArg) {
    throw new Error("usage: _fence_worker <redis|node-redis|mongodb> <url> <key> <iterations>");
  }
  const store = await openStore(backend, url, key);
  const lines: string[] = [];
  try {
    const locker = new Locker({
      adapter: store.adapter,
      retrySettings: { retryDelayFn: () => 1 + Math.random() * 3, totalTime: 60_000 },
    });
    for (let i = 0; i < Number(iterationsArg); i++) {
      // Some locks are left to expire instead of released: tokens must grow
      // across both. The ttl leaves room for a loaded 2-core machine.
      const lock = await locker.lock(key, 300).acquire();
      lines.push(`${await store.next()} ${lock.fence}`);
      if (i % 50 !== 49) await lock.release();
      else await new Promise((resolve) => setTimeout(resolve, 320));
    }
  } finally {
    await store.close();
  }
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

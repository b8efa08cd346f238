// Copyright 2026 the locco authors. MIT license.
// IoRedisAdapter sends the scripts that concurrent locks run at the same
// moment as one ioredis pipeline: each lock still gets its own reply and its
// own error, a NOSCRIPT falls back to EVAL per script, and a lone script is
// sent as before.

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { IoRedisAdapter, type IoRedisLikeClient, LockCreateError, Locker } from "@kontsedal/locco";
import { commandCalls, RedisServer } from "../_redis_server.ts";

/** An ioredis client that counts the pipelines it makes and the commands each sends. */
class CountingRedis extends Redis {
  pipelines = 0;
  sizes: number[] = [];
  override pipeline(...args: Parameters<Redis["pipeline"]>): ReturnType<Redis["pipeline"]> {
    this.pipelines++;
    const pipeline = super.pipeline(...args);
    const exec = pipeline.exec.bind(pipeline);
    pipeline.exec = (...execArgs: Parameters<typeof exec>) => {
      this.sizes.push(pipeline.length);
      return exec(...execArgs);
    };
    return pipeline;
  }
}

async function withServer(
  fn: (client: CountingRedis, admin: Redis, locker: Locker) => Promise<void>,
): Promise<void> {
  const server = await RedisServer.start();
  const client = new CountingRedis(server.url);
  const admin = new Redis(server.url);
  const adapter = new IoRedisAdapter({ client });
  try {
    await fn(
      client,
      admin,
      new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } }),
    );
  } finally {
    await adapter.close();
    await Promise.all([client.quit(), admin.quit()]);
    await server.stop();
  }
}

Deno.test("IoRedisAdapter sends the scripts of concurrent locks in pipelines of up to 16, each lock with its own fence", async () => {
  await withServer(async (client, admin, locker) => {
    await admin.config("RESETSTAT");
    const locks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => locker.lock(`batch:${i}`, 5000).acquire()),
    );
    assert.deepEqual(client.sizes, [16, 4]);
    const fences = locks.map((lock) => lock.fence!);
    assert.ok(fences.every((fence) => Number.isSafeInteger(fence) && fence > 0));
    for (const [i, lock] of locks.entries()) {
      assert.equal(await admin.get(`batch:${i}`), lock.uniqueValue);
    }
    await Promise.all(locks.map((lock) => lock.release({ throwOnFail: true })));
    assert.deepEqual(client.sizes, [16, 4, 16, 4]);
    assert.equal((await commandCalls(admin)).evalsha, 40);
    assert.equal(await admin.exists(...locks.map((_, i) => `batch:${i}`)), 0);
  });
});

Deno.test("IoRedisAdapter sends a lone script without a pipeline", async () => {
  await withServer(async (client, admin, locker) => {
    const lock = await locker.lock("alone", 5000).acquire();
    await lock.release({ throwOnFail: true });
    assert.equal(client.pipelines, 0);
    assert.equal(await admin.exists("alone"), 0);
  });
});

Deno.test("IoRedisAdapter: in one pipeline, a held key is contention and a broken fence counter the driver's error, for that lock only", async () => {
  await withServer(async (client, admin, locker) => {
    await admin.set("batch:held", "someone", "PX", 60_000);
    await admin.hset("{batch:broken}:fence", "field", "value");
    const results = await Promise.allSettled([
      locker.lock("batch:a", 5000).tryAcquire(),
      locker.lock("batch:held", 5000).tryAcquire(),
      locker.lock("batch:broken", 5000).tryAcquire(),
      locker.lock("batch:b", 5000).tryAcquire(),
    ]);
    assert.equal(client.pipelines, 1);
    const [a, held, broken, b] = results;
    assert.ok(a.status === "fulfilled" && a.value !== undefined);
    assert.ok(held.status === "fulfilled" && held.value === undefined);
    assert.ok(broken.status === "rejected");
    assert.ok(!(broken.reason instanceof LockCreateError));
    assert.match(String(broken.reason), /WRONGTYPE/);
    assert.equal(await admin.exists("batch:broken"), 0);
    assert.ok(b.status === "fulfilled" && b.value !== undefined);
    await Promise.all([a.value!.release(), b.value!.release()]);
  });
});

Deno.test("IoRedisAdapter: after SCRIPT FLUSH, every script of a pipeline falls back to EVAL", async () => {
  await withServer(async (client, admin, locker) => {
    await (await locker.lock("warm-up", 5000).acquire()).release();
    await admin.script("FLUSH");
    await admin.config("RESETSTAT");
    const locks = await Promise.all(
      Array.from({ length: 5 }, (_, i) => locker.lock(`flushed:${i}`, 5000).acquire()),
    );
    assert.equal(client.pipelines, 1);
    const calls = await commandCalls(admin);
    assert.equal(calls.eval, 5);
    for (const [i, lock] of locks.entries()) {
      assert.equal(await admin.get(`flushed:${i}`), lock.uniqueValue);
    }
    await Promise.all(locks.map((lock) => lock.release({ throwOnFail: true })));
  });
});

Deno.test("IoRedisAdapter: a client that throws instead of rejecting fails the locks it was sending, alone or batched", async () => {
  const client: IoRedisLikeClient = {
    get: () => Promise.resolve(null),
    eval: () => Promise.reject(new Error("eval is not expected")),
    evalsha: () => {
      throw new Error("evalsha threw");
    },
    pipeline: () => ({
      evalsha: () => {
        throw new Error("pipeline threw");
      },
      exec: () => Promise.resolve([]),
    }),
  };
  const adapter = new IoRedisAdapter({ client, waitStrategy: "poll" });
  await assert.rejects(
    adapter.createLock({ key: "alone", uniqueValue: "a", ttl: 1000 }),
    /evalsha threw/,
  );
  const batched = await Promise.allSettled([
    adapter.createLock({ key: "one", uniqueValue: "a", ttl: 1000 }),
    adapter.createLock({ key: "two", uniqueValue: "b", ttl: 1000 }),
  ]);
  for (const result of batched) {
    assert.ok(result.status === "rejected");
    assert.match(String(result.reason), /pipeline threw/);
  }
});

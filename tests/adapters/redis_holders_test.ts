// Copyright 2026 the locco authors. MIT license.
// What the Redis semaphores and read-write locks do beyond the contract
// suites (which redis_test.ts runs): where their keys live and for how long,
// first come first served against newcomers, waiters that leave or die, and
// backend errors passed through.

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { IoRedisAdapter, LockCreateError, Locker } from "@kontsedal/locco";
import { delay, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, REDIS_URL } from "../_redis_server.ts";

async function withRedis(
  fn: (open: () => IoRedisAdapter, admin: Redis) => Promise<void>,
): Promise<void> {
  await assertRedisReachable();
  const admin = new Redis(REDIS_URL);
  const clients: Redis[] = [];
  const adapters: IoRedisAdapter[] = [];
  try {
    await fn(() => {
      const client = new Redis(REDIS_URL);
      clients.push(client);
      const adapter = new IoRedisAdapter({ client });
      adapters.push(adapter);
      return adapter;
    }, admin);
  } finally {
    await Promise.all(adapters.map((adapter) => adapter.close()));
    await Promise.all([...clients, admin].map((client) => client.quit().catch(() => {})));
  }
}

function lockerOf(adapter: IoRedisAdapter, retryDelay = 60_000): Locker {
  return new Locker({ adapter, retrySettings: { retryDelay, retryTimes: 3, totalTime: 20_000 } });
}

Deno.test("IoRedisAdapter semaphore keys share the key's hash tag, apart from the lock key, and expire with the longest lease", async () => {
  await withRedis(async (open, admin) => {
    const key = uniqueKey();
    const locker = lockerOf(open());
    const short = await locker.semaphore(key, 2, 2000).acquire();
    const long = await locker.semaphore(key, 2, 60_000).acquire();
    const keys = (await admin.keys(`*${key}*`)).sort();
    assert.deepEqual(keys, [
      `{${key}}:semaphore`,
      `{${key}}:semaphore:fence`,
      `{${key}}:semaphore:fences`,
    ]);
    const holders = await admin.pttl(`{${key}}:semaphore`);
    assert.ok(holders > 2000 && holders <= 60_000, `holders live ${holders} ms`);
    assert.ok(await admin.pttl(`{${key}}:semaphore:fences`) > 2000);
    assert.ok(await admin.pttl(`{${key}}:semaphore:fence`) > 60_000, "the counter outlives them");
    await Promise.all([short.release({ throwOnFail: true }), long.release({ throwOnFail: true })]);
    assert.deepEqual(await admin.keys(`*${key}*`), [`{${key}}:semaphore:fence`]);
  });
});

Deno.test("IoRedisAdapter semaphore: a newcomer is refused the slot a release frees for an earlier waiter", async () => {
  await withRedis(async (open) => {
    const key = uniqueKey();
    const holder = await lockerOf(open()).semaphore(key, 1, 30_000).acquire();
    const waiting = lockerOf(open()).semaphore(key, 1, 30_000).acquire();
    await delay(200);
    await holder.release({ throwOnFail: true });
    // Sent right after the release, long before the waiter's next attempt could be.
    const newcomer = await lockerOf(open()).semaphore(key, 1, 30_000).tryAcquire();
    assert.equal(newcomer, undefined, "the newcomer took the waiter's slot");
    const lock = await waiting;
    assert.ok(lock.fence! > holder.fence!);
    await lock.release({ throwOnFail: true });
  });
});

Deno.test("IoRedisAdapter semaphore: a waiter that gives up leaves the queue, so newcomers come in again", async () => {
  await withRedis(async (open, admin) => {
    const key = uniqueKey();
    const holder = await lockerOf(open()).semaphore(key, 1, 30_000).acquire();
    const giveUp = new AbortController();
    const waiting = lockerOf(open()).semaphore(key, 1, 30_000).acquire(undefined, {
      signal: giveUp.signal,
    });
    await delay(200);
    assert.equal(await admin.zcard(`{${key}}:semaphore:queue`), 1, "the waiter queued");
    giveUp.abort();
    await assert.rejects(waiting);
    await holder.release({ throwOnFail: true });
    const newcomer = await lockerOf(open()).semaphore(key, 1, 30_000).tryAcquire();
    assert.ok(newcomer, "the slot went to the newcomer");
    assert.equal(await admin.exists(`{${key}}:semaphore:queue`), 0);
    await newcomer.release({ throwOnFail: true });
  });
});

Deno.test("IoRedisAdapter semaphore: the place of a waiter whose connections died goes to the next one at the release", async () => {
  await withRedis(async (open, admin) => {
    const key = uniqueKey();
    const holder = await lockerOf(open()).semaphore(key, 1, 30_000).acquire();
    const doomedClient = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
    doomedClient.on("error", () => {});
    const doomed = new IoRedisAdapter({ client: doomedClient });
    const dying = lockerOf(doomed).semaphore(key, 1, 30_000).acquire();
    dying.catch(() => {});
    await delay(200);
    // The process dies: no leave reaches Redis, its subscriber is gone.
    doomedClient.disconnect();
    await doomed.close();
    await assert.rejects(dying);
    assert.equal(await admin.zcard(`{${key}}:semaphore:queue`), 1, "its place is still queued");
    const next = lockerOf(open()).semaphore(key, 1, 30_000).acquire();
    await delay(200);
    await holder.release({ throwOnFail: true });
    const lock = await next;
    assert.equal(await lock.isLocked(), true);
    await lock.release({ throwOnFail: true });
  });
});

Deno.test("IoRedisAdapter read-write lock: a reader waiting behind a writer is woken by the writer's release", async () => {
  await withRedis(async (open) => {
    const key = uniqueKey();
    const writer = await lockerOf(open()).readWrite(key, 30_000).write().acquire();
    const readers = [open(), open()].map((adapter) =>
      lockerOf(adapter).readWrite(key, 30_000).read().acquire()
    );
    await delay(200);
    await writer.release({ throwOnFail: true });
    const held = await Promise.all(readers);
    assert.ok(held.every((lock) => lock.fence! > writer.fence!));
    await Promise.all(held.map((lock) => lock.release({ throwOnFail: true })));
  });
});

Deno.test("IoRedisAdapter inspectLock(): a semaphore's soonest lease, a read-write lock's latest, the newest fence", async () => {
  await withRedis(async (open) => {
    const adapter = open();
    const key = uniqueKey();
    const slots = adapter.semaphore(3);
    assert.equal(await slots.inspectLock!(key), undefined);
    await slots.createLock({ key, uniqueValue: "a", ttl: 5000 });
    const { fence } = await slots.createLock({ key, uniqueValue: "b", ttl: 60_000 }) as {
      fence: number;
    };
    const slot = await slots.inspectLock!(key);
    assert.equal(slot?.fence, fence);
    assert.ok(slot!.expiresIn > 0 && slot!.expiresIn <= 5000, `${slot!.expiresIn}`);
    const readers = adapter.readWrite("read");
    await readers.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await readers.createLock({ key, uniqueValue: "b", ttl: 60_000 });
    const rw = await adapter.readWrite("write").inspectLock!(key);
    assert.ok(rw!.expiresIn > 5000 && rw!.expiresIn <= 60_000, `${rw!.expiresIn}`);
    assert.ok(rw!.fence! > fence);
    assert.equal(await adapter.inspectLock(key), undefined, "the lock key is free");
  });
});

Deno.test("IoRedisAdapter semaphore and read-write lock pass a WRONGTYPE error through, never as contention", async () => {
  await withRedis(async (open, admin) => {
    const adapter = open();
    const key = uniqueKey();
    await admin.set(`{${key}}:semaphore`, "application data");
    await admin.set(`{${key}}:rw`, "application data");
    for (const view of [adapter.semaphore(2), adapter.readWrite("read")]) {
      const error = await view.createLock({ key, uniqueValue: "a", ttl: 1000 }).then(
        () => undefined,
        (error) => error,
      );
      assert.ok(error instanceof Error && /WRONGTYPE/.test(error.message), String(error));
      assert.ok(!(error instanceof LockCreateError));
    }
    await admin.del(`{${key}}:semaphore`, `{${key}}:rw`);
  });
});

Deno.test("IoRedisAdapter semaphore and read-write waits end at maxWaitMs, and on abort, while Redis does not answer", async () => {
  const silent = () => new Promise<never>(() => {});
  const adapter = new IoRedisAdapter({ client: { get: silent, evalsha: silent, eval: silent } });
  const id = { key: "k", uniqueValue: "me" };
  const within = <T>(promise: Promise<T>, what: string) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not end`)), 10_000);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  };
  for (const view of [adapter.semaphore(2), adapter.readWrite("write")]) {
    const session = new AbortController();
    await within(view.waitForUnlock!(id, 100, session.signal), "the wait");
    const aborted = view.waitForUnlock!(id, 60_000, session.signal);
    session.abort();
    await within(aborted, "the aborted wait");
  }
});

// Copyright 2026 the locco authors. MIT license.
// The subscriber connection behind waiting, on every Redis client family:
// adapters over one client share one subscriber (each on its own channel)
// and leave no listener on the client once closed; notifications come back
// after the subscriber reconnects; a subscriber that gave up reconnecting is
// replaced by the next wait. Times are generous upper bounds on behaviour
// (woken long before a 5 s retry delay), never latency targets.

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { Locker } from "@kontsedal/locco";
import { delay } from "../_helpers.ts";
import { RedisServer } from "../_redis_server.ts";
import {
  IOREDIS_5,
  NODE_REDIS_4,
  NODE_REDIS_6,
  type RawRedisClient,
  type RedisClientKind,
} from "../_redis_clients.ts";

const CLIENTS: RedisClientKind[] = [IOREDIS_5, NODE_REDIS_6, NODE_REDIS_4];

/** Pub/sub connections the server has, and the channels they listen on. */
async function pubsubConnections(admin: Redis): Promise<number> {
  const list = String(await admin.call("CLIENT", "LIST", "TYPE", "pubsub")).trim();
  return list === "" ? 0 : list.split("\n").length;
}

async function handoffChannels(admin: Redis): Promise<number> {
  return ((await admin.pubsub("CHANNELS", "locco:handoff:*")) as string[]).length;
}

/**
 * A waiter with a 5 s retry delay takes a key released 200 ms after it
 * started waiting: it must have been woken by the notification.
 */
async function assertWokenByRelease(locker: Locker, key: string): Promise<void> {
  const held = await locker.lock(key, 30_000).acquire();
  const waiting = locker.lock(key, 1000).acquire();
  await delay(200);
  const releasedAt = performance.now();
  await held.release({ throwOnFail: true });
  const lock = await waiting;
  const waited = performance.now() - releasedAt;
  await lock.release({ throwOnFail: true });
  assert.ok(waited < 2000, `the waiter took the key ${Math.round(waited)} ms after the release`);
}

// Every client's end listener count, summed over the events adapters listen to.
function endListeners(client: RawRedisClient): number {
  return ["end", "disconnect"].reduce((sum, event) => sum + client.listenerCount(event), 0);
}

for (const kind of CLIENTS) {
  Deno.test(`${kind.adapterName}s over one client share one subscriber connection, and closed they leave no listener on the client (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const admin = new Redis(server.url);
    const client = await kind.connect(server.url);
    try {
      const listenersBefore = endListeners(client);
      const retrySettings = { retryDelay: 5000, retryTimes: 3 };
      const holder = new Locker({ adapter: kind.adapter(client), retrySettings });
      const adapters = Array.from({ length: 12 }, () => kind.adapter(client));
      const held = await Promise.all(
        adapters.map((_, i) => holder.lock(`k${i}`, 30_000).acquire()),
      );
      const waiting = adapters.map((adapter, i) =>
        new Locker({ adapter, retrySettings }).lock(`k${i}`, 1000).acquire()
      );
      await delay(300);
      assert.equal(await handoffChannels(admin), 12, "one channel per adapter");
      assert.equal(await pubsubConnections(admin), 1, "one subscriber connection for them all");
      for (const lock of held) await lock.release({ throwOnFail: true });
      for (const lock of await Promise.all(waiting)) await lock.release({ throwOnFail: true });
      // Closing some leaves the others listening.
      for (const adapter of adapters.slice(0, 6)) await adapter.close();
      assert.equal(await handoffChannels(admin), 6);
      for (const adapter of adapters.slice(6)) await adapter.close();
      await delay(100);
      assert.equal(await pubsubConnections(admin), 0, "the last close closed the subscriber");
      assert.equal(endListeners(client), listenersBefore, "no listener left on the client");
    } finally {
      await kind.closeClient(client);
      await admin.quit();
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName}: notifications wake waiters again once the subscriber reconnected (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const admin = new Redis(server.url);
    const opened = await kind.open(server.url, {}, { reconnectMs: 100 });
    try {
      const locker = new Locker({
        adapter: opened.adapter,
        retrySettings: { retryDelay: 5000, retryTimes: 3 },
      });
      await assertWokenByRelease(locker, "first");
      await admin.client("KILL", "TYPE", "pubsub");
      // Wait for the actual reconnect: the subscriber is back, on its channel.
      const deadline = performance.now() + 5000;
      while (await handoffChannels(admin) === 0) {
        assert.ok(performance.now() < deadline, "the subscriber reconnected within 5 s");
        await delay(20);
      }
      await assertWokenByRelease(locker, "second");
    } finally {
      await opened.close();
      await admin.quit();
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName}: a subscriber that gave up reconnecting is replaced, and a later release wakes a waiter (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const admin = new Redis(server.url);
    let giveUp = false;
    const opened = await kind.open(server.url, {}, { reconnectMs: 50, giveUp: () => giveUp });
    try {
      const locker = new Locker({
        adapter: opened.adapter,
        retrySettings: { retryDelay: 5000, retryTimes: 3 },
      });
      await assertWokenByRelease(locker, "first");
      // Only the subscriber loses its connection, and it does not reconnect.
      giveUp = true;
      await admin.client("KILL", "TYPE", "pubsub");
      await delay(500);
      giveUp = false;
      assert.equal(await pubsubConnections(admin), 0, "the subscriber stayed down");
      assert.ok(opened.isReady(), "the client itself still works");
      await assertWokenByRelease(locker, "second");
      assert.equal(await pubsubConnections(admin), 1);
    } finally {
      await opened.close();
      await admin.quit();
      await server.stop();
    }
  });
}

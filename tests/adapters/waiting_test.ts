// Copyright 2026 the locco authors. MIT license.
// Waiting without polling: a waiter is woken by the release, not
// after its retry delay; waiters are served first come first served; a lost
// notification only delays; abort and totalTime still bound the wait; the
// Redis subscriber connection is closed. Times are generous upper bounds on
// behaviour (woken long before a 5 s retry delay), never latency targets.

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { type ILockAdapter, InMemoryAdapter, Locker, RetryError } from "@kontsedal/locco";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { delay, uniqueKey } from "../_helpers.ts";
import { ON_DENO, openTestKv, tempKvPath, type TestKv } from "../_kv.ts";
import { assertRedisReachable, REDIS_URL, RedisServer } from "../_redis_server.ts";
import {
  GLIDE,
  GLIDE_BYTES,
  IOREDIS_5,
  NODE_REDIS_4,
  NODE_REDIS_6,
  type OpenedRedisClient,
  type RedisClientKind,
} from "../_redis_clients.ts";

interface Backend {
  adapter(): Promise<ILockAdapter>;
  close(): Promise<void>;
}

function memoryBackend(): Backend {
  const adapter = new InMemoryAdapter();
  return { adapter: () => Promise.resolve(adapter), close: () => Promise.resolve() };
}

// Every adapter() is a new client, as if in another process.
async function redisBackend(kind: RedisClientKind, url: string = REDIS_URL): Promise<Backend> {
  await assertRedisReachable(url);
  const opened: OpenedRedisClient[] = [];
  return {
    async adapter(): Promise<ILockAdapter> {
      const client = await kind.open(url);
      opened.push(client);
      return client.adapter;
    },
    async close(): Promise<void> {
      await Promise.all(opened.splice(0).map((client) => client.close()));
    },
  };
}

// Subscribers of the adapters' hand-off channels ("locco:handoff:" + id).
async function handoffChannels(admin: Redis): Promise<string[]> {
  return (await admin.pubsub("CHANNELS", "locco:handoff:*")) as string[];
}

async function handoffSubscribers(admin: Redis): Promise<number> {
  const channels = await handoffChannels(admin);
  if (channels.length === 0) return 0;
  const reply = (await admin.pubsub("NUMSUB", ...channels)) as Array<string | number>;
  return reply.filter((_, i) => i % 2 === 1).reduce<number>((sum, n) => sum + Number(n), 0);
}

// A Deno KV file database. On Deno every adapter() has a handle of its own
// (the default watch sees the writes of every handle of this process); on
// Node and Bun the adapter polls, and only its own releases wake its waiters
// at once, so every adapter() is one adapter on one handle.
const KV_HANDLES = 4;
async function kvBackend(): Promise<Backend> {
  const { path, remove } = tempKvPath();
  const handles: TestKv[] = [];
  const adapters: DenoKvAdapter[] = [];
  for (let i = 0; i < (ON_DENO ? KV_HANDLES : 1); i++) handles.push(await openTestKv(path));
  return {
    adapter(): Promise<DenoKvAdapter> {
      if (!ON_DENO && adapters.length > 0) return Promise.resolve(adapters[0]!);
      const kv = handles[adapters.length];
      if (kv === undefined) throw new Error(`a test asked for more than ${KV_HANDLES} adapters`);
      const adapter = new DenoKvAdapter({ kv });
      adapters.push(adapter);
      return Promise.resolve(adapter);
    },
    async close(): Promise<void> {
      await Promise.all(adapters.splice(0).map((a) => a.close()));
      for (const kv of handles.splice(0)) kv.close();
      remove();
    },
  };
}

// The waiting machinery is one; its transport differs per client family and
// node-redis major (subscriber API) and for GLIDE, so each runs these.
const WAITING_CLIENTS = [IOREDIS_5, NODE_REDIS_6, NODE_REDIS_4, GLIDE, GLIDE_BYTES];

const BACKENDS: Array<[string, () => Promise<Backend>]> = [
  ["InMemoryAdapter", () => Promise.resolve(memoryBackend())],
  ...WAITING_CLIENTS.map((kind): [string, () => Promise<Backend>] => [
    `${kind.adapterName} (${kind.name})`,
    () => redisBackend(kind),
  ]),
  ["DenoKvAdapter", () => kvBackend()],
];

// Backends whose first-come-first-served order holds among one adapter's waiters only.
const FCFS_PER_ADAPTER = new Set(["DenoKvAdapter"]);
// deno-lint-ignore no-console
console.log(
  "DenoKvAdapter skips the cross-connection first-come-first-served test: its order holds among " +
    "one adapter's waiters (tested), and waiters of other adapters or processes may take the key first",
);

for (const [name, open] of BACKENDS) {
  Deno.test(`${name}.waitForUnlock() wakes a waiter on release, long before its 5 s retry delay`, async () => {
    const backend = await open();
    try {
      const key = uniqueKey();
      const retrySettings = { retryDelay: 5000, retryTimes: 3 };
      const holder = new Locker({ adapter: await backend.adapter(), retrySettings });
      const waiter = new Locker({ adapter: await backend.adapter(), retrySettings });
      const held = await holder.lock(key, 30_000).acquire();
      const started = performance.now();
      const waiting = waiter.lock(key, 30_000).acquire();
      await delay(100);
      await held.release({ throwOnFail: true });
      const lock = await waiting;
      const waited = performance.now() - started;
      assert.ok(waited < 2500, `waited ${waited} ms`);
      await lock.release({ throwOnFail: true });
    } finally {
      await backend.close();
    }
  });

  Deno.test(`${name}.waitForUnlock() serves the waiters of one process first come first served`, async () => {
    const backend = await open();
    try {
      const key = uniqueKey();
      const adapter = await backend.adapter();
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 5000, retryTimes: 5 } });
      const held = await locker.lock(key, 30_000).acquire();
      const order: number[] = [];
      const waiting: Promise<unknown>[] = [];
      for (let i = 0; i < 5; i++) {
        waiting.push(
          locker.lock(key, 30_000).acquire(async () => {
            order.push(i);
            await delay(5);
          }),
        );
        await delay(30);
      }
      const started = performance.now();
      await held.release({ throwOnFail: true });
      await Promise.all(waiting);
      assert.deepEqual(order, [0, 1, 2, 3, 4]);
      assert.ok(performance.now() - started < 2500);
    } finally {
      await backend.close();
    }
  });

  Deno.test({
    name: `${name}.waitForUnlock() serves waiters on separate connections first come first served`,
    ignore: FCFS_PER_ADAPTER.has(name),
  }, async () => {
    const backend = await open();
    try {
      const key = uniqueKey();
      const retrySettings = { retryDelay: 5000, retryTimes: 5 };
      const held = await new Locker({ adapter: await backend.adapter(), retrySettings })
        .lock(key, 30_000).acquire();
      const order: number[] = [];
      const waiting: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        const locker = new Locker({ adapter: await backend.adapter(), retrySettings });
        waiting.push(
          locker.lock(key, 30_000).acquire(async () => {
            order.push(i);
            await delay(5);
          }),
        );
        await delay(50);
      }
      await held.release({ throwOnFail: true });
      await Promise.all(waiting);
      assert.deepEqual(order, [0, 1, 2, 3]);
    } finally {
      await backend.close();
    }
  });

  Deno.test(`${name}.waitForUnlock() still bounds the wait by abort and by totalTime`, async () => {
    const backend = await open();
    try {
      const key = uniqueKey();
      const adapter = await backend.adapter();
      const held = await new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 1 } })
        .lock(key, 30_000).acquire();
      const waiter = new Locker({
        adapter: await backend.adapter(),
        retrySettings: { retryDelay: 5000, retryTimes: 10 },
      });
      const controller = new AbortController();
      const reason = new Error("caller gave up");
      const started = performance.now();
      const aborted = waiter.lock(key, 1000).acquire(undefined, { signal: controller.signal });
      setTimeout(() => controller.abort(reason), 100);
      await assert.rejects(aborted, (e) => e === reason);
      assert.ok(performance.now() - started < 2500);

      const timed = new Locker({
        adapter: await backend.adapter(),
        retrySettings: { retryDelay: 5000, retryTimes: 10, totalTime: 200 },
      });
      const before = performance.now();
      await assert.rejects(
        timed.lock(key, 1000).acquire(),
        (e) => e instanceof RetryError && /Total time/.test(e.message),
      );
      assert.ok(performance.now() - before < 2500);
      // The waiters that gave up left no trace: the next one is served at once.
      await held.release({ throwOnFail: true });
      const next = await waiter.lock(key, 1000).acquire();
      await next.release({ throwOnFail: true });
    } finally {
      await backend.close();
    }
  });

  Deno.test(`${name}.waitForUnlock() lets the bounded poll take a lock that expired instead of being released`, async () => {
    const backend = await open();
    try {
      const key = uniqueKey();
      await new Locker({
        adapter: await backend.adapter(),
        retrySettings: { retryDelay: 10, retryTimes: 1 },
      })
        .lock(key, 300).acquire();
      const started = performance.now();
      const lock = await new Locker({
        adapter: await backend.adapter(),
        retrySettings: { retryDelay: 100, retryTimes: 100 },
      }).lock(key, 1000).acquire();
      const waited = performance.now() - started;
      assert.ok(waited >= 250 && waited < 2500, `waited ${waited} ms`);
      await lock.release({ throwOnFail: true });
    } finally {
      await backend.close();
    }
  });

  Deno.test(`${name}.waitForUnlock() does not let a first waiter with a 5 s retry delay hold up a 100 ms one once the lock expires`, async () => {
    const backend = await open();
    try {
      const key = uniqueKey();
      const adapter = await backend.adapter();
      await new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 1 } })
        .lock(key, 400).acquire();
      const slow = new Locker({ adapter, retrySettings: { retryDelay: 5000, retryTimes: 5 } })
        .lock(key, 200).acquire(() => performance.now());
      await delay(50);
      const fast = new Locker({ adapter, retrySettings: { retryDelay: 100, retryTimes: 50 } })
        .lock(key, 200).acquire(() => performance.now());
      const expiredAt = performance.now() + 350;
      const firstTaken = await Promise.race([slow, fast]);
      assert.ok(
        firstTaken - expiredAt < 1000,
        `the expired key was taken ${Math.round(firstTaken - expiredAt)} ms after its ttl`,
      );
      await Promise.all([slow, fast]);
    } finally {
      await backend.close();
    }
  });
}

for (const kind of WAITING_CLIENTS) {
  Deno.test(`${kind.adapterName}.waitForUnlock() falls back to polling when the subscriber connection is killed (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const backend = await redisBackend(kind, server.url);
    const admin = new Redis(server.url);
    try {
      const retrySettings = { retryDelay: 200, retryTimes: 50 };
      const holder = new Locker({ adapter: await backend.adapter(), retrySettings });
      const waiter = new Locker({ adapter: await backend.adapter(), retrySettings });
      const held = await holder.lock("k", 30_000).acquire();
      const waiting = waiter.lock("k", 1000).acquire();
      await delay(100);
      assert.equal(await handoffSubscribers(admin), 1);
      // The notification can no longer arrive: kill the subscriber, then release.
      await admin.client("KILL", "TYPE", "pubsub");
      await held.release({ throwOnFail: true });
      const lock = await waiting;
      await lock.release({ throwOnFail: true });
    } finally {
      await backend.close();
      await admin.quit();
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName} announces a hand-off on the waiter's own channel only (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const backend = await redisBackend(kind, server.url);
    const admin = new Redis(server.url);
    const listener = new Redis(server.url);
    try {
      const retrySettings = { retryDelay: 5000, retryTimes: 3 };
      const holder = new Locker({ adapter: await backend.adapter(), retrySettings });
      const heldA = await holder.lock("a", 30_000).acquire();
      const heldB = await holder.lock("b", 30_000).acquire();
      const waitingA = new Locker({ adapter: await backend.adapter(), retrySettings }).lock(
        "a",
        1000,
      )
        .acquire();
      await delay(100);
      const [channelA] = await handoffChannels(admin);
      const waitingB = new Locker({ adapter: await backend.adapter(), retrySettings }).lock(
        "b",
        1000,
      )
        .acquire();
      await delay(100);
      const channels = await handoffChannels(admin);
      assert.equal(channels.length, 2, "one channel per waiting adapter");
      assert.equal(await handoffSubscribers(admin), 2);
      const messages: Array<[string, string]> = [];
      listener.on("pmessage", (_pattern: string, channel: string, message: string) => {
        messages.push([channel, message]);
      });
      await listener.psubscribe("locco:handoff:*");
      await heldA.release({ throwOnFail: true });
      await (await waitingA).release({ throwOnFail: true });
      await delay(50);
      assert.equal(messages.length, 1, JSON.stringify(messages));
      assert.equal(messages[0]![0], channelA);
      assert.match(messages[0]![1], /^[0-9a-z]+$/, "the waiter's token, not the key");
      await heldB.release({ throwOnFail: true });
      await (await waitingB).release({ throwOnFail: true });
      await delay(50);
      assert.equal(messages.length, 2, JSON.stringify(messages));
      assert.notEqual(messages[1]![0], channelA);
    } finally {
      await backend.close();
      await Promise.all([admin.quit(), listener.quit()]);
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName}.close() closes the subscriber connection it opened (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url);
    const admin = new Redis(server.url);
    try {
      const adapter = client.adapter;
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 5000, retryTimes: 3 } });
      const held = await locker.lock("k", 30_000).acquire();
      const waiting = locker.lock("k", 1000).acquire();
      await delay(100);
      const clientsWhileWaiting = (await admin.client("LIST")) as string;
      assert.equal(clientsWhileWaiting.trim().split("\n").length, 3, clientsWhileWaiting);
      await held.release({ throwOnFail: true });
      await (await waiting).release({ throwOnFail: true });
      await adapter.close();
      // GLIDE's close() returns before its native core drops the connection
      // (about 3 s later here).
      let clientsAfter = "";
      const deadline = performance.now() + 6000;
      do {
        await delay(50);
        clientsAfter = (await admin.client("LIST")) as string;
      } while (clientsAfter.trim().split("\n").length > 2 && performance.now() < deadline);
      assert.equal(clientsAfter.trim().split("\n").length, 2, clientsAfter);
      assert.equal(await handoffSubscribers(admin), 0);
    } finally {
      await Promise.all([client.close(), admin.quit()]);
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName} with waitStrategy "poll" opens no subscriber and still waits (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url, { waitStrategy: "poll" });
    const admin = new Redis(server.url);
    try {
      const adapter = client.adapter;
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 50, retryTimes: 100 } });
      const held = await locker.lock("k", 30_000).acquire();
      const waiting = locker.lock("k", 1000).acquire();
      await delay(120);
      assert.equal(await handoffSubscribers(admin), 0);
      await held.release({ throwOnFail: true });
      await (await waiting).release({ throwOnFail: true });
    } finally {
      await Promise.all([client.close(), admin.quit()]);
      await server.stop();
    }
  });
}

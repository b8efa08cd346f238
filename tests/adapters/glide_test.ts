// Copyright 2026 the locco authors. MIT license.
// GlideAdapter on Valkey GLIDE: what only its transport decides (the
// subscriber client made from the user's client's configuration, never
// touching that client, GLIDE's errors passed
// through when the server is away or the client closed, waking after a
// server restart). The contract suite, waiting, fencing and process suites
// run it too (tests/_redis_clients.ts), and the Cluster suite
// (tests/cluster/).

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { GlideClient } from "@valkey/valkey-glide";
import {
  GlideAdapter,
  type GlideLikeClient,
  isLoccoError,
  type Lock,
  Locker,
  ValidationError,
} from "@kontsedal/locco";
import * as redisEntry from "@kontsedal/locco/redis";
import { delay, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, REDIS_URL, RedisServer } from "../_redis_server.ts";
import { GLIDE } from "../_redis_clients.ts";

async function glideClient(url: string, options: Record<string, unknown> = {}) {
  const { hostname, port } = new URL(url);
  return await GlideClient.createClient({
    addresses: [{ host: hostname, port: Number(port || 6379) }],
    ...options,
  });
}

/** The CLIENT LIST lines of the server, one per connection. */
async function connections(admin: Redis): Promise<string[]> {
  return ((await admin.client("LIST")) as string).trim().split("\n");
}

/** Every own property of the client, with its value as text, and its configuration. */
function snapshot(client: object): string {
  const described = Reflect.ownKeys(client).map((key) => {
    const value = (client as Record<PropertyKey, unknown>)[key];
    return `${String(key)}=${typeof value === "object" ? typeof value : String(value)}`;
  });
  return JSON.stringify([described, (client as { config?: unknown }).config]);
}

Deno.test("GlideAdapter is exported from ./redis and the root", () => {
  assert.equal(redisEntry.GlideAdapter, GlideAdapter);
});

Deno.test("GlideAdapter refuses a client without customCommand with ValidationError naming client", () => {
  const client = { get: async () => null } as unknown as GlideLikeClient;
  assert.throws(
    () => new GlideAdapter({ client }),
    (error) => error instanceof ValidationError && error.parameter === "client",
  );
});

Deno.test("GlideAdapter never changes the client, waits through a subscriber client of its own, and close() closes only that one", async () => {
  await assertRedisReachable();
  const client = await glideClient(REDIS_URL);
  const typed: GlideLikeClient = client; // a real GlideClient fits the interface
  const admin = new Redis(REDIS_URL);
  try {
    const before = snapshot(client);
    const name = uniqueKey("locco-test:glide-client");
    await client.customCommand(["CLIENT", "SETNAME", name]);
    assert.equal((await connections(admin)).length, 2, "another client is connected");
    const adapter = new GlideAdapter({ client: typed });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 5000, retryTimes: 3 } });
    const key = uniqueKey();
    const held = await locker.lock(key, 30_000).acquire();
    const waiting = locker.lock(key, 1000).acquire();
    const subscribed = async () =>
      (await connections(admin)).filter((line) => /\bsub=1\b/.test(line)).length;
    const deadline = performance.now() + 5000;
    while (await subscribed() !== 1 && performance.now() < deadline) await delay(20);
    assert.equal(await subscribed(), 1, "one subscriber connection while waiting");
    const releasedAt = performance.now();
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    assert.ok(performance.now() - releasedAt < 1000, "the release woke the waiter");
    await lock.release({ throwOnFail: true });
    await adapter.close();
    assert.equal(snapshot(client), before, "the client's properties and configuration");
    // The user's client still works, and is still connected, under its own name.
    assert.equal(await client.get(key), null);
    assert.equal(
      (await connections(admin)).filter((line) => line.includes(`name=${name} `)).length,
      1,
    );
    // GLIDE's close() returns before its native core drops the connection
    // (about 3 s later here): the client's and the admin's stay.
    const closeDeadline = performance.now() + 6000;
    while ((await connections(admin)).length > 2 && performance.now() < closeDeadline) {
      await delay(50);
    }
    assert.equal((await connections(admin)).length, 2, "the subscriber client closed");
  } finally {
    client.close();
    await admin.quit();
  }
});

Deno.test("GlideAdapter: with the server down, acquire() rejects with GLIDE's error, never as contention, and locks work again after a restart", async () => {
  const server = await RedisServer.start();
  const client = await glideClient(server.url, { requestTimeout: 300 });
  try {
    const adapter = new GlideAdapter({ client });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 100, retryTimes: 20 } });
    const held = await locker.lock("held", 10_000).acquire();
    await server.stop();
    const started = performance.now();
    const error = await locker.lock("k", 1000).acquire().then(
      () => assert.fail("acquire() resolved while the server is down"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error && !isLoccoError(error), `${error}`);
    assert.ok(performance.now() - started < 1500, "acquire() retried the driver error");
    await assert.rejects(held.extend(5000), (e) => e instanceof Error && !isLoccoError(e));
    await server.restart();
    const restartDeadline = performance.now() + 10_000;
    while (await client.get("k").then(() => false, () => true)) {
      assert.ok(performance.now() < restartDeadline, "GLIDE did not reconnect");
      await delay(50);
    }
    assert.equal(await held.isLocked(), false, "a restart without persistence drops locks");
    const again = await locker.lock("held", 1000).acquire();
    await again.release({ throwOnFail: true });
    await adapter.close();
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("GlideAdapter wakes a waiter by notification after the server restarted (GLIDE subscribes again by itself)", async () => {
  const server = await RedisServer.start();
  const client = await glideClient(server.url);
  try {
    const adapter = new GlideAdapter({ client });
    const retrySettings = { retryDelay: 10_000, retryTimes: 3 };
    const locker = new Locker({ adapter, retrySettings });
    // Something waits first, so that the subscriber exists before the restart.
    const first = await locker.lock("k", 30_000).acquire();
    const firstWaiter = locker.lock("k", 1000).acquire();
    await delay(200);
    await first.release({ throwOnFail: true });
    await (await firstWaiter).release({ throwOnFail: true });
    await server.stop();
    await server.restart();
    const deadline = performance.now() + 10_000;
    let held: Lock | undefined;
    while (held === undefined) {
      held = await locker.lock("k", 30_000).acquire().catch(() => undefined);
      if (held === undefined) {
        assert.ok(performance.now() < deadline, "GLIDE did not reconnect");
        await delay(50);
      }
    }
    const waiting = locker.lock("k", 1000).acquire();
    await delay(1000);
    const releasedAt = performance.now();
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    const woken = performance.now() - releasedAt;
    assert.ok(woken < 2000, `the waiter took ${Math.round(woken)} ms, not woken by the release`);
    await lock.release({ throwOnFail: true });
    await adapter.close();
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("GlideAdapter runs the README's GLIDE example", async () => {
  await assertRedisReachable();
  const admin = new Redis(REDIS_URL);
  const { hostname, port } = new URL(REDIS_URL);
  try {
    const seen: number[] = [];
    // ---- README, "GlideAdapter" (only the address differs) ----
    const client = await GlideClient.createClient({
      addresses: [{ host: hostname, port: Number(port || 6379) }],
    });
    const adapter = new GlideAdapter({ client, prefix: "locks:" });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 10 } });
    await locker.lock("user:123", 3000).acquire(async (lock) => {
      await lock.extend(2000);
      seen.push(lock.fence ?? 0, await admin.pttl("locks:user:123"));
    });
    // ... at shutdown:
    await adapter.close(); // closes the subscriber client, if one was created
    client.close();
    // ---- end of the example ----
    assert.ok(seen[0]! > 0, "a fencing token");
    assert.ok(seen[1]! > 1000 && seen[1]! <= 2000, `extended to 2 s: PTTL ${seen[1]}`);
    assert.equal(await admin.exists("locks:user:123"), 0, "released");
  } finally {
    await admin.quit();
  }
});

Deno.test("GlideAdapter polls, opening no subscriber, over a client without the configuration GLIDE keeps", async () => {
  await assertRedisReachable();
  const client = await glideClient(REDIS_URL);
  const admin = new Redis(REDIS_URL);
  try {
    // Only the two methods: no `config`, no `createClient` on its constructor.
    const bare: GlideLikeClient = {
      get: (key) => client.get(key),
      customCommand: (args) => client.customCommand(args),
    };
    const adapter = new GlideAdapter({ client: bare });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 100, retryTimes: 50 } });
    const key = uniqueKey();
    const held = await locker.lock(key, 30_000).acquire();
    const waiting = locker.lock(key, 1000).acquire();
    await delay(300);
    const subscribed = (await connections(admin)).filter((line) => !/\bsub=0\b/.test(line));
    assert.deepEqual(subscribed, [], "no connection subscribed");
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    await lock.release({ throwOnFail: true });
    await adapter.close();
  } finally {
    client.close();
    await admin.quit();
  }
});

Deno.test("GlideAdapter: release() after the user closed the client rejects with GLIDE's error, not LockReleaseError", async () => {
  await assertRedisReachable();
  const opened = await GLIDE.open(REDIS_URL);
  const locker = new Locker({
    adapter: opened.adapter,
    retrySettings: { retryDelay: 20, retryTimes: 3 },
  });
  const lock = await locker.lock(uniqueKey(), 300).acquire();
  await opened.destroy();
  await assert.rejects(lock.release(), (e) => {
    assert.ok(e instanceof Error && !isLoccoError(e), `${e}`);
    assert.match((e as Error).message, GLIDE.closedError);
    return true;
  });
});

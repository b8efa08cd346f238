// Copyright 2026 the locco authors. MIT license.
// NodeRedisAdapter on node-redis 4 and 6: what its transport sends and reads
// (evalSha with string arguments, NOSCRIPT fallback, RESP3 and mapped
// replies), that it never modifies the client, that it owns only its
// subscriber, and that it shares keys with IoRedisAdapter. (The contract
// suite, waiting, fencing and fault suites run it too.)

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createClient, createCluster, createSentinel } from "redis";
import { createClient as createClient4, createCluster as createCluster4 } from "redis4";
import {
  IoRedisAdapter,
  LoccoError,
  LockCreateError,
  Locker,
  LockReleaseError,
  NodeRedisAdapter,
  type NodeRedisLikeClient,
  ValidationError,
} from "@kontsedal/locco";
import * as redisEntry from "@kontsedal/locco/redis";
import { delay, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, monitorCommands, REDIS_URL, RedisServer } from "../_redis_server.ts";

// What the tests call on a real node-redis client of either major.
interface RealClient extends NodeRedisLikeClient {
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  set(key: string, value: string): Promise<unknown>;
  duplicate(): RealClient & { isOpen: boolean; subscribe: never };
}

const MAJORS = [
  { name: "node-redis 6", make: (url: string) => createClient({ url }) },
  { name: "node-redis 4", make: (url: string) => createClient4({ url }) },
] as const;

async function connected(make: (url: string) => unknown, url: string): Promise<RealClient> {
  const client = make(url) as RealClient;
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function closeClient(client: unknown): Promise<void> {
  const c = client as { close?(): Promise<unknown>; quit?(): Promise<unknown> };
  await (c.close ?? c.quit)!.call(c);
}

function fakeClient(overrides: Partial<NodeRedisLikeClient> = {}): NodeRedisLikeClient {
  const fail = () => Promise.reject(new Error("fake client: unexpected call"));
  return { get: fail, evalSha: fail, eval: fail, ...overrides };
}

Deno.test("NodeRedisLikeClient fits node-redis 4 and 6 clients, Cluster clients and Sentinel clients as they are", () => {
  // Type checks; nothing connects.
  const clients: NodeRedisLikeClient[] = [
    createClient(),
    createClient({ RESP: 3 }),
    createClient4(),
    createCluster({ rootNodes: [] }),
    createCluster4({ rootNodes: [] }),
    createSentinel({ name: "mymaster", sentinelRootNodes: [] }),
  ];
  for (const client of clients) assert.doesNotThrow(() => new NodeRedisAdapter({ client }));
});

Deno.test("NodeRedisAdapter tells Cluster clients (node-redis 4 and 6) from single clients: releases on a Cluster do not trust PUBLISH counts", async () => {
  // The release script's last argument: "1" when PUBLISH counts every
  // subscriber (one server), "0" on a Cluster (it counts one node's).
  const lastReleaseArgument = async (client: object) => {
    let sent: string[] = [];
    const recording = new Proxy(client, {
      get(target, name) {
        // A Cluster client gets its scripts as raw commands: EVALSHA sha numkeys ...keys ...args.
        if (name === "sendCommand") {
          return (_firstKey: string, _readonly: boolean, args: string[]) => {
            sent = args.slice(3 + Number(args[2]));
            return Promise.resolve(1);
          };
        }
        if (name !== "evalSha") return Reflect.get(target, name, target);
        return (_sha: string, options: { arguments: string[] }) => {
          sent = options.arguments;
          return Promise.resolve(1);
        };
      },
    }) as NodeRedisLikeClient;
    await new NodeRedisAdapter({ client: recording }).releaseLock({ key: "k", uniqueValue: "v" });
    return sent.at(-1);
  };
  assert.equal(await lastReleaseArgument(createCluster({ rootNodes: [] })), "0");
  assert.equal(await lastReleaseArgument(createCluster4({ rootNodes: [] })), "0");
  assert.equal(await lastReleaseArgument(createClient()), "1");
  assert.equal(await lastReleaseArgument(createClient4()), "1");
  assert.equal(
    await lastReleaseArgument(createSentinel({ name: "mymaster", sentinelRootNodes: [] })),
    "1",
  );
});

for (
  const [name, make] of [["node-redis 4", createCluster4], ["node-redis 6", createCluster]] as const
) {
  Deno.test(`NodeRedisAdapter sends scripts on a Cluster client routed by their first key, EVAL after NOSCRIPT too (${name})`, async () => {
    const sent: Array<[unknown, unknown, string[]]> = [];
    let noScript = true;
    const cluster = (make as (options: { rootNodes: never[] }) => object)({ rootNodes: [] });
    const recording = new Proxy(cluster, {
      get(target, property) {
        if (property === "evalSha" || property === "eval") {
          return () => Promise.reject(new Error("not routed by key on a Cluster"));
        }
        if (property !== "sendCommand") return Reflect.get(target, property, target);
        return (firstKey: unknown, readonly: unknown, args: string[]) => {
          sent.push([firstKey, readonly, args]);
          if (args[0] === "EVALSHA" && noScript) {
            noScript = false;
            return Promise.reject(new Error("NOSCRIPT No matching script. Please use EVAL."));
          }
          return Promise.resolve(1);
        };
      },
    }) as unknown as NodeRedisLikeClient;
    const adapter = new NodeRedisAdapter({ client: recording, prefix: "p:" });
    await adapter.releaseLock({ key: "orders:1", uniqueValue: "v" });
    assert.deepEqual(sent.map(([, , args]) => args[0]), ["EVALSHA", "EVAL"]);
    for (const [firstKey, readonly, args] of sent) {
      assert.equal(firstKey, "p:orders:1");
      assert.equal(readonly, false);
      assert.equal(args[2], "3", "numkeys");
      assert.equal(args[3], "p:orders:1", "the first key is the lock key");
      assert.ok(args.every((arg) => typeof arg === "string"), JSON.stringify(args));
    }
  });
}

Deno.test("NodeRedisAdapter rejects a node-redis 4 client in legacyMode, pointing to client.v4, which works", async () => {
  await assertRedisReachable(REDIS_URL);
  const client = createClient4({ url: REDIS_URL, legacyMode: true });
  client.on("error", () => {});
  await client.connect();
  try {
    assert.throws(
      () => new NodeRedisAdapter({ client: client as unknown as NodeRedisLikeClient }),
      (e: unknown) =>
        e instanceof ValidationError && e.parameter === "client" && /client\.v4/.test(e.message),
    );
    const adapter = new NodeRedisAdapter({ client: client.v4 as NodeRedisLikeClient });
    const key = uniqueKey();
    const { fence } = await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
    assert.ok(fence > 0);
    assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
    await adapter.releaseLock({ key, uniqueValue: "a" });
    await adapter.close();
  } finally {
    await client.v4.quit();
  }
});

Deno.test("NodeRedisAdapter is the same class from the root and from ./redis", () => {
  assert.equal(redisEntry.NodeRedisAdapter, NodeRedisAdapter);
});

Deno.test("NodeRedisAdapter() throws ValidationError naming the bad option", () => {
  const cases: Array<[unknown, string]> = [
    [undefined, "options"],
    [{}, "client"],
    [{ client: null }, "client"],
    [{ client: { ...fakeClient(), evalSha: undefined } }, "client"],
    // an ioredis client has evalsha, not evalSha
    [{ client: { get: () => {}, evalsha: () => {}, eval: () => {} } }, "client"],
    [{ client: fakeClient(), prefix: 1 }, "prefix"],
    [{ client: fakeClient(), prefix: "a\uD800" }, "prefix"],
    [{ client: fakeClient(), waitStrategy: "sometimes" }, "waitStrategy"],
  ];
  for (const [options, parameter] of cases) {
    assert.throws(
      () => new NodeRedisAdapter(options as ConstructorParameters<typeof NodeRedisAdapter>[0]),
      (e: unknown) => e instanceof ValidationError && e.parameter === parameter,
      JSON.stringify(options),
    );
  }
});

Deno.test("NodeRedisAdapter validates arguments before any I/O", async () => {
  let calls = 0;
  const count = () => {
    calls++;
    return Promise.resolve(null);
  };
  const adapter = new NodeRedisAdapter({ client: { get: count, evalSha: count, eval: count } });
  const bad = { key: "", uniqueValue: "a", ttl: 0 };
  await assert.rejects(adapter.createLock(bad), ValidationError);
  await assert.rejects(adapter.extendLock(bad), ValidationError);
  await assert.rejects(adapter.releaseLock(bad), ValidationError);
  await assert.rejects(adapter.isValidLock(bad), ValidationError);
  assert.equal(calls, 0);
});

Deno.test("NodeRedisAdapter sends evalSha with the keys and every argument as a string", async () => {
  const sent: unknown[][] = [];
  const adapter = new NodeRedisAdapter({
    client: fakeClient({
      evalSha: (sha, options) => {
        sent.push([sha, options]);
        return Promise.resolve(1_800_000_000_000_123);
      },
    }),
    prefix: "p:",
  });
  assert.deepEqual(await adapter.createLock({ key: "k", uniqueValue: "v", ttl: 1234 }), {
    fence: 1_800_000_000_000_123,
  });
  const [sha, options] = sent[0]! as [string, { keys: string[]; arguments: string[] }];
  assert.match(sha, /^[0-9a-f]{40}$/);
  assert.deepEqual(options.keys, ["p:k", "{p:k}:fence", "{p:k}:waiters"]);
  assert.deepEqual(options.arguments, ["v", "1234", "1"]);
  assert.ok(options.arguments.every((a) => typeof a === "string"));
});

Deno.test("NodeRedisAdapter reads integer replies mapped to strings, bigints or bytes, and rejects others as unexpected", async () => {
  const replies: unknown[] = [
    "1800000000000124",
    1_800_000_000_000_125n,
    new TextEncoder().encode("1800000000000126"),
    [1_800_000_000_000_127n],
    "-2501",
    "weird",
  ];
  const adapter = new NodeRedisAdapter({
    client: fakeClient({
      evalSha: () => Promise.resolve(replies.shift()),
      get: () => Promise.resolve(new TextEncoder().encode("v")),
    }),
  });
  const lease = { key: "k", uniqueValue: "v", ttl: 1000 };
  const other = { key: "k", uniqueValue: "v2", ttl: 1000 };
  assert.deepEqual(await adapter.createLock(lease), { fence: 1_800_000_000_000_124 });
  assert.deepEqual(await adapter.createLock(other), { fence: 1_800_000_000_000_125 });
  assert.deepEqual(await adapter.createLock({ ...lease, key: "k2" }), {
    fence: 1_800_000_000_000_126,
  });
  // [fence]: the key already held this value, granted by another adapter (a resend)
  assert.deepEqual(await adapter.createLock({ ...lease, key: "k3" }), {
    fence: 1_800_000_000_000_127,
  });
  await assert.rejects(adapter.createLock({ ...lease, key: "k4" }), LockCreateError);
  await assert.rejects(
    adapter.createLock({ ...lease, key: "k5" }),
    (e) => e instanceof LoccoError && !(e instanceof LockCreateError),
  );
  assert.equal(await adapter.isValidLock(lease), true);
});

Deno.test("NodeRedisAdapter passes a driver error through unchanged and acquire() does not retry it", async () => {
  const driverError = new Error("The client is closed");
  let calls = 0;
  const adapter = new NodeRedisAdapter({
    client: fakeClient({
      evalSha: () => {
        calls++;
        return Promise.reject(driverError);
      },
    }),
  });
  const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 5 } });
  await assert.rejects(locker.lock("k", 1000).acquire(), (e) => e === driverError);
  await assert.rejects(
    adapter.releaseLock({ key: "k", uniqueValue: "a" }),
    (e) => e === driverError,
  );
  assert.equal(calls, 2);
});

for (const major of MAJORS) {
  Deno.test(`NodeRedisAdapter never adds, changes or removes properties of the user's client (${major.name})`, async () => {
    await assertRedisReachable();
    const client = await connected(major.make, REDIS_URL);
    try {
      await client.set(uniqueKey(), "warm-up");
      const ownBefore = Reflect.ownKeys(client);
      const protoBefore = Reflect.ownKeys(Object.getPrototypeOf(client));
      const adapter = new NodeRedisAdapter({ client });
      const key = uniqueKey();
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 2000, retryTimes: 3 } });
      const held = await locker.lock(key, 5000).acquire();
      const waiting = locker.lock(key, 5000).acquire();
      await delay(100);
      await held.extend(5000);
      assert.equal(await held.isLocked(), true);
      await held.release({ throwOnFail: true });
      await (await waiting).release({ throwOnFail: true });
      await adapter.close();
      assert.deepEqual(Reflect.ownKeys(client), ownBefore);
      assert.deepEqual(Reflect.ownKeys(Object.getPrototypeOf(client)), protoBefore);
    } finally {
      await closeClient(client);
    }
  });
}

Deno.test("NodeRedisAdapter.close() does not wait for a server that went down under its subscriber", async () => {
  const server = await RedisServer.start();
  // A fixed reconnect delay (node-redis 6 backs off up to 2 s plus jitter by default).
  const client = createClient({
    url: server.url,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: () => 100 },
  });
  client.on("error", () => {});
  await client.connect();
  try {
    const adapter = new NodeRedisAdapter({ client });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 100 } });
    await locker.lock("k", 30_000).acquire();
    const waiting = locker.lock("k", 1000).acquire().catch((e: unknown) => e);
    await delay(150);
    await server.stop();
    assert.ok(!((await waiting) instanceof LoccoError), "the driver's error, not contention");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      adapter.close().then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 3000)),
    ]);
    clearTimeout(timer);
    assert.ok(closed, "close() settled while Redis was down");
  } finally {
    client.destroy();
    await server.stop();
    // The subscriber's pending reconnect timer (100 ms, set below) outlives destroy().
    await delay(400);
  }
});

Deno.test("NodeRedisAdapter and IoRedisAdapter share keys: they exclude each other, and a release by one wakes a waiter of the other", async () => {
  await assertRedisReachable();
  const nodeClient = await connected(MAJORS[0].make, REDIS_URL);
  const ioClient = new Redis(REDIS_URL);
  const nodeAdapter = new NodeRedisAdapter({ client: nodeClient, prefix: "locco-test:" });
  const ioAdapter = new IoRedisAdapter({ client: ioClient, prefix: "locco-test:" });
  try {
    const key = uniqueKey();
    const retrySettings = { retryDelay: 5000, retryTimes: 3 };
    const io = new Locker({ adapter: ioAdapter, retrySettings });
    const node = new Locker({ adapter: nodeAdapter, retrySettings });
    const held = await io.lock(key, 30_000).acquire();
    await assert.rejects(
      nodeAdapter.createLock({ key, uniqueValue: "x", ttl: 1000 }),
      LockCreateError,
    );
    await assert.rejects(nodeAdapter.releaseLock({ key, uniqueValue: "x" }), LockReleaseError);
    const startedAt = performance.now();
    const waiting = node.lock(key, 5000).acquire();
    await delay(100);
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    assert.ok(performance.now() - startedAt < 4000, "woken by the release, not the 5 s poll");
    assert.ok(lock.fence! > held.fence!);
    assert.equal(await ioAdapter.isValidLock({ key, uniqueValue: lock.uniqueValue }), true);
    await lock.release({ throwOnFail: true });
  } finally {
    await Promise.all([nodeAdapter.close(), ioAdapter.close()]);
    await Promise.all([closeClient(nodeClient), ioClient.quit()]);
  }
});

Deno.test("NodeRedisAdapter runs the README's node-redis example", async () => {
  await assertRedisReachable();
  const admin = new Redis(REDIS_URL);
  const monitor = await monitorCommands(() => new Redis(REDIS_URL));
  try {
    await monitor.settle();
    // ---- README, "Basic usage", node-redis (only the URL differs; scripts/npm_smoke.sh
    // runs the README's own text on Node and Bun) ----
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const adapter = new NodeRedisAdapter({ client });
    const locker = new Locker({
      adapter,
      retrySettings: { retryDelay: 200, retryTimes: 10 },
    });

    const lock = await locker.lock("user:123", 3000).acquire();
    try {
      // critical section
      await lock.extend(2000); // need more time? extend the TTL
    } finally {
      await lock.release();
    }
    await adapter.close(); // at shutdown: closes the subscriber connection it opened
    await client.close(); // node-redis 4: client.quit()
    // ---- end of the example ----
    const sent = (await monitor.settle()).map((c) => c.args);
    const scripts = sent.filter(([name]) => name === "evalsha" || name === "eval");
    assert.equal(scripts.length, 3, JSON.stringify(sent));
    assert.deepEqual(scripts.map((args) => args[3]), ["user:123", "user:123", "user:123"]);
    assert.ok(scripts[0]!.includes(lock.uniqueValue));
    assert.equal(await admin.exists("user:123"), 0);
  } finally {
    await monitor.stop();
    await admin.quit();
  }
});

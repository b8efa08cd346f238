// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import IoRedis, { Redis } from "ioredis";
import {
  IoRedisAdapter,
  type IoRedisLikeClient,
  LoccoError,
  LockCreateError,
  Locker,
  LockReleaseError,
  ValidationError,
} from "@kontsedal/locco";
import * as redisEntry from "@kontsedal/locco/redis";
import { testAdapterContract } from "../_adapter_contract.ts";
import { testReadWriteContract } from "../_read_write_contract.ts";
import { testSemaphoreContract } from "../_semaphore_contract.ts";
import {
  IOREDIS_5,
  NODE_REDIS_4,
  NODE_REDIS_6,
  openRedisBackend,
  REDIS_CLIENTS,
  REDIS_FAMILIES,
} from "../_redis_clients.ts";
import { uniqueKey } from "../_helpers.ts";
import {
  assertRedisReachable,
  commandCalls,
  monitorCommands,
  openIoRedisBackend,
  REDIS_URL,
  RedisServer,
} from "../_redis_server.ts";

for (const kind of REDIS_CLIENTS) {
  testAdapterContract(
    `${kind.adapterName} (${kind.name})`,
    () => openRedisBackend(kind, REDIS_URL),
  );
}
testAdapterContract(
  `NodeRedisAdapter (node-redis 6, prefix "locco-test:{p}:")`,
  () => openRedisBackend(NODE_REDIS_6, REDIS_URL, { prefix: "locco-test:{p}:" }),
);
testAdapterContract(
  `IoRedisAdapter (ioredis 5, prefix "locco-test:{p}:")`,
  () => openIoRedisBackend(() => new Redis(REDIS_URL), REDIS_URL, "locco-test:{p}:"),
);

// A semaphore of one holder and the write side of a read-write lock are
// mutexes: their places pass the whole lock contract. All three client
// families send the same scripts; one runs the lock contract on them.
testAdapterContract(
  "IoRedisAdapter semaphore(1) (ioredis 5)",
  async () => {
    const backend = await openRedisBackend(IOREDIS_5, REDIS_URL);
    return { ...backend, connect: async () => (await backend.connect()).semaphore!(1) };
  },
);
testAdapterContract(
  'IoRedisAdapter readWrite("write") (ioredis 5)',
  async () => {
    const backend = await openRedisBackend(IOREDIS_5, REDIS_URL);
    return { ...backend, connect: async () => (await backend.connect()).readWrite!("write") };
  },
);
for (const kind of REDIS_FAMILIES) {
  testSemaphoreContract(
    `${kind.adapterName} (${kind.name})`,
    () => openRedisBackend(kind, REDIS_URL),
    { notifies: true },
  );
  testReadWriteContract(
    `${kind.adapterName} (${kind.name})`,
    () => openRedisBackend(kind, REDIS_URL),
  );
}
testSemaphoreContract(
  'IoRedisAdapter (ioredis 5, waitStrategy "poll")',
  () => openRedisBackend(IOREDIS_5, REDIS_URL, { waitStrategy: "poll" }),
  { notifies: false },
);

function fakeClient(overrides: Partial<IoRedisLikeClient> = {}): IoRedisLikeClient {
  const fail = () => Promise.reject(new Error("fake client: unexpected call"));
  return { get: fail, evalsha: fail, eval: fail, ...overrides };
}

async function withClient(
  fn: (client: Redis, admin: Redis) => Promise<void>,
  url: string = REDIS_URL,
): Promise<void> {
  await assertRedisReachable(url);
  const client = new Redis(url);
  const admin = new Redis(url);
  try {
    await fn(client, admin);
  } finally {
    await Promise.all([client.quit(), admin.quit()]);
  }
}

Deno.test("IoRedisAdapter is the same class from the root and from ./redis", () => {
  assert.equal(redisEntry.IoRedisAdapter, IoRedisAdapter);
});

Deno.test("IoRedisAdapter() throws ValidationError naming client when it lacks a method", async (t) => {
  const cases: Array<[string, unknown]> = [
    ["no options", undefined],
    ["null options", null],
    ["no client", {}],
    ["client null", { client: null }],
    ["client a string", { client: "redis://localhost" }],
    ["client without evalsha", { client: { ...fakeClient(), evalsha: undefined } }],
    ["client without eval", { client: { ...fakeClient(), eval: 1 } }],
    ["client without get", { client: { ...fakeClient(), get: "x" } }],
  ];
  for (const [label, options] of cases) {
    await t.step(label, () => {
      assert.throws(
        () => new IoRedisAdapter(options as ConstructorParameters<typeof IoRedisAdapter>[0]),
        (error: unknown) => {
          assert.ok(error instanceof ValidationError);
          assert.equal(error.parameter, options == null ? "options" : "client");
          return true;
        },
      );
    });
  }
});

Deno.test("IoRedisAdapter() throws ValidationError naming prefix when it is not a well-formed string", () => {
  for (const prefix of [1, null, {}, ["a"], "locks\uD800:", "\uDC00"]) {
    assert.throws(
      () => new IoRedisAdapter({ client: fakeClient(), prefix: prefix as string }),
      (error: unknown) => error instanceof ValidationError && error.parameter === "prefix",
    );
  }
});

Deno.test("IoRedisAdapter validates arguments before any I/O", async () => {
  let calls = 0;
  const count = () => {
    calls++;
    return Promise.resolve(null);
  };
  const adapter = new IoRedisAdapter({
    client: { get: count, evalsha: count, eval: count },
  });
  const bad = { key: "", uniqueValue: "a", ttl: 0 };
  await assert.rejects(adapter.createLock(bad), ValidationError);
  await assert.rejects(adapter.extendLock(bad), ValidationError);
  await assert.rejects(adapter.releaseLock(bad), ValidationError);
  await assert.rejects(adapter.isValidLock(bad), ValidationError);
  assert.equal(calls, 0);
});

Deno.test("IoRedisAdapter.createLock() passes a driver error through unchanged and acquire() does not retry it", async () => {
  const driverError = new Error("Connection is closed.");
  let calls = 0;
  const adapter = new IoRedisAdapter({
    client: fakeClient({
      evalsha: () => {
        calls++;
        return Promise.reject(driverError);
      },
    }),
  });
  await assert.rejects(
    adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 }),
    (e) => e === driverError,
  );
  const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 5 } });
  await assert.rejects(locker.lock("k", 1000).acquire(), (e) => e === driverError);
  assert.equal(calls, 2);
});

Deno.test("IoRedisAdapter rejects with LoccoError (not contention) on an unexpected reply", async () => {
  const adapter = new IoRedisAdapter({
    client: fakeClient({
      evalsha: () => Promise.resolve("weird"),
    }),
  });
  const notContention = (e: unknown) =>
    e instanceof LoccoError && !(e instanceof LockCreateError) &&
    !(e instanceof LockReleaseError) && /Unexpected reply/.test(e.message);
  await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "a", ttl: 10 }), notContention);
  await assert.rejects(adapter.releaseLock({ key: "k", uniqueValue: "a" }), notContention);
});

Deno.test("IoRedisAdapter.createLock() sends one EVALSHA with the lock and fence keys, and reads its reply", async () => {
  const sent: unknown[][] = [];
  const replies: unknown[] = [1_800_000_000_000_123, "1800000000000124", -1, -2501, 0, 1.5];
  const adapter = new IoRedisAdapter({
    client: fakeClient({
      evalsha: (...args: unknown[]) => {
        sent.push(args);
        return Promise.resolve(replies.shift());
      },
    }),
    prefix: "p:",
  });
  const lease = { key: "k", uniqueValue: "v", ttl: 1234 };
  assert.deepEqual(await adapter.createLock(lease), { fence: 1_800_000_000_000_123 });
  assert.deepEqual(await adapter.createLock(lease), { fence: 1_800_000_000_000_124 });
  await assert.rejects(adapter.createLock(lease), LockCreateError);
  await assert.rejects(adapter.createLock(lease), LockCreateError);
  for (const _ of [0, 1.5]) {
    await assert.rejects(adapter.createLock(lease), /Unexpected reply from Redis/);
  }
  assert.equal(sent.length, 6);
  const [sha, numkeys, ...rest] = sent[0]!;
  assert.match(String(sha), /^[0-9a-f]{40}$/);
  assert.equal(numkeys, 3);
  // An acquire that does not wait sends no queue entry.
  assert.deepEqual(rest, ["p:k", "{p:k}:fence", "{p:k}:waiters", "v", 1234, "1"]);
  // The adapter granted the key by the first call: the second is the owner asking twice.
  assert.equal(sent[1]!.at(-1), "");
});

Deno.test("IoRedisAdapter.createLock() that finds its own value, granted elsewhere, makes the key live ttl from now", async () => {
  // A resent acquire, or a lease that ended locally before the server expired
  // it: success must mean the key lives the ttl asked for, as the caller counts.
  await withClient(async (client, admin) => {
    const key = uniqueKey();
    await new IoRedisAdapter({ client }).createLock({ key, uniqueValue: "a", ttl: 2000 });
    const other = new IoRedisAdapter({ client });
    const { fence } = await other.createLock({ key, uniqueValue: "a", ttl: 60_000 });
    assert.ok(fence > 0);
    const pttl = await admin.pttl(key);
    assert.ok(pttl > 59_000 && pttl <= 60_000, `pttl ${pttl}`);
    await assert.rejects(other.createLock({ key, uniqueValue: "a", ttl: 60_000 }), LockCreateError);
    assert.ok(await admin.pttl(key) <= 60_000);
    await other.releaseLock({ key, uniqueValue: "a" });
  });
});

Deno.test("IoRedisAdapter applies the prefix to every key it touches", async () => {
  await withClient(async (client, admin) => {
    const key = uniqueKey();
    const adapter = new IoRedisAdapter({ client, prefix: "locco-test:{prefix}:" });
    const full = `locco-test:{prefix}:${key}`;
    await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
    assert.equal(await admin.get(full), "a");
    assert.equal(await admin.exists(key), 0);
    await admin.set(key, "a", "PX", 5000);
    await adapter.extendLock({ key, uniqueValue: "a", ttl: 3000 });
    const pttl = await admin.pttl(full);
    assert.ok(pttl > 2000 && pttl <= 3000, `pttl ${pttl}`);
    await adapter.releaseLock({ key, uniqueValue: "a" });
    assert.equal(await admin.exists(full), 0);
    assert.equal(await admin.get(key), "a");
    assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), false);
    await admin.del(key);
  });
});

Deno.test("IoRedisAdapter.extendLock() sets PTTL to the new ttl, shorter or longer, and keeps the value", async () => {
  await withClient(async (client, admin) => {
    const key = uniqueKey();
    const adapter = new IoRedisAdapter({ client });
    await adapter.createLock({ key, uniqueValue: "a", ttl: 3000 });
    await adapter.extendLock({ key, uniqueValue: "a", ttl: 2000 });
    const shorter = await admin.pttl(key);
    assert.ok(shorter > 1500 && shorter <= 2000, `pttl ${shorter}`);
    await adapter.extendLock({ key, uniqueValue: "a", ttl: 60_000 });
    const longer = await admin.pttl(key);
    assert.ok(longer > 59_000 && longer <= 60_000, `pttl ${longer}`);
    assert.equal(await admin.get(key), "a");
    await adapter.releaseLock({ key, uniqueValue: "a" });
  });
});

Deno.test("IoRedisAdapter release/extend tell an expired lock from another owner's", async () => {
  await withClient(async (client) => {
    const key = uniqueKey();
    const adapter = new IoRedisAdapter({ client });
    await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), {
      name: "LockReleaseError",
      message: "Lock is already expired",
    });
    await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 10 }), {
      name: "LockExtendError",
      message: "Lock is already expired",
    });
    await adapter.createLock({ key, uniqueValue: "b", ttl: 5000 });
    await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), {
      name: "LockReleaseError",
      message: "Lock is already taken",
    });
    await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 10 }), {
      name: "LockExtendError",
      message: "Lock is already taken",
    });
    await adapter.releaseLock({ key, uniqueValue: "b" });
  });
});

for (const kind of REDIS_FAMILIES) {
  Deno.test(`${kind.adapterName} passes WRONGTYPE through when the key holds another type (${kind.name})`, async () => {
    await withClient(async (_, admin) => {
      const key = uniqueKey();
      await admin.rpush(key, "x");
      const opened = await kind.open(REDIS_URL);
      const adapter = opened.adapter;
      const wrongType = (e: unknown) =>
        !(e instanceof LoccoError) && /^WRONGTYPE/.test((e as Error).message);
      await assert.rejects(
        adapter.createLock({ key, uniqueValue: "a", ttl: 1000 }),
        LockCreateError,
      );
      await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), wrongType);
      await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 1000 }), wrongType);
      await assert.rejects(adapter.isValidLock({ key, uniqueValue: "a" }), wrongType);
      assert.equal(await admin.lrange(key, 0, -1).then((l) => l.join()), "x");
      await admin.del(key);
      await opened.close();
    });
  });
}

for (const kind of [...REDIS_FAMILIES, NODE_REDIS_4]) {
  Deno.test(`${kind.adapterName}.inspectLock() reports a handed-off key and application data as held, without a fence (${kind.name})`, async () => {
    await withClient(async (_, admin) => {
      const opened = await kind.open(REDIS_URL, { prefix: "locco-test:" });
      const adapter = opened.adapter;
      const key = uniqueKey();
      const full = `locco-test:${key}`;
      // Handed off by a release to a waiter that has not claimed it yet.
      await admin.set(full, "\0locco-handoff\0waiter", "PX", 500);
      const handedOff = await adapter.inspectLock(key);
      assert.deepEqual(Object.keys(handedOff!), ["expiresIn"]);
      assert.ok(handedOff!.expiresIn > 0 && handedOff!.expiresIn <= 500);
      await assert.rejects(
        adapter.createLock({ key, uniqueValue: "a", ttl: 1000 }),
        LockCreateError,
      );
      // Application data of another type, without expiry: held for good, like createLock() sees it.
      await admin.del(full);
      await admin.rpush(full, "x");
      assert.deepEqual(await adapter.inspectLock(key), { expiresIn: Infinity });
      await assert.rejects(
        adapter.createLock({ key, uniqueValue: "a", ttl: 1000 }),
        LockCreateError,
      );
      await admin.del(full);
      assert.equal(await adapter.inspectLock(key), undefined);
      await opened.close();
    });
  });
}

Deno.test("IoRedisAdapter.createLock() passes WRONGTYPE through and leaves no lock when the fence key holds another type", async () => {
  await withClient(async (client, admin) => {
    const key = uniqueKey();
    await admin.rpush(`{${key}}:fence`, "x");
    const adapter = new IoRedisAdapter({ client });
    await assert.rejects(
      adapter.createLock({ key, uniqueValue: "a", ttl: 5000 }),
      (e: unknown) => !(e instanceof LoccoError) && /WRONGTYPE/.test((e as Error).message),
    );
    assert.equal(await admin.exists(key), 0);
    await admin.del(`{${key}}:fence`);
  });
});

Deno.test("IoRedisAdapter never adds, changes or removes properties of the user's client", async () => {
  await withClient(async (client) => {
    const existing = () => "the user's own releaseLock";
    const target = client as unknown as Record<string, unknown>;
    target.releaseLock = existing;
    await client.set(uniqueKey(), "warm-up", "PX", 100);
    await client.evalsha("0".repeat(40), 1, uniqueKey(), "x").catch(() => {});
    const ownBefore = Reflect.ownKeys(client);
    const protoBefore = Reflect.ownKeys(Object.getPrototypeOf(client));
    const adapter = new IoRedisAdapter({ client });
    const key = uniqueKey();
    await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await adapter.extendLock({ key, uniqueValue: "a", ttl: 5000 });
    assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
    await adapter.releaseLock({ key, uniqueValue: "a" });
    assert.deepEqual(Reflect.ownKeys(client), ownBefore);
    assert.deepEqual(Reflect.ownKeys(Object.getPrototypeOf(client)), protoBefore);
    assert.equal(target.releaseLock, existing);
    assert.equal(target.extendLock, undefined);
    assert.equal(target.releaseLockBuffer, undefined);
    delete target.releaseLock;
  });
});

for (const kind of REDIS_CLIENTS) {
  Deno.test(`${kind.adapterName}: uncontended acquire + release is exactly 2 round trips once the script is cached (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url);
    const admin = new Redis(server.url);
    try {
      const locker = new Locker({
        adapter: client.adapter,
        retrySettings: { retryDelay: 10, retryTimes: 3 },
      });
      await (await locker.lock("warm-up", 1000).acquire()).release({ throwOnFail: true });
      await admin.config("RESETSTAT");
      const monitor = await monitorCommands(() => new Redis(server.url));
      try {
        await monitor.settle();
        const lock = await locker.lock("orders:42", 1000).acquire();
        await lock.release({ throwOnFail: true });
        const sent = await monitor.settle();
        assert.deepEqual(sent.map((c) => c.args[0]), ["evalsha", "evalsha"]);
        assert.deepEqual(sent[0]!.args.slice(2, 7), [
          "3",
          "orders:42",
          "{orders:42}:fence",
          "{orders:42}:waiters",
          lock.uniqueValue,
        ]);
        assert.deepEqual(sent[1]!.args.slice(2, 7), [
          "3",
          "orders:42",
          "{orders:42}:waiters",
          "{orders:42}:released",
          lock.uniqueValue,
        ]);
        assert.equal(new Set(sent.map((c) => c.source)).size, 1);
      } finally {
        await monitor.stop();
      }
      const calls = await commandCalls(admin);
      assert.equal(calls.evalsha, 2);
      assert.equal(calls.eval, undefined);
      assert.equal(await admin.exists("orders:42"), 0);
    } finally {
      await Promise.all([client.close(), admin.quit()]);
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName} falls back to EVAL once after SCRIPT FLUSH, then uses EVALSHA again (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url);
    const admin = new Redis(server.url);
    try {
      const adapter = client.adapter;
      for (const round of [1, 2, 3]) {
        await admin.script("FLUSH");
        await admin.config("RESETSTAT");
        const key = `k${round}`;
        await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
        await adapter.extendLock({ key, uniqueValue: "a", ttl: 4000 });
        await adapter.releaseLock({ key, uniqueValue: "a" });
        const calls = await commandCalls(admin);
        assert.equal(calls.eval, 3, JSON.stringify(calls));
        assert.equal(await admin.exists(key), 0);
        await admin.config("RESETSTAT");
        await adapter.createLock({ key, uniqueValue: "b", ttl: 5000 });
        await adapter.extendLock({ key, uniqueValue: "b", ttl: 4000 });
        await adapter.releaseLock({ key, uniqueValue: "b" });
        const cached = await commandCalls(admin);
        assert.equal(cached.evalsha, 3, JSON.stringify(cached));
        assert.equal(cached.eval, undefined, JSON.stringify(cached));
      }
    } finally {
      await Promise.all([client.close(), admin.quit()]);
      await server.stop();
    }
  });
}

// The 0.1.0 README's Redis example; `Redis` is a stand-in for ioredis's default
// export that connects to REDIS_URL and records what the adapter sends.
const seedClients: SeedRedis[] = [];
const seedSent: unknown[][] = [];
class SeedRedis implements IoRedisLikeClient {
  readonly inner: Redis = new Redis(REDIS_URL);
  constructor() {
    seedClients.push(this);
  }
  get(key: string): Promise<string | null> {
    seedSent.push(["GET", key]);
    return this.inner.get(key);
  }
  async evalsha(sha1: string, numkeys: number, ...rest: (string | number)[]): Promise<unknown> {
    seedSent.push(["EVALSHA", sha1, numkeys, ...rest]);
    const reply = await this.inner.evalsha(sha1, numkeys, ...rest);
    seedSent.push(["(pttl)", await this.inner.pttl(String(rest[0]))]);
    return reply;
  }
  async eval(script: string, numkeys: number, ...rest: (string | number)[]): Promise<unknown> {
    seedSent.push(["EVAL", numkeys, ...rest]);
    return await this.inner.eval(script, numkeys, ...rest);
  }
}

Deno.test("IoRedisAdapter runs the 0.1.0 README's Redis example verbatim", async () => {
  await withClient(async (client) => {
    const warmUp = new IoRedisAdapter({ client });
    const lease = { key: uniqueKey(), uniqueValue: "warm-up", ttl: 1000 };
    await warmUp.createLock(lease);
    await warmUp.extendLock(lease);
    await warmUp.releaseLock(lease);
  });
  const Redis = SeedRedis;
  try {
    // ---- 0.1.0 README, "Quick start" (only the imports differ) ----
    const adapter = new IoRedisAdapter({ client: new Redis() });
    const locker = new Locker({
      adapter,
      retrySettings: { retryDelay: 200, retryTimes: 10 },
    });
    const lock = await locker.lock("user:123", 3000).acquire();
    try {
      // critical section
      await lock.extend(2000); // need more time? extend the TTL
      // continue working
    } finally {
      await lock.release();
    }
    // ---- end of the example ----
    assert.equal(seedSent.filter((c) => c[0] === "EVAL").length, 0, "scripts were cached");
    const [acquire, acquirePttl, extend, pttl, release] = seedSent;
    assert.deepEqual(acquire!.slice(2, 8), [
      3,
      "user:123",
      "{user:123}:fence",
      "{user:123}:waiters",
      lock.uniqueValue,
      3000,
    ]);
    assert.ok((acquirePttl![1] as number) > 2500, String(acquirePttl));
    assert.deepEqual(extend!.slice(2), [1, "user:123", lock.uniqueValue, 2000]);
    assert.equal(extend![0], "EVALSHA");
    assert.ok((pttl![1] as number) > 1500 && (pttl![1] as number) <= 2000, String(pttl));
    assert.deepEqual(release!.slice(2, 7), [
      3,
      "user:123",
      "{user:123}:waiters",
      "{user:123}:released",
      lock.uniqueValue,
    ]);
    assert.equal(release![0], "EVALSHA");
    assert.notEqual(release![1], extend![1]);
    assert.notEqual(acquire![1], release![1]);
    assert.equal(await lock.isLocked(), false);
  } finally {
    await Promise.all(seedClients.splice(0).map((c) => c.inner.quit()));
  }
});

Deno.test("IoRedisAdapter: the 0.1.0 README's default import of ioredis is the Redis class at run time", () => {
  assert.equal(IoRedis as unknown, Redis);
});

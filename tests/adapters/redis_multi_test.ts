// Copyright 2026 the locco authors. MIT license.
// Multi-key locks on Redis (the adapter contract runs the common cases on
// every client): atomic takes checked on the raw keys, one script per
// operation, fences per key, hand-offs between single-key and multi-key
// waiters, and the Redis Cluster hash-tag rule checked before any I/O.

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import {
  type ILockAdapter,
  IoRedisAdapter,
  type IoRedisLikeClient,
  type Lock,
  LockCreateError,
  Locker,
  LockExtendError,
  LockReleaseError,
  ValidationError,
} from "@kontsedal/locco";
import {
  GlideAdapter,
  type GlideAdapterOptions,
  NodeRedisAdapter,
  type NodeRedisAdapterOptions,
} from "@kontsedal/locco/redis";
import { REDIS_FAMILIES, type RedisClientKind, type RedisTestAdapter } from "../_redis_clients.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, monitorCommands, REDIS_URL, RedisServer } from "../_redis_server.ts";

/** `count` fresh keys with one hash tag. */
function taggedKeys(count: number): string[] {
  const tag = uniqueKey();
  return Array.from({ length: count }, (_, i) => `{${tag}}:${i}`);
}

/** Runs `fn` with `count` adapters of `kind` (one connection each) and an ioredis admin client. */
async function withAdapters(
  kind: RedisClientKind,
  count: number,
  fn: (adapters: RedisTestAdapter[], admin: Redis) => Promise<void>,
  url: string = REDIS_URL,
): Promise<void> {
  await assertRedisReachable(url);
  const clients = await Promise.all(Array.from({ length: count }, () => kind.open(url)));
  const admin = new Redis(url);
  try {
    await fn(clients.map((c) => c.adapter), admin);
  } finally {
    await Promise.all([...clients.map((c) => c.close()), admin.quit()]);
  }
}

function lockerOf(adapter: RedisTestAdapter, retryDelay = 10_000, retryTimes = 100): Locker {
  return new Locker({ adapter, retrySettings: { retryDelay, retryTimes } });
}

/** A fake ioredis client whose every command throws: any I/O fails the test. */
function noIoClient(extra: Record<string, unknown> = {}): IoRedisLikeClient {
  const fail = () => {
    throw new Error("no I/O expected");
  };
  return { get: fail, evalsha: fail, eval: fail, ...extra } as IoRedisLikeClient;
}

for (const kind of REDIS_FAMILIES) {
  const name = `${kind.adapterName} (${kind.name})`;

  Deno.test(`${name}: a multi-key lock with one key held, handed off or of another type takes none of the keys`, async () => {
    await withAdapters(kind, 1, async ([adapter], admin) => {
      const [a, b, c] = taggedKeys(3) as [string, string, string];
      const multi = adapter!.multi([a, b, c]);
      const lease = { key: "ignored", uniqueValue: "multi", ttl: 5000 };
      for (
        const [what, hold] of [
          ["held by another lock", () => admin.set(b, "other", "PX", 5000)],
          ["handed off to a waiter", () => admin.set(b, "\0locco-handoff\0waiter", "PX", 5000)],
          ["application data", () => admin.rpush(b, "x")],
        ] as const
      ) {
        await hold();
        await assert.rejects(multi.createLock(lease), LockCreateError, what);
        assert.equal(await admin.get(a), null, `${a} is not taken (${what})`);
        assert.equal(await admin.get(c), null, `${c} is not taken (${what})`);
        assert.equal(
          await admin.exists(`${a}:fence`, `${c}:fence`),
          0,
          `no fence issued (${what})`,
        );
        await admin.del(b);
      }
      const { fences } = await multi.createLock(lease) as { fences: number[] };
      assert.deepEqual(await admin.mget(a, b, c), ["multi", "multi", "multi"]);
      assert.equal(fences.length, 3);
      for (const [i, key] of [a, b, c].entries()) {
        assert.equal(Number(await admin.get(`${key}:fence`)), fences[i]);
        const pttl = await admin.pttl(key);
        assert.ok(pttl > 4000 && pttl <= 5000, `pttl ${pttl}`);
      }
      await multi.releaseLock(lease);
      assert.equal(await admin.exists(a, b, c), 0);
    });
  });

  Deno.test(`${name}: each multi-key operation is one EVALSHA`, async () => {
    const server = await RedisServer.start();
    try {
      await withAdapters(kind, 1, async ([adapter]) => {
        const locker = lockerOf(adapter!);
        const keys = taggedKeys(3);
        // Warm up: the scripts are cached by the first EVAL fallback.
        const warm = await locker.lock(keys, 1000).acquire();
        await warm.extend(1000);
        await warm.isLocked();
        await warm.release({ throwOnFail: true });
        const monitor = await monitorCommands(() => new Redis(server.url));
        try {
          await monitor.settle();
          const lock = await locker.lock(keys, 1000).acquire();
          const acquired = await monitor.settle();
          assert.deepEqual(acquired.map((c) => c.args[0]), ["evalsha"]);
          assert.equal(acquired[0]!.args[2], "9", "3 keys, each with its fence counter and queue");
          await lock.extend(2000);
          assert.equal(await lock.isLocked(), true);
          await lock.release({ throwOnFail: true });
          const rest = await monitor.settle();
          assert.deepEqual(rest.map((c) => c.args[0]), ["evalsha", "evalsha", "evalsha"]);
        } finally {
          await monitor.stop();
        }
      }, server.url);
    } finally {
      await server.stop();
    }
  });

  Deno.test(`${name}: multi-key fences are the keys' own counters, above every earlier token, and inspect() reports them`, async () => {
    await withAdapters(kind, 1, async ([adapter]) => {
      const locker = lockerOf(adapter!);
      const [a, b] = taggedKeys(2) as [string, string];
      const single = await locker.lock(a, 5000).acquire();
      await single.release({ throwOnFail: true });
      const first = await locker.lock([a, b], 5000).acquire();
      assert.ok(first.fences!.get(a)! > single.fence!);
      // inspect() of each key reports the multi-key lock's token for that key.
      for (const key of [a, b]) {
        const info = await locker.inspect(key);
        assert.equal(info?.fence, first.fences!.get(key));
        assert.ok(info!.expiresIn > 0 && info!.expiresIn <= 5000);
      }
      await first.release({ throwOnFail: true });
      const second = await locker.lock([b, a], 5000).acquire();
      assert.deepEqual(second.keys, [b, a]);
      assert.ok(second.fences!.get(a)! > first.fences!.get(a)!);
      assert.ok(second.fences!.get(b)! > first.fences!.get(b)!);
      await second.release({ throwOnFail: true });
      const after = await locker.lock(b, 5000).acquire();
      assert.ok(after.fence! > second.fences!.get(b)!);
      await after.release({ throwOnFail: true });
    });
  });

  Deno.test(`${name}: a multi-key release wakes the single-key waiters of each key`, async () => {
    await withAdapters(kind, 3, async ([holder, w1, w2]) => {
      const [a, b] = taggedKeys(2) as [string, string];
      const held = await lockerOf(holder!).lock([a, b], 30_000).acquire();
      // Retry delays far longer than the margin below: only a hand-off wakes them in time.
      const waiting = [
        lockerOf(w1!).lock(a, 5000).acquire(),
        lockerOf(w2!).lock(b, 5000).acquire(),
      ];
      await delay(300);
      const releasedAt = performance.now();
      await held.release({ throwOnFail: true });
      const locks = await Promise.all(waiting);
      const waited = performance.now() - releasedAt;
      assert.ok(
        waited < 5000,
        `the waiters took their keys ${Math.round(waited)} ms after the release`,
      );
      assert.ok(locks[0]!.fence! > held.fences!.get(a)!);
      assert.ok(locks[1]!.fence! > held.fences!.get(b)!);
      await Promise.all(locks.map((lock) => lock.release({ throwOnFail: true })));
    });
  });

  Deno.test(`${name}: a multi-key waiter queues behind earlier single-key waiters and is woken in turn`, async () => {
    await withAdapters(kind, 3, async ([holder, single, multi]) => {
      const [a, b] = taggedKeys(2) as [string, string];
      const held = await lockerOf(holder!).lock(b, 30_000).acquire();
      const order: string[] = [];
      const first = lockerOf(single!).lock(b, 30_000).acquire().then((lock) => {
        order.push("single");
        return lock;
      });
      await delay(300);
      const second = lockerOf(multi!).lock([a, b], 30_000).acquire().then((lock) => {
        order.push("multi");
        return lock;
      });
      await delay(300);
      const releasedAt = performance.now();
      await held.release({ throwOnFail: true });
      const singleLock = await first;
      await delay(300);
      assert.deepEqual(order, ["single"], "the multi-key waiter did not barge past");
      await singleLock.release({ throwOnFail: true });
      const multiLock = await second;
      const waited = performance.now() - releasedAt;
      assert.ok(waited < 5000, `both waiters were done ${Math.round(waited)} ms after the release`);
      assert.deepEqual(order, ["single", "multi"]);
      await multiLock.release({ throwOnFail: true });
    });
  });

  Deno.test(`${name}: a multi-key attempt that finds another key held passes on the key handed to it`, async () => {
    await withAdapters(kind, 4, async ([holder, other, multi, single]) => {
      const [a, b] = taggedKeys(2) as [string, string];
      const heldB = await lockerOf(holder!).lock(b, 30_000).acquire();
      const multiLock = lockerOf(multi!).lock([a, b], 30_000).acquire();
      await delay(300); // the multi-key waiter queues on b
      const singleLock = lockerOf(single!).lock(b, 30_000).acquire();
      await delay(300); // the single-key waiter queues on b, behind it
      const heldA = await lockerOf(other!).lock(a, 30_000).acquire();
      const releasedAt = performance.now();
      await heldB.release({ throwOnFail: true });
      // b goes to the multi-key waiter, whose attempt finds a held: it must
      // pass b on at once rather than sit on it for the claim window.
      const gotB = await singleLock;
      const waited = performance.now() - releasedAt;
      assert.ok(
        waited < 5000,
        `the single-key waiter took b ${Math.round(waited)} ms after the release`,
      );
      assert.equal(await gotB.isLocked(), true);
      await Promise.all([
        heldA.release({ throwOnFail: true }),
        gotB.release({ throwOnFail: true }),
      ]);
      const both = await multiLock;
      assert.equal(await both.isLocked(), true);
      await both.release({ throwOnFail: true });
    });
  });

  Deno.test(`${name}: overlapping multi-key and single-key locks on many connections never share a key`, async () => {
    await withAdapters(kind, 8, async (adapters) => {
      const keys = taggedKeys(4);
      const inside = new Map<string, string>();
      const fences = new Map<string, number>();
      let sections = 0;
      await Promise.all(adapters.map(async (adapter, n) => {
        // Short retry delays: progress must not depend on a hand-off being heard.
        const locker = lockerOf(adapter, 20, 100_000);
        for (let i = 0; i < 8; i++) {
          const mine = n === 0
            ? [keys[i % 4]!]
            : [keys[(n + i) % 4]!, keys[(n + 2 * i + 1) % 4]!].filter((k, j, all) =>
              all.indexOf(k) === j
            );
          await locker.lock(mine, 10_000).acquire(async (lock: Lock) => {
            for (const key of mine) {
              assert.equal(inside.get(key), undefined, `${key} held twice at once`);
              inside.set(key, lock.uniqueValue);
              const fence = lock.fences!.get(key)!;
              assert.ok(fence > (fences.get(key) ?? 0), `${key}: fences grow`);
              fences.set(key, fence);
            }
            await delay(2);
            for (const key of mine) inside.delete(key);
            sections++;
          });
        }
      }));
      assert.equal(sections, 8 * 8);
    });
  });

  Deno.test(`${name}: multi-key release and extend act on every key they hold and report a lost one`, async () => {
    await withAdapters(kind, 1, async ([adapter], admin) => {
      const [a, b] = taggedKeys(2) as [string, string];
      const lock = await lockerOf(adapter!).lock([a, b], 5000).acquire();
      await admin.del(b);
      await assert.rejects(lock.extend(60_000), LockExtendError);
      const pttl = await admin.pttl(a);
      assert.ok(pttl > 59_000, `the held key was extended all the same: pttl ${pttl}`);
      await assert.rejects(lock.release({ throwOnFail: true }), LockReleaseError);
      assert.equal(await admin.exists(a), 0, "the held key was released all the same");
    });
  });
}

Deno.test("IoRedisAdapter.multi(): the owner asking twice is refused; a grant made elsewhere (a resend) is renewed with its tokens", async () => {
  await assertRedisReachable();
  const client = new Redis(REDIS_URL);
  try {
    const keys = taggedKeys(2);
    const lease = { key: "ignored", uniqueValue: "owner", ttl: 2000 };
    const one = new IoRedisAdapter({ client }).multi(keys);
    const taken = await one.createLock(lease) as { fences: number[] };
    await assert.rejects(one.createLock(lease), LockCreateError);
    assert.ok(await client.pttl(keys[0]!) <= 2000);
    // Another adapter (a resent acquire looks like this): the keys live ttl from now.
    const two = new IoRedisAdapter({ client }).multi(keys);
    const { fences } = await two.createLock({ ...lease, ttl: 60_000 }) as { fences: number[] };
    assert.deepEqual(fences, taken.fences, "the tokens the keys were taken with");
    for (const key of keys) assert.ok(await client.pttl(key) > 59_000);
    await two.releaseLock(lease);
    assert.equal(await client.exists(...keys), 0);
  } finally {
    await client.quit();
  }
});

Deno.test("Redis adapters' multi() validates keys and unique values before any I/O", async () => {
  const adapter = new IoRedisAdapter({ client: noIoClient() });
  for (const keys of [["a", "a"], ["a", ""], "a", [], undefined]) {
    assert.throws(
      () => adapter.multi(keys as string[]),
      (e) => e instanceof ValidationError && e.parameter?.startsWith("key") === true,
      JSON.stringify(keys),
    );
  }
  const multi = adapter.multi(["a", "b"]);
  await assert.rejects(
    multi.createLock({ key: "a + b", uniqueValue: "\0locco-handoff\0x", ttl: 1000 }),
    (e) => e instanceof ValidationError && e.parameter === "uniqueValue",
  );
  await assert.rejects(
    multi.createLock({ key: "a + b", uniqueValue: "x", ttl: 0 }),
    (e) => e instanceof ValidationError && e.parameter === "ttl",
  );
});

Deno.test("Redis adapters on Redis Cluster refuse a multi-key lock whose keys do not share a hash tag, before any I/O", () => {
  const retrySettings = { retryDelay: 10, retryTimes: 3 };
  const fail = () => {
    throw new Error("no I/O expected");
  };
  const clusters: Array<[string, (prefix: string, keyPrefix?: string) => ILockAdapter]> = [
    ["ioredis", (prefix, keyPrefix) =>
      new IoRedisAdapter({
        client: noIoClient({ isCluster: true, options: { keyPrefix } }),
        prefix,
      })],
    ["node-redis", (prefix) =>
      new NodeRedisAdapter({
        client: { get: fail, evalSha: fail, eval: fail, sendCommand: fail, masters: [], slots: [] },
        prefix,
      } as unknown as NodeRedisAdapterOptions)],
    ["glide", (prefix) =>
      new GlideAdapter({
        client: { get: fail, customCommand: fail, fcallWithRoute: fail },
        prefix,
      } as unknown as GlideAdapterOptions)],
  ];
  const refused: Array<[string[], string, string | undefined]> = [
    [["a", "b"], "", undefined],
    [["{t}:a", "b"], "", undefined],
    [["{t}:a", "{u}:b"], "", undefined],
    [["{}:a", "{}:b"], "", undefined],
    [["a", "b"], "locks:", undefined],
    [["{t}:a", "{u}:b"], "", "app:"],
  ];
  const accepted: Array<[string[], string, string | undefined]> = [
    [["{t}:a", "{t}:b"], "", undefined],
    [["x{t}a", "y{t}b{u}"], "", undefined],
    [["a", "b"], "locks:{p}:", undefined],
    [["{t}:a", "{u}:b"], "{p}:", undefined],
    [["a", "b"], "", "{app}:"],
  ];
  for (const [family, open] of clusters) {
    for (const [keys, prefix, keyPrefix] of refused) {
      if (keyPrefix !== undefined && family !== "ioredis") continue;
      const locker = new Locker({ adapter: open(prefix, keyPrefix), retrySettings });
      assert.throws(
        () => locker.lock(keys, 1000),
        (e) =>
          e instanceof ValidationError && e.parameter === "key" &&
          /must share a hash tag/.test(e.message) && e.message.includes('"{order:42}:a"'),
        `${family}: ${JSON.stringify(keys)} with prefix "${prefix}" and keyPrefix ${keyPrefix}`,
      );
    }
    for (const [keys, prefix, keyPrefix] of accepted) {
      if (keyPrefix !== undefined && family !== "ioredis") continue;
      const locker = new Locker({ adapter: open(prefix, keyPrefix), retrySettings });
      assert.deepEqual(locker.lock(keys, 1000).keys, keys, `${family}: ${JSON.stringify(keys)}`);
    }
  }
  // A single Redis takes any keys.
  const single = new Locker({
    adapter: new IoRedisAdapter({ client: noIoClient() }),
    retrySettings,
  });
  assert.deepEqual(single.lock(["a", "b"], 1000).keys, ["a", "b"]);
});

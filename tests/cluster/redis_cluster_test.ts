// Copyright 2026 the locco authors. MIT license.
// IoRedisAdapter, NodeRedisAdapter and GlideAdapter on a real Redis Cluster (3 masters, 3 replicas, private
// redis-server processes started for this file and stopped by pid at its end):
// the adapter contract (ioredis with and without keyPrefix, node-redis 6
// and 4, GLIDE); waiting woken by the release, whatever node the subscriber lives
// on; a subscriber whose node dies; another node dying wakes no waiter
// (node-redis); semaphores and read-write locks, their keys in one slot; and
// contended, fenced increments across a kill -9 of the master owning the
// lock's slot and across a CLUSTER FAILOVER.

import assert from "node:assert/strict";
import { type ClusterOptions, Redis } from "ioredis";
import {
  type ILockAdapter,
  type Lock,
  Locker,
  RetryError,
  ValidationError,
} from "@kontsedal/locco";
import {
  GlideAdapter,
  type GlideLikeClient,
  IoRedisAdapter,
  type IoRedisLikeClient,
  NodeRedisAdapter,
  type NodeRedisLikeClient,
} from "@kontsedal/locco/redis";
import { testAdapterContract } from "../_adapter_contract.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { RedisCluster } from "../_redis_cluster.ts";
import {
  ADAPTER_NAME,
  ClusterEnv,
  FAMILIES,
  type Family,
  masterPorts,
  subscriberNodes,
} from "../_redis_cluster_env.ts";
import { RedisServer } from "../_redis_server.ts";

/**
 * Has `waiter` wait once on a throwaway key `holder` holds, so that its
 * adapter's subscriber exists, and resolves the port of the node it
 * subscribed on.
 */
async function subscribedNode(
  nodes: RedisCluster,
  holder: Locker,
  waiter: Locker,
): Promise<number> {
  const probeKey = uniqueKey("cluster");
  const probe = await holder.lock(probeKey, 10_000).acquire();
  const probing = waiter.lock(probeKey, 1000).acquire();
  await delay(200);
  await probe.release({ throwOnFail: true });
  await (await probing).release({ throwOnFail: true });
  const [subscriberPort] = await subscriberNodes(nodes);
  assert.ok(subscriberPort !== undefined, "the waiter's adapter subscribed on some node");
  return subscriberPort;
}

let shared: Promise<RedisCluster> | undefined;

function cluster(): Promise<RedisCluster> {
  shared ??= RedisCluster.start();
  return shared;
}

Deno.test({
  name: "RedisCluster for the Redis Cluster tests starts (6 nodes)",
  // The cluster's processes outlive this test on purpose: the last test of the file stops them.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const nodes = await cluster();
    assert.equal(nodes.nodes.filter((node) => node.pid !== undefined).length, 6);
  },
});

// ioredis's ClusterSubscriber always runs a ready check on its connection,
// and a quit() during it leaves a 2 s disconnect timer of ioredis's own; the
// same suite runs on a single Redis with every sanitizer on.
const CLUSTER_SUBSCRIBER_TIMER =
  "ioredis's cluster subscriber connection can leave a 2 s disconnect timer of its own";
// deno-lint-ignore no-console
console.log(
  `Redis Cluster tests run with Deno's op and resource sanitizers off: ${CLUSTER_SUBSCRIBER_TIMER}, ` +
    "which may run out in any later test; the same code runs on a single Redis with every sanitizer on",
);

testAdapterContract(
  "IoRedisAdapter (Redis Cluster)",
  async () => new ClusterEnv(await cluster()),
  { leakReason: CLUSTER_SUBSCRIBER_TIMER },
);

testAdapterContract(
  "IoRedisAdapter (Redis Cluster, ioredis keyPrefix)",
  async () => new ClusterEnv(await cluster(), "ioredis", { keyPrefix: "app:" }),
  { leakReason: CLUSTER_SUBSCRIBER_TIMER },
);

// Right after the ioredis contract suites on purpose: ioredis's 2 s
// disconnect timer (above) runs out during this test, whose sanitizers are
// off anyway, rather than in a test that checks for leaks.
Deno.test({
  name:
    "NodeRedisAdapter on Redis Cluster: a node that holds neither the key nor the subscription going down does not wake waiters",
  // Restarts a node it killed: the node belongs to the cluster the file's last test stops.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const nodes = await cluster();
    const env = new ClusterEnv(nodes, "node-redis");
    let killed: number | undefined;
    try {
      const retrySettings = { retryDelay: 5000, retryTimes: 5, totalTime: 30_000 };
      const holder = new Locker({ adapter: await env.connect(), retrySettings });
      const waiterAdapter = await env.connect();
      let attempts = 0;
      const counting: ILockAdapter = new Proxy(waiterAdapter, {
        get(target, name) {
          const value = Reflect.get(target, name, target);
          if (name !== "createLock") {
            return typeof value === "function" ? value.bind(target) : value;
          }
          return (...args: Parameters<ILockAdapter["createLock"]>) => {
            attempts++;
            return target.createLock(...args);
          };
        },
      });
      const waiter = new Locker({ adapter: counting, retrySettings });
      const subscriberPort = await subscribedNode(nodes, holder, waiter);
      let key = uniqueKey("cluster");
      while ((await nodes.masterOf(key)).port === subscriberPort) key = uniqueKey("cluster");
      const keyPort = (await nodes.masterOf(key)).port;
      const victim = (await masterPorts(nodes)).find((port) =>
        port !== subscriberPort && port !== keyPort
      );
      assert.ok(victim !== undefined, "a third master");
      const replica = await nodes.replicaOf(victim);

      const held = await holder.lock(key, 30_000).acquire();
      const waiting = waiter.lock(key, 1000).acquire();
      waiting.catch(() => {}); // awaited below, unless an assertion fails first
      await delay(300);
      const before = attempts;
      killed = victim;
      await nodes.kill(victim);
      await delay(1500);
      assert.equal(attempts, before, "no waiter was woken by another node going down");
      await nodes.waitForPromotion(replica.port);
      await nodes.waitForState(true);
      await held.release({ throwOnFail: true });
      await (await waiting).release({ throwOnFail: true });
    } finally {
      await env.close();
      if (killed !== undefined) {
        await nodes.restart(killed);
        await nodes.waitForState(true);
      }
    }
  },
});

testAdapterContract(
  "NodeRedisAdapter (Redis Cluster, node-redis 6)",
  async () => new ClusterEnv(await cluster(), "node-redis"),
);

testAdapterContract(
  "NodeRedisAdapter (Redis Cluster, node-redis 4)",
  async () => new ClusterEnv(await cluster(), "node-redis 4"),
);

testAdapterContract(
  "GlideAdapter (Redis Cluster, GlideClusterClient)",
  async () => new ClusterEnv(await cluster(), "glide"),
);

// node-redis and GLIDE have no keyPrefix: their cases are the first two.
const WAKE_CASES: Array<[string, Family[], ClusterOptions, (base: string) => string]> = [
  ["a plain key", [...FAMILIES, "node-redis 4", "glide"], {}, (base) => base],
  ["a hash-tagged key", [...FAMILIES, "node-redis 4", "glide"], {}, (base) => `{${base}}:orders`],
  ["a client with keyPrefix", ["ioredis"], { keyPrefix: "app:" }, (base) => base],
  ["a client with a hash-tagged keyPrefix", ["ioredis"], { keyPrefix: "{app}:" }, (base) => base],
];

for (const [what, families, options, keyOf] of WAKE_CASES) {
  for (const family of families) {
    Deno.test({
      name: `${
        ADAPTER_NAME[family]
      } on Redis Cluster wakes a waiter on release, long before its 5 s retry delay (${what})`,
      // See CLUSTER_SUBSCRIBER_TIMER: an earlier test's ioredis timer may run out here.
      sanitizeResources: false,
      sanitizeOps: false,
    }, async () => {
      const env = new ClusterEnv(await cluster(), family, options);
      try {
        const key = keyOf(uniqueKey("cluster"));
        const retrySettings = { retryDelay: 5000, retryTimes: 3 };
        const held = await new Locker({ adapter: await env.connect(), retrySettings }).lock(
          key,
          30_000,
        ).acquire();
        const waiter = new Locker({ adapter: await env.connect(), retrySettings });
        const waiting = waiter.lock(key, 1000).acquire();
        await delay(200);
        const releasedAt = performance.now();
        await held.release({ throwOnFail: true });
        const lock = await waiting;
        const waited = performance.now() - releasedAt;
        assert.ok(
          waited < 1500,
          `the waiter took the key ${Math.round(waited)} ms after the release`,
        );
        assert.ok(typeof lock.fence === "number" && lock.fence > held.fence!);
        await lock.release({ throwOnFail: true });
      } finally {
        await env.close();
      }
    });
  }
}

// A semaphore's or read-write lock's keys (holders, fences, counter, queue)
// share the key's slot, or every script would fail with CROSSSLOT.
const HOLDER_CASES: Array<[string, Family, ClusterOptions]> = [
  ["ioredis", "ioredis", {}],
  ["ioredis keyPrefix", "ioredis", { keyPrefix: "app:" }],
  ["node-redis 6", "node-redis", {}],
  ["GLIDE", "glide", {}],
];
for (const [what, family, options] of HOLDER_CASES) {
  Deno.test({
    name: `${
      ADAPTER_NAME[family]
    } semaphores and read-write locks work on Redis Cluster, waiters woken by releases (${what})`,
    // See CLUSTER_SUBSCRIBER_TIMER: an earlier test's ioredis timer may run out here.
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const env = new ClusterEnv(await cluster(), family, options);
    try {
      // A retry delay the waiters must not need: they are woken by releases.
      const retrySettings = { retryDelay: 60_000, retryTimes: 2, totalTime: 20_000 };
      const one = new Locker({ adapter: await env.connect(), retrySettings });
      const other = new Locker({ adapter: await env.connect(), retrySettings });
      const key = uniqueKey("cluster");
      const held = [
        await one.semaphore(key, 2, 30_000).acquire(),
        await one.semaphore(key, 2, 30_000).acquire(),
      ];
      assert.equal(await other.semaphore(key, 2, 30_000).tryAcquire(), undefined);
      const waiting = other.semaphore(key, 2, 30_000).acquire();
      await delay(200);
      await held[0]!.release({ throwOnFail: true });
      const third = await waiting;
      assert.ok(third.fence! > held[1]!.fence! && held[1]!.fence! > held[0]!.fence!);
      await Promise.all([held[1]!, third].map((lock) => lock.release({ throwOnFail: true })));

      const reader = await one.readWrite(key, 30_000).read().acquire();
      const writing = other.readWrite(key, 30_000).write().acquire();
      await delay(200);
      assert.equal(
        await one.readWrite(key, 30_000).read().tryAcquire(),
        undefined,
        "a waiting writer holds new readers back",
      );
      await reader.release({ throwOnFail: true });
      const writer = await writing;
      assert.ok(writer.fence! > reader.fence!);
      await writer.release({ throwOnFail: true });
    } finally {
      await env.close();
    }
  });
}

for (const family of FAMILIES) {
  Deno.test({
    name: `${
      ADAPTER_NAME[family]
    } on Redis Cluster: a waiter whose subscriber's node died takes the released key within its retry delay`,
    // Restarts a node it killed: the node belongs to the cluster the file's last test stops.
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const nodes = await cluster();
      const env = new ClusterEnv(nodes, family);
      let killed: number | undefined;
      try {
        const holder = new Locker({
          adapter: await env.connect(),
          retrySettings: { retryDelay: 100, retryTimes: 3 },
        });
        const waiter = new Locker({
          adapter: await env.connect(),
          retrySettings: { retryDelay: 1000, retryTimes: 100, totalTime: 20_000 },
        });
        const subscriberPort = await subscribedNode(nodes, holder, waiter);

        let key = uniqueKey("cluster");
        while ((await nodes.masterOf(key)).port === subscriberPort) key = uniqueKey("cluster");
        const held = await holder.lock(key, 20_000).acquire();
        const waiting = waiter.lock(key, 1000).acquire();
        await delay(200);
        killed = subscriberPort;
        await nodes.kill(subscriberPort);
        const releasedAt = performance.now();
        await held.release({ throwOnFail: true });
        const lock = await waiting;
        const waited = performance.now() - releasedAt;
        assert.ok(
          waited < 1000 + 500 + 2000,
          `the waiter took the key ${
            Math.round(waited)
          } ms after the release (retry delay 1000 ms)`,
        );
        await lock.release({ throwOnFail: true });
      } finally {
        await env.close();
        if (killed !== undefined) {
          await nodes.restart(killed);
          await nodes.waitForState(true);
        }
      }
    },
  });
}

// A counter in a plain Redis that only takes a write whose fencing token is
// newer than the last one it took: a holder that lost its lock on a failed
// master cannot overwrite a newer holder's work.
const FENCED_WRITE = `local last = tonumber(redis.call("HGET", KEYS[1], "fence") or "0")
if tonumber(ARGV[1]) <= last then
  return 0
end
redis.call("HSET", KEYS[1], "fence", ARGV[1], "value", ARGV[2])
return 1`;

interface FailoverRun {
  applied: number;
  rejected: number;
  errors: number;
  value: number;
}

/**
 * Four workers on their own cluster clients do `iterations` locked, fenced
 * increments each of one counter, while `fault` hits the cluster once a
 * third of the work is done.
 */
async function contendedIncrements(
  nodes: RedisCluster,
  family: Family,
  fault: (lockKey: string) => Promise<void>,
): Promise<FailoverRun & { iterations: number }> {
  const WORKERS = 4;
  const ITERATIONS = 60;
  const resourceServer = await RedisServer.start();
  const resource = new Redis(resourceServer.url);
  const env = new ClusterEnv(nodes, family, { redisOptions: { maxRetriesPerRequest: 3 } });
  const lockKey = uniqueKey("cluster");
  const counter = `${lockKey}:counter`;
  const run: FailoverRun = { applied: 0, rejected: 0, errors: 0, value: 0 };
  let done = 0;
  try {
    const worker = async (adapter: ILockAdapter) => {
      const locker = new Locker({
        adapter,
        retrySettings: { retryDelay: 50, retryTimes: 1000, totalTime: 30_000 },
      });
      for (let i = 0; i < ITERATIONS;) {
        let wrote = false;
        try {
          await locker.lock(lockKey, 2000).acquire(async (lock: Lock) => {
            const value = Number(await resource.hget(counter, "value") ?? 0);
            await delay(2);
            const took = await resource.eval(FENCED_WRITE, 1, counter, lock.fence!, value + 1);
            wrote = true;
            if (took === 1) run.applied++;
            else run.rejected++;
          });
        } catch (error) {
          if (error instanceof RetryError) throw error;
          run.errors++;
          await delay(50);
        }
        // A section that wrote counts once, whatever its release said.
        if (wrote) {
          i++;
          done++;
        }
      }
    };
    const adapters = await Promise.all(Array.from({ length: WORKERS }, () => env.connect()));
    const workers = adapters.map((adapter) => worker(adapter));
    const faulted = (async () => {
      while (done < (WORKERS * ITERATIONS) / 3) await delay(10);
      await fault(lockKey);
    })();
    await Promise.all([...workers, faulted]);
    run.value = Number(await resource.hget(counter, "value"));
    return { ...run, iterations: WORKERS * ITERATIONS };
  } finally {
    await env.close();
    await resource.quit();
    await resourceServer.stop();
  }
}

function assertNoLostUpdate(name: string, run: FailoverRun & { iterations: number }): void {
  // deno-lint-ignore no-console
  console.log(
    `${name}: ${run.iterations} sections, ${run.applied} writes applied, ${run.rejected} late writes rejected by the fence, ${run.errors} errors retried, counter ${run.value}`,
  );
  assert.equal(run.applied + run.rejected, run.iterations);
  assert.equal(run.value, run.applied, "every applied write counted: no lost update");
}

for (const family of FAMILIES) {
  Deno.test({
    name: `${
      ADAPTER_NAME[family]
    } on Redis Cluster: fenced increments lose no update across a kill -9 of the lock's master`,
    // Restarts a node it killed: the node belongs to the cluster the file's last test stops.
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const nodes = await cluster();
      let killed: number | undefined;
      try {
        const run = await contendedIncrements(nodes, family, async (lockKey) => {
          const master = await nodes.masterOf(lockKey);
          const replica = await nodes.replicaOf(master.port);
          killed = master.port;
          await nodes.kill(master.port);
          await nodes.waitForPromotion(replica.port);
        });
        assertNoLostUpdate(`${family}, kill -9 of the lock's master`, run);
      } finally {
        if (killed !== undefined) {
          await nodes.restart(killed);
          await nodes.waitForState(true);
        }
      }
    },
  });

  Deno.test({
    name: `${
      ADAPTER_NAME[family]
    } on Redis Cluster: fenced increments lose no update across a CLUSTER FAILOVER`,
    // See CLUSTER_SUBSCRIBER_TIMER: an earlier test's ioredis timer may run out here.
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const nodes = await cluster();
    const run = await contendedIncrements(nodes, family, async (lockKey) => {
      const master = await nodes.masterOf(lockKey);
      const replica = await nodes.replicaOf(master.port);
      await nodes.failover(replica.port);
    });
    assertNoLostUpdate(`${family}, CLUSTER FAILOVER`, run);
  });
}

for (const family of ["ioredis", "node-redis", "glide"] as const) {
  Deno.test({
    name: `${
      ADAPTER_NAME[family]
    } on Redis Cluster takes a multi-key lock on keys with one hash tag, and its release wakes a single-key waiter`,
    // See CLUSTER_SUBSCRIBER_TIMER: an earlier test's ioredis timer may run out here.
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const env = new ClusterEnv(await cluster(), family);
    try {
      const tag = uniqueKey("cluster");
      const keys = [`{${tag}}:a`, `{${tag}}:b`, `{${tag}}:c`];
      const retrySettings = { retryDelay: 5000, retryTimes: 3 };
      const holder = new Locker({ adapter: await env.connect(), retrySettings });
      const before = await holder.lock(keys[1]!, 10_000).acquire();
      await before.release({ throwOnFail: true });
      const held = await holder.lock(keys, 30_000).acquire();
      assert.equal(held.fences!.size, 3);
      assert.ok(held.fences!.get(keys[1]!)! > before.fence!);
      assert.equal(await holder.lock(keys[2]!, 1000).tryAcquire(), undefined);
      const waiter = new Locker({ adapter: await env.connect(), retrySettings });
      const waiting = waiter.lock(keys[2]!, 1000).acquire();
      await delay(200);
      const releasedAt = performance.now();
      await held.release({ throwOnFail: true });
      const lock = await waiting;
      const waited = performance.now() - releasedAt;
      assert.ok(
        waited < 1500,
        `the waiter took the key ${Math.round(waited)} ms after the release`,
      );
      assert.ok(lock.fence! > held.fences!.get(keys[2]!)!);
      await lock.release({ throwOnFail: true });
    } finally {
      await env.close();
    }
  });

  Deno.test({
    name: `${
      ADAPTER_NAME[family]
    } on Redis Cluster refuses a multi-key lock whose keys do not share a hash tag, before any I/O`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const env = new ClusterEnv(await cluster(), family);
    try {
      const real = await env.connect();
      assert.ok(real.multi(["{t}:a", "{t}:b"]), "a real cluster client takes tagged keys");
      // The same client, every method of which now throws: any I/O would show.
      const client = env.clients.at(-1)!;
      const noIo = new Proxy(client, {
        get(target, name) {
          const value = Reflect.get(target, name, target);
          if (typeof value !== "function") return value;
          return () => {
            throw new Error(`no I/O expected: ${String(name)}() was called`);
          };
        },
      });
      const adapter = family === "ioredis"
        ? new IoRedisAdapter({ client: noIo as IoRedisLikeClient })
        : family === "glide"
        ? new GlideAdapter({ client: noIo as GlideLikeClient })
        : new NodeRedisAdapter({ client: noIo as NodeRedisLikeClient });
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } });
      for (const keys of [["a", "b"], ["{t}:a", "{u}:b"], ["{t}:a", "b"]]) {
        assert.throws(
          () => locker.lock(keys, 1000),
          (e) =>
            e instanceof ValidationError && e.parameter === "key" &&
            /must share a hash tag/.test(e.message),
          JSON.stringify(keys),
        );
      }
    } finally {
      await env.close();
    }
  });
}

Deno.test({
  name: "RedisCluster for the Redis Cluster tests stops (every node by pid)",
  // Stops the processes the first test of the file started.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const nodes = await cluster();
    await nodes.stop();
    assert.equal(nodes.nodes.filter((node) => node.pid !== undefined).length, 0);
  },
});

// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import {
  type ILockAdapter,
  isLoccoError,
  LockCreateError,
  Locker,
  LockLostError,
  RetryError,
} from "@kontsedal/locco";
import { delay, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, REDIS_URL, RedisServer } from "../_redis_server.ts";
import { type OpenedRedisClient, REDIS_CLIENTS } from "../_redis_clients.ts";

// The fault suites run with every client family and major; not with
// iovalkey (ioredis's code, renamed) nor node-redis 6 over RESP3 (the same
// sockets and reconnects as over RESP2), which the contract suite covers.
// Nor with Valkey GLIDE: it reconnects for ever and shows no connection
// state, which these tests drive and watch.
const FAULT_CLIENTS = REDIS_CLIENTS.filter((kind) =>
  kind.name !== "iovalkey" && kind.name !== "node-redis 6, RESP3" && kind.family !== "glide"
);
for (const kind of REDIS_CLIENTS.filter((kind) => kind.family === "glide")) {
  // deno-lint-ignore no-console
  console.log(
    `redis_faults_test: ${kind.adapterName} (${kind.name}) not run: GLIDE reconnects for ever and shows no connection state, which these tests drive; its own fault tests are in glide_test.ts`,
  );
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(10);
  }
}

/** Rejects if `promise` takes longer than `ms`: the tests below must never hang. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung for more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once the client answers on a connection other than `killed`. */
async function reconnected(client: OpenedRedisClient, killed: number): Promise<void> {
  while (await client.clientId().catch(() => killed) === killed) await delay(20);
}

function countingAdapter(inner: ILockAdapter): ILockAdapter & { creates: number } {
  const counted = {
    creates: 0,
    createLock: (lease: Parameters<ILockAdapter["createLock"]>[0]) => {
      counted.creates++;
      return inner.createLock(lease);
    },
    releaseLock: (identity: Parameters<ILockAdapter["releaseLock"]>[0]) =>
      inner.releaseLock(identity),
    extendLock: (lease: Parameters<ILockAdapter["extendLock"]>[0]) => inner.extendLock(lease),
    isValidLock: (identity: Parameters<ILockAdapter["isValidLock"]>[0]) =>
      inner.isValidLock(identity),
  };
  return counted;
}

function assertDriverError(error: unknown): void {
  assert.ok(error instanceof Error, String(error));
  assert.equal(isLoccoError(error), false, `${error.name}: ${error.message}`);
}

for (const kind of FAULT_CLIENTS) {
  Deno.test(`${kind.adapterName}: with Redis down, every call rejects at once with the driver error and acquire() does not retry it (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url, {}, { failFast: true });
    try {
      const adapter = countingAdapter(client.adapter);
      const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 20 } });
      const held = await locker.lock("held", 10_000).acquire();
      await server.stop();
      await waitFor(
        "the client to see the server gone",
        () => !client.isReady(),
      );

      adapter.creates = 0;
      const started = performance.now();
      const error = await within(2000, locker.lock("k", 1000).acquire(), "acquire()").then(
        () => assert.fail("acquire() resolved while Redis is down"),
        (e: unknown) => e,
      );
      assertDriverError(error);
      assert.equal(adapter.creates, 1);
      assert.ok(performance.now() - started < 200, "acquire() waited for a retry");
      for (
        const [what, call] of [
          ["extend()", () => held.extend(5000)],
          ["release()", () => held.release()],
          ["isLocked()", () => held.isLocked()],
        ] as const
      ) {
        await assert.rejects(within<unknown>(2000, call(), what), (e) => {
          assertDriverError(e);
          return true;
        });
      }

      await server.restart();
      await waitFor("the client to reconnect", () => client.isReady());
      assert.equal(await held.isLocked(), false, "a restart without persistence drops locks");
      const again = await locker.lock("held", 1000).acquire();
      assert.equal(await again.isLocked(), true);
      await again.release({ throwOnFail: true });
    } finally {
      await client.destroy();
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName}: lock.signal aborts with LockLostError when Redis stops under an auto-extended lock (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url, {}, { failFast: true });
    try {
      const locker = new Locker({
        adapter: client.adapter,
        retrySettings: { retryDelay: 5, retryTimes: 5 },
      });
      const lock = await locker.lock(uniqueKey(), 400).acquire(undefined, { autoExtend: true });
      const lost = new Promise<unknown>((resolve) =>
        lock.signal.addEventListener("abort", () => resolve(lock.signal.reason), { once: true })
      );
      await delay(300);
      assert.equal(lock.signal.aborted, false, "auto-extension kept the lock while Redis was up");
      const stoppedAt = performance.now();
      await server.stop();
      const reason = await within(3000, lost, "lock.signal");
      assert.ok(reason instanceof LockLostError, String(reason));
      assert.ok(!isLoccoError(reason.cause), `cause should be the driver error: ${reason.cause}`);
      assert.ok(performance.now() - stoppedAt < 400 + 200, "the signal fired long after the TTL");
      assert.equal(lock.remainingTtl(), 0);
      await assert.rejects(within(2000, lock.release(), "release()"), (e) => !isLoccoError(e));
      await server.restart();
      await waitFor("the client to reconnect", () => client.isReady());
    } finally {
      await client.destroy();
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName}: a run of acquire(cb) survives Redis being killed and restarted, with clear errors and no hang (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const client = await kind.open(server.url, {}, { failFast: true });
    try {
      const locker = new Locker({
        adapter: client.adapter,
        retrySettings: { retryDelay: 5, retryTimes: 5 },
      });
      const key = uniqueKey();
      let phase: "before" | "down" | "after" = "before";
      const ok = { before: 0, down: 0, after: 0 };
      const failures: unknown[] = [];
      let running = true;
      const run = (async () => {
        while (running) {
          const current = phase;
          try {
            await within(2000, locker.lock(key, 1000).acquire(() => delay(2)), "acquire(cb)");
            ok[current]++;
          } catch (error) {
            failures.push(error);
            await delay(10);
          }
        }
      })();
      await delay(200);
      phase = "down";
      await server.stop();
      await delay(300);
      await server.restart();
      await waitFor("the client to reconnect", () => client.isReady());
      phase = "after";
      await delay(200);
      running = false;
      await run;
      assert.ok(ok.before > 0 && ok.after > 0, JSON.stringify(ok));
      assert.ok(failures.length > 0, "no call failed while Redis was down");
      for (const failure of failures) {
        assertDriverError(failure);
        assert.ok(!(failure instanceof LockCreateError) && !(failure instanceof RetryError));
      }
    } finally {
      await client.destroy();
      await server.stop();
    }
  });

  Deno.test(`${kind.adapterName}: release() rejects with the driver error when the client disconnected after acquire, and the lock frees after its ttl (${kind.name})`, async () => {
    await assertRedisReachable();
    const client = await kind.open(REDIS_URL);
    const other = await kind.open(REDIS_URL);
    try {
      const key = uniqueKey();
      const retrySettings = { retryDelay: 20, retryTimes: 100 };
      const locker = new Locker({ adapter: client.adapter, retrySettings });
      const lock = await locker.lock(key, 300).acquire();
      await client.destroy();
      await assert.rejects(within(2000, lock.release(), "release()"), (e) => {
        assertDriverError(e);
        assert.match((e as Error).message, kind.closedError);
        return true;
      });
      const otherLocker = new Locker({
        adapter: other.adapter,
        retrySettings,
      });
      const started = performance.now();
      const taken = await otherLocker.lock(key, 1000).acquire();
      assert.ok(performance.now() - started > 150, "the lock was free before its ttl");
      await taken.release({ throwOnFail: true });
    } finally {
      await other.close();
    }
  });

  Deno.test(`${kind.adapterName}: release() rejects with the driver error when the server kills the connection (${kind.name})`, async () => {
    await assertRedisReachable();
    const client = await kind.open(REDIS_URL, {}, { noReconnect: true });
    const admin = new Redis(REDIS_URL);
    try {
      const key = uniqueKey();
      const locker = new Locker({
        adapter: client.adapter,
        retrySettings: { retryDelay: 20, retryTimes: 3 },
      });
      const lock = await locker.lock(key, 300).acquire();
      const id = await client.clientId();
      await admin.client("KILL", "ID", String(id));
      await assert.rejects(within(2000, lock.release(), "release()"), (e) => {
        assertDriverError(e);
        return true;
      });
      assert.equal(await admin.get(key), lock.uniqueValue);
      await delay(400);
      assert.equal(await admin.exists(key), 0);
      await waitFor("the client to end", () => client.isEnded());
    } finally {
      if (!client.isEnded()) await client.destroy();
      await admin.quit();
    }
  });

  Deno.test(`${kind.adapterName}: release() succeeds after a killed connection is re-established (${kind.name})`, async () => {
    await assertRedisReachable();
    const client = await kind.open(REDIS_URL);
    const admin = new Redis(REDIS_URL);
    try {
      const key = uniqueKey();
      const locker = new Locker({
        adapter: client.adapter,
        retrySettings: { retryDelay: 20, retryTimes: 3 },
      });
      const lock = await locker.lock(key, 5000).acquire();
      const killed = await client.clientId();
      await admin.client("KILL", "ID", String(killed));
      if (!kind.resends) {
        // node-redis writes a command sent before it noticed the kill to the
        // dead socket and rejects it: wait until it reconnected.
        await within(5000, reconnected(client, killed), "reconnect");
      }
      await within(5000, lock.release({ throwOnFail: true }), "release()");
      assert.equal(await admin.exists(key), 0);
    } finally {
      await client.close();
      await admin.quit();
    }
  });
}

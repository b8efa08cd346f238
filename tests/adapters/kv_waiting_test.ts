// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter waiting: woken by kv.watch() when another handle releases or
// the lock expires, long before the retry delay; first come first served
// among one adapter's waiters; bounded staleness when the watch reports
// nothing; polling without watch(); watches cancelled when waiting ends.
// Times are generous upper bounds on behaviour, never latency targets.

import assert from "node:assert/strict";
import { LockCreateError, Locker } from "@kontsedal/locco";
import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
import { delay, uniqueKey } from "../_helpers.ts";
import { ON_DENO, openTestKv, tempKvPath, type TestKv } from "../_kv.ts";

if (!ON_DENO) {
  // deno-lint-ignore no-console
  console.log(
    "DenoKvAdapter watch wake-up tests run on Deno only: the @deno/kv package keeps Node and " +
      'Bun alive after close() once a watch reported, so the adapter polls there ("poll" tests run)',
  );
}

/** Two handles on one file database, closed after `fn`. */
async function withHandles(fn: (a: TestKv, b: TestKv) => Promise<void>): Promise<void> {
  const { path, remove } = tempKvPath();
  const a = await openTestKv(path);
  const b = await openTestKv(path);
  try {
    await fn(a, b);
  } finally {
    a.close();
    b.close();
    remove();
  }
}

/** A handle whose watch() streams are counted, open and cancelled. */
function countingWatches(kv: DenoKvLike & { watch: NonNullable<DenoKvLike["watch"]> }) {
  const counts = { started: 0, cancelled: 0 };
  const wrapped: DenoKvLike = {
    get: (key) => kv.get(key),
    atomic: () => kv.atomic(),
    watch(keys) {
      counts.started++;
      const reader = kv.watch(keys).getReader();
      return new ReadableStream({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        async cancel() {
          counts.cancelled++;
          await reader.cancel();
        },
      }, { highWaterMark: 0 });
    },
  };
  return { kv: wrapped, counts };
}

const LONG = { retryDelay: 5000, retryTimes: 4 };

Deno.test({
  name:
    "DenoKvAdapter.waitForUnlock() wakes a waiter when another handle releases, long before its 5 s retry delay, and cancels its watch",
  ignore: !ON_DENO,
  async fn() {
    await withHandles(async (a, b) => {
      const key = uniqueKey();
      const holder = new DenoKvAdapter({ kv: a });
      const { kv, counts } = countingWatches(b as never);
      const waiter = new DenoKvAdapter({ kv, waitStrategy: "watch" });
      const held = await new Locker({ adapter: holder, retrySettings: LONG }).lock(key, 30_000)
        .acquire();
      const started = performance.now();
      const waiting = new Locker({ adapter: waiter, retrySettings: LONG }).lock(key, 30_000)
        .acquire();
      await delay(200);
      await held.release({ throwOnFail: true });
      const lock = await waiting;
      const waited = performance.now() - started;
      assert.ok(waited < 2500, `waited ${waited} ms`);
      await lock.release({ throwOnFail: true });
      await waiter.close();
      assert.equal(counts.started, 1);
      assert.equal(counts.cancelled, 1);
      await holder.close();
    });
  },
});

Deno.test({
  name:
    "DenoKvAdapter.waitForUnlock() wakes a waiter when the holder's lock expires, before its retry delay",
  ignore: !ON_DENO,
  async fn() {
    await withHandles(async (a, b) => {
      const key = uniqueKey();
      const holder = new DenoKvAdapter({ kv: a });
      const waiter = new DenoKvAdapter({ kv: b });
      await holder.createLock({ key, uniqueValue: "holder", ttl: 300 });
      const started = performance.now();
      const lock = await new Locker({ adapter: waiter, retrySettings: LONG }).lock(key, 30_000)
        .acquire();
      const waited = performance.now() - started;
      assert.ok(waited >= 300, `took the key after ${waited} ms, before it expired`);
      assert.ok(waited < 3000, `waited ${waited} ms`);
      await lock.release();
      await waiter.close();
      await holder.close();
    });
  },
});

Deno.test("DenoKvAdapter.waitForUnlock() serves the waiters of one adapter first come first served", async () => {
  await withHandles(async (a) => {
    const key = uniqueKey();
    const adapter = new DenoKvAdapter({ kv: a });
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
    await adapter.close();
  });
});

Deno.test("DenoKvAdapter.waitForUnlock() asks again within its retry delay when the watch never reports", async () => {
  await withHandles(async (a, b) => {
    const key = uniqueKey();
    const holder = new DenoKvAdapter({ kv: a });
    let cancelled = 0;
    const silent: DenoKvLike = {
      get: (k) => b.get(k),
      atomic: () => b.atomic(),
      watch: () =>
        new ReadableStream({
          cancel() {
            cancelled++;
          },
        }),
    };
    const waiter = new DenoKvAdapter({ kv: silent, waitStrategy: "watch" });
    const held = await new Locker({ adapter: holder, retrySettings: LONG }).lock(key, 30_000)
      .acquire();
    const started = performance.now();
    const waiting = new Locker({
      adapter: waiter,
      retrySettings: { retryDelay: 300, retryTimes: 40 },
    }).lock(key, 30_000).acquire();
    await delay(100);
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    const waited = performance.now() - started;
    assert.ok(waited < 3000, `waited ${waited} ms with a 300 ms retry delay`);
    await lock.release();
    await waiter.close();
    assert.equal(cancelled, 1);
    await holder.close();
  });
});

Deno.test('DenoKvAdapter with waitStrategy "poll", or a handle without watch(), still acquires after a release', async () => {
  await withHandles(async (a, b) => {
    for (
      const make of [
        () => new DenoKvAdapter({ kv: b, waitStrategy: "poll" }),
        () =>
          new DenoKvAdapter({
            kv: { get: (k) => b.get(k), atomic: () => b.atomic() },
          }),
      ]
    ) {
      const key = uniqueKey();
      const holder = new DenoKvAdapter({ kv: a });
      const waiter = make();
      const held = await new Locker({ adapter: holder, retrySettings: LONG }).lock(key, 30_000)
        .acquire();
      const waiting = new Locker({
        adapter: waiter,
        retrySettings: { retryDelay: 200, retryTimes: 40 },
      }).lock(key, 30_000).acquire();
      await delay(100);
      await held.release({ throwOnFail: true });
      const lock = await waiting;
      assert.equal(await lock.isLocked(), true);
      await lock.release();
      await waiter.close();
      await holder.close();
    }
  });
});

Deno.test('DenoKvAdapter with waitStrategy "poll" wakes its own waiters at once on its own release', async () => {
  await withHandles(async (a) => {
    const key = uniqueKey();
    const adapter = new DenoKvAdapter({ kv: a, waitStrategy: "poll" });
    const locker = new Locker({ adapter, retrySettings: LONG });
    const held = await locker.lock(key, 30_000).acquire();
    const started = performance.now();
    const waiting = locker.lock(key, 30_000).acquire();
    await delay(100);
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    const waited = performance.now() - started;
    assert.ok(waited < 2500, `waited ${waited} ms with a 5 s retry delay`);
    await lock.release();
    await adapter.close();
  });
});

Deno.test('DenoKvAdapter with waitStrategy "poll" wakes its waiter when its own release lands while the waiter\'s read is in flight', async () => {
  await withHandles(async (a) => {
    const key = uniqueKey();
    // The get() numbered `trapAt` reads at once but answers only after
    // `letGo()`: an attempt whose read predates the release.
    let gets = 0;
    let trapAt = -1;
    let reached!: () => void;
    const readDone = new Promise<void>((resolve) => (reached = resolve));
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    const kv: DenoKvLike = {
      async get(k) {
        const n = ++gets;
        const entry = await a.get(k);
        if (n === trapAt) {
          reached();
          await gate;
        }
        return entry;
      },
      atomic: () => a.atomic(),
    };
    const adapter = new DenoKvAdapter({ kv, waitStrategy: "poll" });
    await adapter.createLock({ key, uniqueValue: "holder", ttl: 30_000 });
    trapAt = gets + 2; // the waiter's second attempt
    const waiting = new Locker({
      adapter,
      // A short first pause, then 10 s: only a wake-up can end the second one early.
      retrySettings: { retryDelayFn: ({ attemptNumber }) => attemptNumber === 0 ? 50 : 10_000 },
    }).lock(key, 30_000).acquire();
    await readDone;
    await adapter.releaseLock({ key, uniqueValue: "holder" });
    const released = performance.now();
    letGo();
    const lock = await waiting;
    const waited = performance.now() - released;
    assert.ok(
      waited < 3000,
      `took the key ${waited} ms after the release, with a 10 s retry delay`,
    );
    await lock.release({ throwOnFail: true });
    await adapter.close();
  });
});

Deno.test("DenoKvAdapter refuses a newcomer's createLock while a waiter of the same adapter is queued, and the waiter gets the key", async () => {
  await withHandles(async (a) => {
    for (const waitStrategy of ["poll", "watch"] as const) {
      if (waitStrategy === "watch" && !ON_DENO) continue; // see the note at the top
      const key = uniqueKey();
      const adapter = new DenoKvAdapter({ kv: a, waitStrategy });
      await adapter.createLock({ key, uniqueValue: "holder", ttl: 30_000 });
      let taken = false;
      const waiting = new Locker({ adapter, retrySettings: LONG }).lock(key, 30_000)
        .acquire(() => {
          taken = true;
        });
      await delay(100); // the waiter tried once and is queued
      await adapter.releaseLock({ key, uniqueValue: "holder" });
      await assert.rejects(
        adapter.createLock({ key, uniqueValue: "newcomer", ttl: 30_000 }),
        LockCreateError,
        `${waitStrategy}: a newcomer took the key before the queued waiter`,
      );
      await waiting;
      assert.equal(taken, true);
      await adapter.close();
    }
  });
});

// Copyright 2026 the locco authors. MIT license.
// Multi-key locks on an adapter without an atomic multi-key method: the keys
// are taken in sorted order and undone on failure. The adapter contract runs
// the same locks on every adapter.

import assert from "node:assert/strict";
import { InMemoryAdapter, Locker, LockExtendError, LockReleaseError } from "@kontsedal/locco";
import { ManualClock, RecordingAdapter } from "./_helpers.ts";

function setup() {
  const clock = new ManualClock();
  const memory = new InMemoryAdapter({ now: clock.now });
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: { retryTimes: 3, retryDelay: 10 } });
  return { clock, memory, adapter, locker };
}

Deno.test("lock([...]) takes keys in sorted order, whatever order they are given in", async () => {
  const { adapter, locker } = setup();
  const lock = await locker.lock(["c", "a", "b"], 1000).acquire();
  assert.deepEqual(lock.keys, ["c", "a", "b"]);
  assert.equal(lock.key, "c + a + b");
  const taken = adapter.calls.filter((c) => c.method === "createLock").map((c) => c.args.key);
  assert.deepEqual(taken, ["a", "b", "c"]);
  await lock.release({ throwOnFail: true });
});

Deno.test("lock([...]) undoes the keys it took when a later key fails with a backend error", async () => {
  const { memory } = setup();
  const outage = new Error("Connection is closed.");
  const failing = new RecordingAdapter(memory);
  const take = failing.createLock.bind(failing);
  // "a" is taken first, then "b" fails: the error passes through unchanged.
  failing.createLock = (args) => args.key === "b" ? Promise.reject(outage) : take(args);
  const locker = new Locker({ adapter: failing, retrySettings: { retryTimes: 3, retryDelay: 10 } });
  const attempt = locker.lock(["b", "a"], 1000);
  await assert.rejects(attempt.acquire(), (e) => e === outage);
  assert.deepEqual(failing.calls.map((c) => [c.method, c.args.key]), [
    ["createLock", "a"],
    ["releaseLock", "a"],
  ]);
  assert.equal(await memory.isValidLock({ key: "a", uniqueValue: attempt.uniqueValue }), false);
});

Deno.test("a multi-key release or extend that finds one key gone acts on the others and reports it", async () => {
  const { memory, locker } = setup();
  const lock = await locker.lock(["a", "b"], 1000).acquire();
  await memory.releaseLock({ key: "b", uniqueValue: lock.uniqueValue });
  await assert.rejects(lock.extend(5000), LockExtendError);
  await assert.rejects(lock.release({ throwOnFail: true }), LockReleaseError);
  assert.equal(await memory.isValidLock({ key: "a", uniqueValue: lock.uniqueValue }), false);
});

Deno.test("a multi-key release passes a backend failure through, before any lock error", async () => {
  const { adapter, memory, locker } = setup();
  const lock = await locker.lock(["a", "b"], 1000).acquire();
  const outage = new Error("down");
  adapter.failNext("releaseLock", outage);
  await assert.rejects(lock.release(), (e) => e === outage);
  // The other key was released all the same; the failed one is released on the retry.
  await lock.release();
  assert.equal(await memory.isValidLock({ key: "a", uniqueValue: lock.uniqueValue }), false);
  assert.equal(await memory.isValidLock({ key: "b", uniqueValue: lock.uniqueValue }), false);
});

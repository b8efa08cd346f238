// Copyright 2026 the locco authors. MIT license.
// Lock.tryAcquire() and Locker.inspect() on the in-memory adapter with a
// controlled clock; the adapter contract runs both on every adapter.

import assert from "node:assert/strict";
import {
  InMemoryAdapter,
  isLoccoError,
  LockCreateError,
  Locker,
  UnsupportedError,
  ValidationError,
} from "@kontsedal/locco";
import { delay, ManualClock, RecordingAdapter } from "./_helpers.ts";

function setup() {
  const clock = new ManualClock();
  const memory = new InMemoryAdapter({ now: clock.now });
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: { retryTimes: 50, retryDelay: 100 } });
  return { clock, memory, adapter, locker };
}

Deno.test("Lock.tryAcquire() makes exactly one attempt and never sleeps, whatever the retry settings", async () => {
  const memory = new InMemoryAdapter();
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: { retryTimes: 50, retryDelay: 600_000 } });
  const holder = await locker.lock("k", 60_000).acquire();
  const attempt = locker.lock("k", 60_000).tryAcquire();
  // A retry would sleep ten minutes: the answer must come well before this second.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((resolve) => timer = setTimeout(() => resolve("still waiting"), 1000));
  const answer = await Promise.race([attempt, late]);
  clearTimeout(timer);
  assert.equal(answer, undefined);
  assert.equal(adapter.count("createLock"), 2);
  await holder.release();
});

Deno.test("Lock.tryAcquire() rejects with the backend's error, never undefined", async () => {
  const { adapter, locker } = setup();
  const outage = new Error("Connection is closed.");
  adapter.failNext("createLock", outage);
  const lock = locker.lock("k", 1000);
  await assert.rejects(lock.tryAcquire(), (e) => e === outage);
  adapter.failNext("createLock", new LockCreateError("held"));
  assert.equal(await lock.tryAcquire(), undefined);
  assert.equal(await lock.tryAcquire(), lock);
  await lock.release({ throwOnFail: true });
});

Deno.test("Lock.tryAcquire() validates options and honours an aborted signal before any I/O", async () => {
  const { adapter, locker } = setup();
  const lock = locker.lock("k", 1000);
  for (const options of [5, "x", { signal: {} }, { autoExtend: "yes" }]) {
    await assert.rejects(lock.tryAcquire(options as never), ValidationError);
  }
  const reason = new Error("shutting down");
  await assert.rejects(lock.tryAcquire({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
  assert.equal(adapter.count("createLock"), 0);
  assert.equal(await lock.tryAcquire({ signal: new AbortController().signal }), lock);
  await lock.release();
});

Deno.test("Lock.tryAcquire() rejects while the same Lock is held or being acquired", async () => {
  const { adapter, locker } = setup();
  const lock = locker.lock("k", 1000);
  const held = adapter.hold("createLock", "reply");
  const first = lock.tryAcquire();
  await held.reached;
  await assert.rejects(
    lock.tryAcquire(),
    (e) => isLoccoError(e) && /being acquired/.test(e.message),
  );
  await assert.rejects(lock.acquire(), (e) => isLoccoError(e) && /being acquired/.test(e.message));
  held.resume();
  assert.equal(await first, lock);
  await assert.rejects(
    lock.tryAcquire(),
    (e) => isLoccoError(e) && /already acquired/.test(e.message),
  );
  await lock.release();
});

Deno.test("Lock.tryAcquire({ autoExtend }) keeps the lock past its ttl until release", async () => {
  const locker = new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: { retryTimes: 1, retryDelay: 10 },
  });
  const lock = await locker.lock("k", 150).tryAcquire({ autoExtend: true });
  assert.ok(lock);
  await delay(400);
  assert.equal(await lock.isLocked(), true);
  assert.equal(lock.signal.aborted, false);
  await lock.release({ throwOnFail: true });
});

Deno.test("Locker.inspect() reports time left on the adapter's clock and the holder's fence", async () => {
  const { clock, memory } = setup();
  const locker = new Locker({ adapter: memory, retrySettings: { retryTimes: 1, retryDelay: 10 } });
  const lock = await locker.lock("k", 1000).acquire();
  clock.advance(250);
  assert.deepEqual(await locker.inspect("k"), { expiresIn: 750, fence: lock.fence });
  clock.advance(750);
  assert.equal(await locker.inspect("k"), undefined);
});

Deno.test("Locker.inspect() rejects with UnsupportedError naming inspectLock when the adapter lacks it", async () => {
  const { adapter, locker } = setup();
  await assert.rejects(
    locker.inspect("k"),
    (e) => e instanceof UnsupportedError && e.method === "inspectLock" && e.code === "UNSUPPORTED",
  );
  // The key is checked first, and nothing reaches the adapter.
  await assert.rejects(
    locker.inspect(""),
    (e) => e instanceof ValidationError && e.parameter === "key",
  );
  assert.equal(adapter.calls.length, 0);
});

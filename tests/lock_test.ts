// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import {
  InMemoryAdapter,
  LoccoError,
  Lock,
  Locker,
  LockExtendError,
  LockLostError,
  LockReleaseError,
  RetryError,
  ValidationError,
} from "@kontsedal/locco";
import { ManualClock, RecordingAdapter } from "./_helpers.ts";

const SETTINGS = { retryTimes: 3, retryDelay: 10 };

function setup(settings = SETTINGS) {
  const clock = new ManualClock();
  const memory = new InMemoryAdapter({ now: clock.now });
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: settings });
  return { clock, memory, adapter, locker };
}

function loccoError(message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LoccoError, `expected LoccoError, got ${error}`);
    assert.equal(error.constructor, LoccoError);
    assert.equal(error.message, message);
    return true;
  };
}

Deno.test("Lock exposes key, ttl, uniqueValue and retrySettings", () => {
  const { locker } = setup();
  const lock = locker.lock("orders:1", 5000);
  assert.equal(lock.key, "orders:1");
  assert.equal(lock.ttl, 5000);
  assert.match(lock.uniqueValue, /^[0-9a-f]{32}$/);
  assert.deepEqual(lock.retrySettings, SETTINGS);
});

Deno.test("Lock constructor validates settings, then ttl, then key, then the adapter", () => {
  const adapter = new InMemoryAdapter();
  const check = (options: unknown, parameter: string) =>
    assert.throws(
      () => new Lock(options as never),
      (e) => e instanceof ValidationError && e.parameter === parameter,
    );
  check(
    { adapter, key: "", ttl: 0, retrySettings: { retryDelay: "x" } },
    "retrySettings.retryDelay",
  );
  check({ adapter, key: "", ttl: 0, retrySettings: SETTINGS }, "ttl");
  check({ adapter, key: "", ttl: 10, retrySettings: SETTINGS }, "key");
  check({ adapter, key: "k", ttl: 10, retrySettings: SETTINGS, uniqueValue: "" }, "uniqueValue");
  check({ adapter: null, key: "k", ttl: 10, retrySettings: SETTINGS }, "adapter");
  check(undefined, "options");
});

Deno.test("Lock constructor keeps a given uniqueValue, so a lock can be checked and released elsewhere", async () => {
  const { adapter, locker } = setup();
  const holder = await locker.lock("k", 1000).acquire();
  const handle = new Lock({
    adapter,
    key: "k",
    ttl: 1000,
    retrySettings: SETTINGS,
    uniqueValue: holder.uniqueValue,
  });
  assert.equal(handle.uniqueValue, holder.uniqueValue);
  assert.equal(await handle.isLocked(), true);
  await handle.release({ throwOnFail: true });
  assert.equal(await holder.isLocked(), false);
});

Deno.test("Lock.acquire() resolves to the same Lock and stores its unique value", async () => {
  const { memory, locker } = setup();
  const lock = locker.lock("k", 1000);
  assert.equal(await lock.acquire(), lock);
  assert.equal(await memory.isValidLock({ key: "k", uniqueValue: lock.uniqueValue }), true);
});

Deno.test("Lock.acquire() succeeds on the first attempt once the holder released", async () => {
  const { adapter, locker } = setup();
  const first = await locker.lock("k", 1000).acquire();
  await first.release();
  const before = adapter.count("createLock");
  await locker.lock("k", 1000).acquire();
  assert.equal(adapter.count("createLock") - before, 1);
});

Deno.test("Lock.acquire() rejects on an acquired or released Lock: Locks are single-use", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  await assert.rejects(lock.acquire(), loccoError("Lock is already acquired"));
  await lock.release();
  await assert.rejects(lock.acquire(), loccoError("Lock is already acquired"));
});

Deno.test("Lock.acquire() may be called again after a RetryError", async () => {
  const { clock, locker } = setup({ retryTimes: 1, retryDelay: 10 });
  await locker.lock("k", 1000).acquire();
  const lock = locker.lock("k", 1000);
  await assert.rejects(lock.acquire(), RetryError);
  clock.advance(1000);
  assert.equal(await lock.acquire(), lock);
});

Deno.test("Lock.acquire() rejects a second concurrent call on the same Lock at once", async () => {
  const { clock, adapter, locker } = setup({ retryTimes: 1000, retryDelay: 5 });
  await locker.lock("k", 1000).acquire();
  const lock = locker.lock("k", 1000);
  const first = lock.acquire();
  await assert.rejects(lock.acquire(), loccoError("Lock is already being acquired"));
  clock.advance(1000);
  assert.equal(await first, lock);
  assert.equal(
    adapter.calls.filter((c) => c.args.uniqueValue === lock.uniqueValue).length >= 1,
    true,
  );
});

Deno.test("Lock.acquire(cb) resolves to the callback's result and releases", async () => {
  const { memory, locker } = setup();
  let seen: Lock | undefined;
  const result = await locker.lock("k", 1000).acquire((lock) => {
    seen = lock;
    return { success: true };
  });
  assert.deepEqual(result, { success: true });
  assert.ok(seen instanceof Lock);
  assert.equal(await memory.isValidLock({ key: "k", uniqueValue: seen.uniqueValue }), false);
});

Deno.test("Lock.acquire(cb) releases and rethrows when the callback throws", async () => {
  const { memory, locker } = setup();
  const boom = new Error("boom");
  let uniqueValue = "";
  await assert.rejects(
    locker.lock("k", 1000).acquire((lock) => {
      uniqueValue = lock.uniqueValue;
      throw boom;
    }),
    (e) => e === boom,
  );
  assert.equal(await memory.isValidLock({ key: "k", uniqueValue }), false);
});

Deno.test("Lock.acquire() rejects a callback that is not a function, before any I/O", async () => {
  const { adapter, locker } = setup();
  for (const cb of ["x", 5, {}]) {
    await assert.rejects(
      locker.lock("k", 1000).acquire(cb as never),
      (e) => e instanceof ValidationError && e.parameter === "cb",
    );
  }
  assert.equal(adapter.calls.length, 0);
});

Deno.test("Lock.acquire(cb) rejects with LockLostError when the lock was lost during the callback", async () => {
  const { clock, locker } = setup();
  const thief = locker.lock("k", 1000);
  await assert.rejects(
    locker.lock("k", 1000).acquire(async () => {
      clock.advance(1000);
      await thief.acquire();
      return "done";
    }),
    (e) => e instanceof LockLostError && e.cause instanceof LockReleaseError && e.key === "k",
  );
  assert.equal(await thief.isLocked(), true);
});

Deno.test("Lock.acquire(cb) accepts a callback that released the lock itself", async () => {
  const { adapter, locker } = setup();
  const result = await locker.lock("k", 1000).acquire(async (lock) => {
    await lock.release();
    return 7;
  });
  assert.equal(result, 7);
  assert.equal(adapter.count("releaseLock"), 1);
});

Deno.test("Lock.acquire(cb) keeps the callback's error when the release fails too", async () => {
  const { adapter, locker } = setup();
  const boom = new Error("boom");
  adapter.failNext("releaseLock", new Error("connection reset"));
  await assert.rejects(
    locker.lock("k", 1000).acquire(() => Promise.reject(boom)),
    (e) => e === boom,
  );
});

Deno.test("Lock.acquire() rejects with signal.reason and stops trying when aborted", async () => {
  const { adapter, locker } = setup({ retryTimes: 1_000_000, retryDelay: 10_000 });
  await locker.lock("k", 1000).acquire();
  const controller = new AbortController();
  const reason = new Error("shutting down");
  const pending = locker.lock("k", 1000).acquire(undefined, { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 20));
  const attempts = adapter.count("createLock");
  const started = performance.now();
  controller.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  assert.ok(performance.now() - started < 1000, "the 10 s sleep was not cut short");
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(adapter.count("createLock"), attempts);
});

Deno.test("Lock.acquire() with an already aborted signal makes no attempt", async () => {
  const { adapter, locker } = setup();
  const signal = AbortSignal.abort(new Error("no"));
  await assert.rejects(locker.lock("k", 1000).acquire(undefined, { signal }), /no/);
  assert.equal(adapter.count("createLock"), 0);
  await assert.rejects(
    locker.lock("k", 1000).acquire(undefined, { signal: "soon" as never }),
    (e) => e instanceof ValidationError && e.parameter === "options.signal",
  );
});

Deno.test("Lock.acquire() treats AbortSignal.timeout() as an acquire timeout", async () => {
  const { locker } = setup({ retryTimes: 1_000_000, retryDelay: 5 });
  await locker.lock("k", 1000).acquire();
  await assert.rejects(
    locker.lock("k", 1000).acquire(undefined, { signal: AbortSignal.timeout(50) }),
    (e) => e instanceof DOMException && e.name === "TimeoutError",
  );
});

Deno.test("Lock.release() resolves and frees the key", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  assert.equal(await lock.release(), undefined);
  assert.equal(await lock.isLocked(), false);
});

Deno.test("Lock.release() without options resolves when the lock is no longer ours", async () => {
  const { clock, locker } = setup();
  const expired = await locker.lock("a", 100).acquire();
  clock.advance(100);
  await expired.release();
  const stolen = await locker.lock("b", 100).acquire();
  clock.advance(100);
  await locker.lock("b", 1000).acquire();
  await stolen.release();
  await locker.lock("c", 100).release();
  const twice = await locker.lock("d", 100).acquire();
  await twice.release();
  await twice.release();
});

Deno.test("Lock.release({ throwOnFail }) rejects on a second release", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  await lock.release();
  await assert.rejects(
    lock.release({ throwOnFail: true }),
    loccoError("Locco:::Lock:::release Can't release resource twice"),
  );
});

Deno.test("Lock.release({ throwOnFail }) rejects with LockReleaseError when expired, taken or never acquired", async () => {
  const { clock, locker } = setup();
  const expired = await locker.lock("a", 100).acquire();
  clock.advance(100);
  await assert.rejects(
    expired.release({ throwOnFail: true }),
    (e) => e instanceof LockReleaseError && e.message === "Lock is already expired",
  );
  const stolen = await locker.lock("b", 100).acquire();
  clock.advance(100);
  await locker.lock("b", 1000).acquire();
  await assert.rejects(
    stolen.release({ throwOnFail: true }),
    (e) => e instanceof LockReleaseError && e.message === "Lock is already taken",
  );
  await assert.rejects(locker.lock("c", 100).release({ throwOnFail: true }), LockReleaseError);
});

Deno.test("Lock.release() rejects with the backend's error in both modes", async () => {
  const { adapter, locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  const outage = new Error("Connection is closed.");
  adapter.failNext("releaseLock", outage);
  await assert.rejects(lock.release(), (e) => e === outage);
  adapter.failNext("releaseLock", outage);
  await assert.rejects(lock.release({ throwOnFail: true }), (e) => e === outage);
  await lock.release({ throwOnFail: true });
});

Deno.test("Lock.release() after a failed release consults storage again", async () => {
  const { clock, locker } = setup();
  const lock = await locker.lock("k", 100).acquire();
  clock.advance(100);
  await assert.rejects(lock.release({ throwOnFail: true }), LockReleaseError);
  await assert.rejects(lock.release({ throwOnFail: true }), LockReleaseError);
});

Deno.test("Lock.release(null) behaves like release()", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  await lock.release(null);
  assert.equal(await lock.isLocked(), false);
  await assert.rejects(
    lock.release({ throwOnFail: "yes" } as never),
    (e) => e instanceof ValidationError && e.parameter === "options.throwOnFail",
  );
});

Deno.test("Lock.release() rejects while acquire() is in progress", async () => {
  const { clock, locker } = setup({ retryTimes: 1000, retryDelay: 5 });
  await locker.lock("k", 1000).acquire();
  const lock = locker.lock("k", 1000);
  const pending = lock.acquire();
  await assert.rejects(lock.release(), LoccoError);
  clock.advance(1000);
  await pending;
  await lock.release({ throwOnFail: true });
});

Deno.test("Lock.extend() sets the expiry to now + ttl and keeps lock.ttl", async () => {
  const { clock, locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  clock.advance(900);
  await lock.extend(500);
  clock.advance(400);
  assert.equal(await lock.isLocked(), true);
  assert.equal(lock.ttl, 1000);
  await lock.extend(10);
  clock.advance(10);
  assert.equal(await lock.isLocked(), false);
});

Deno.test("Lock.extend() before a successful acquire rejects, before validating ttl", async () => {
  const { locker } = setup();
  const message = "Locco:::Lock:::extend Can't extend a lock before a lock success";
  await assert.rejects(locker.lock("k", 1000).extend(1000), loccoError(message));
  await assert.rejects(locker.lock("k", 1000).extend("x" as never), loccoError(message));
});

Deno.test("Lock.extend() after release rejects", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  await lock.release();
  await assert.rejects(
    lock.extend(1000),
    loccoError("Locco:::Lock:::extend Can't extend a released lock"),
  );
});

Deno.test("Lock.extend() rejects an invalid ttl with ValidationError, 0 included", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  for (const ttl of [1.5, 0, -1, Infinity, NaN, 2 ** 31]) {
    await assert.rejects(
      lock.extend(ttl),
      (e) => e instanceof ValidationError && e.parameter === "ttl",
    );
  }
  assert.equal(await lock.isLocked(), true);
});

Deno.test("Lock.extend() of an expired lock rejects with LockExtendError", async () => {
  const { clock, locker } = setup();
  const lock = await locker.lock("k", 100).acquire();
  clock.advance(100);
  await assert.rejects(lock.extend(1000), LockExtendError);
  assert.equal(await lock.isLocked(), false);
});

Deno.test("Lock.isLocked() is true while held, false after expiry, release, takeover, or before acquire", async () => {
  const { clock, locker } = setup();
  const lock = locker.lock("k", 100);
  assert.equal(await lock.isLocked(), false);
  await lock.acquire();
  assert.equal(await lock.isLocked(), true);
  clock.advance(100);
  assert.equal(await lock.isLocked(), false);
  const other = await locker.lock("k", 1000).acquire();
  assert.equal(await lock.isLocked(), false);
  await other.release();
  assert.equal(await other.isLocked(), false);
});

Deno.test("Lock.isLocked() rejects with the backend's error", async () => {
  const { adapter, locker } = setup();
  const outage = new Error("down");
  adapter.failNext("isValidLock", outage);
  await assert.rejects(locker.lock("k", 1000).isLocked(), (e) => e === outage);
});

Deno.test("Lock.setRetrySettings() returns a new Lock synchronously, the original unchanged", () => {
  const { locker } = setup();
  const lock = locker.lock("k", 1000);
  const derived = lock.setRetrySettings({ retryTimes: 50, retryDelay: 100 });
  assert.ok(derived instanceof Lock);
  assert.notEqual(derived, lock);
  assert.equal(derived.key, "k");
  assert.equal(derived.ttl, 1000);
  assert.deepEqual(derived.retrySettings, { retryTimes: 50, retryDelay: 100 });
  assert.deepEqual(lock.retrySettings, SETTINGS);
});

Deno.test("Lock.setRetrySettings() gives the new Lock its own identity, so neither releases the other", async () => {
  const { locker } = setup();
  const original = locker.lock("k", 1000);
  const derived = original.setRetrySettings({ retryTimes: 5, retryDelay: 10 });
  assert.notEqual(derived.uniqueValue, original.uniqueValue);
  await derived.acquire();
  assert.equal(await original.isLocked(), false);
  await assert.rejects(original.release({ throwOnFail: true }), LockReleaseError);
  assert.equal(await derived.isLocked(), true);
});

Deno.test("Lock.setRetrySettings() throws ValidationError for invalid or missing settings", () => {
  const lock = setup().locker.lock("k", 1000);
  assert.throws(() => lock.setRetrySettings(undefined as never), ValidationError);
  assert.throws(() => lock.setRetrySettings({ retryDelay: 1.5, retryTimes: 3 }), ValidationError);
});

Deno.test("Lock.setRetrySettings() throws after a successful acquire", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  assert.throws(
    () => lock.setRetrySettings(SETTINGS),
    loccoError("Locco:::setRetrySettings Can't change retry settings after lock success"),
  );
});

Deno.test("Lock[Symbol.asyncDispose]() releases a held lock and does nothing otherwise", async () => {
  const { adapter, locker } = setup();
  const lock = await locker.lock("k", 1000).acquire();
  await lock[Symbol.asyncDispose]();
  assert.equal(await lock.isLocked(), false);
  const releases = adapter.count("releaseLock");
  await lock[Symbol.asyncDispose]();
  await locker.lock("other", 1000)[Symbol.asyncDispose]();
  assert.equal(adapter.count("releaseLock"), releases);
});

Deno.test("Locker.lock() and new Lock() throw ValidationError for a key or uniqueValue with an unpaired surrogate", () => {
  const adapter = new InMemoryAdapter();
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  for (const bad of ["k\uD800", "k\uDC00", "\uDE00\uD83D", "\uD83D"]) {
    assert.throws(
      () => locker.lock(bad, 1000),
      (e) => e instanceof ValidationError && e.parameter === "key",
    );
    assert.throws(
      () => new Lock({ adapter, key: bad, ttl: 1000, retrySettings: SETTINGS }),
      (e) => e instanceof ValidationError && e.parameter === "key",
    );
    assert.throws(
      () => new Lock({ adapter, key: "k", ttl: 1000, retrySettings: SETTINGS, uniqueValue: bad }),
      (e) => e instanceof ValidationError && e.parameter === "uniqueValue",
    );
  }
  assert.equal(locker.lock("k\uD83D\uDE00", 1000).key, "k\uD83D\uDE00");
});

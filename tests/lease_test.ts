// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import {
  checkFence,
  InMemoryAdapter,
  LoccoError,
  Locker,
  LockExtendError,
  LockLostError,
  StaleFenceError,
  ValidationError,
} from "@kontsedal/locco";
import { delay, ManualClock, RecordingAdapter } from "./_helpers.ts";

const SETTINGS = { retryTimes: 3, retryDelay: 10 };

function setup() {
  const clock = new ManualClock();
  const memory = new InMemoryAdapter({ now: clock.now });
  const adapter = new RecordingAdapter(memory);
  return { clock, memory, adapter, locker: new Locker({ adapter, retrySettings: SETTINGS }) };
}

function waitForAbort(signal: AbortSignal, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve(signal.reason);
    const timer = setTimeout(() => reject(new Error("signal did not abort")), timeoutMs);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(signal.reason);
    }, { once: true });
  });
}

function within<T>(promise: Promise<T>, timeoutMs = 2000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("checkFence() accepts only tokens newer than the latest seen", () => {
  checkFence(undefined, 1);
  checkFence(null, 1);
  checkFence(5, 6);
  assert.throws(
    () => checkFence(5, 5),
    (e) => e instanceof StaleFenceError && e.fence === 5 && e.latest === 5,
  );
  assert.throws(() => checkFence(5, 4), StaleFenceError);
  assert.throws(
    () => checkFence(5, 4.5),
    (e) => e instanceof ValidationError && e.parameter === "fence",
  );
  assert.throws(
    () => checkFence("5" as never, 6),
    (e) => e instanceof ValidationError && e.parameter === "latest",
  );
  assert.throws(() => checkFence(undefined, undefined as never), ValidationError);
});

Deno.test("Lock.fence is undefined before acquire and grows with every acquisition of the key", async () => {
  const { clock, locker } = setup();
  const first = locker.lock("k", 100);
  assert.equal(first.fence, undefined);
  await first.acquire();
  const fences = [first.fence!];
  clock.advance(100);
  for (let i = 0; i < 50; i++) {
    const lock = await locker.lock("k", 100).acquire();
    fences.push(lock.fence!);
    if (i % 2 === 0) await lock.release();
    else clock.advance(100);
  }
  for (let i = 1; i < fences.length; i++) assert.ok(fences[i]! > fences[i - 1]!, fences.join(","));
});

Deno.test("Lock.fence stays undefined for an adapter that issues no token", async () => {
  const memory = new InMemoryAdapter();
  const adapter = {
    createLock: async (lease: Parameters<InMemoryAdapter["createLock"]>[0]) => {
      await memory.createLock(lease);
    },
    releaseLock: memory.releaseLock.bind(memory),
    extendLock: memory.extendLock.bind(memory),
    isValidLock: memory.isValidLock.bind(memory),
  };
  const lock = await new Locker({ adapter, retrySettings: SETTINGS }).lock("k", 1000).acquire();
  assert.equal(lock.fence, undefined);
  await lock.release();
});

Deno.test("a holder paused past its ttl has its late write rejected by checkFence()", async () => {
  const { clock, locker } = setup();
  const store = { value: "initial", fence: undefined as number | undefined };
  const write = (value: string, fence: number) => {
    checkFence(store.fence, fence);
    store.value = value;
    store.fence = fence;
  };
  const paused = await locker.lock("doc", 1000).acquire();
  clock.advance(1500);
  await locker.lock("doc", 1000).acquire((lock) => write("new holder", lock.fence!));
  assert.throws(() => write("late holder", paused.fence!), StaleFenceError);
  assert.equal(store.value, "new holder");
});

Deno.test("Lock.remainingTtl() and expiresAt follow acquire, extend and release on the monotonic clock", async () => {
  const { locker } = setup();
  const lock = locker.lock("k", 10_000);
  assert.equal(lock.remainingTtl(), 0);
  assert.equal(lock.expiresAt, undefined);
  const before = Date.now();
  await lock.acquire();
  const drift = Math.ceil(10_000 * 0.01) + 2;
  assert.ok(
    lock.remainingTtl() <= 10_000 - drift && lock.remainingTtl() > 9000,
    String(lock.remainingTtl()),
  );
  assert.ok(lock.expiresAt! <= Date.now() + 10_000 - drift + 1 && lock.expiresAt! >= before + 9000);
  await lock.extend(60_000);
  assert.ok(lock.remainingTtl() > 50_000);
  await lock.release();
  assert.equal(lock.remainingTtl(), 0);
  assert.equal(lock.expiresAt, undefined);
});

Deno.test("Lock.signal aborts with LockLostError when the lease runs out on the local clock, before the TTL", async () => {
  const memory = new InMemoryAdapter();
  const locker = new Locker({ adapter: memory, retrySettings: SETTINGS });
  const lock = await locker.lock("k", 300).acquire();
  const deadline = lock.expiresAt!;
  const reason = await waitForAbort(lock.signal);
  assert.ok(reason instanceof LockLostError, String(reason));
  assert.equal(reason.key, "k");
  assert.ok(deadline <= Date.now(), "aborted before its computed deadline");
  assert.equal(lock.remainingTtl(), 0);
});

Deno.test("Lock.signal aborts with a LoccoError on release, and is not aborted while held", async () => {
  const { locker } = setup();
  const lock = await locker.lock("k", 60_000).acquire();
  const signal = lock.signal;
  assert.equal(signal.aborted, false);
  await lock.release();
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof LoccoError && !(signal.reason instanceof LockLostError));
});

Deno.test("Lock.signal aborts with LockLostError when extend() finds the lock gone", async () => {
  const { memory, locker } = setup();
  const lock = await locker.lock("k", 60_000).acquire();
  await memory.releaseLock({ key: "k", uniqueValue: lock.uniqueValue });
  await assert.rejects(lock.extend(1000), LockExtendError);
  assert.ok(lock.signal.reason instanceof LockLostError);
  assert.ok(lock.signal.reason.cause instanceof LockExtendError);
});

Deno.test("Lock.acquire({ autoExtend }) keeps a 200 ms lock through 1.2 s of work and stops on release", async () => {
  const memory = new InMemoryAdapter();
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  const result = await locker.lock("k", 200).acquire(async (lock) => {
    for (let i = 0; i < 6; i++) {
      await delay(200);
      assert.equal(await memory.isValidLock({ key: "k", uniqueValue: lock.uniqueValue }), true);
    }
    assert.equal(lock.signal.aborted, false);
    return "done";
  }, { autoExtend: true });
  assert.equal(result, "done");
  const extends_ = adapter.count("extendLock");
  assert.ok(extends_ >= 5, `only ${extends_} extensions`);
  await delay(250);
  assert.equal(adapter.count("extendLock"), extends_, "extended after release");
});

Deno.test("Lock.acquire({ autoExtend: { maxHoldTime } }) stops extending at the cap and reports the loss", async () => {
  const memory = new InMemoryAdapter();
  const locker = new Locker({ adapter: memory, retrySettings: SETTINGS });
  await assert.rejects(
    locker.lock("k", 150).acquire(async (lock) => {
      const reason = await waitForAbort(lock.signal);
      assert.ok(reason instanceof LockLostError);
    }, { autoExtend: { maxHoldTime: 400 } }),
    LockLostError,
  );
  await locker.lock("k", 150).acquire();
});

Deno.test("Lock.acquire(cb, { autoExtend }) rejects with LockLostError when the key is deleted under it", async () => {
  const memory = new InMemoryAdapter();
  const locker = new Locker({ adapter: memory, retrySettings: SETTINGS });
  await assert.rejects(
    locker.lock("k", 150).acquire(async (lock) => {
      await memory.releaseLock({ key: "k", uniqueValue: lock.uniqueValue });
      const reason = await waitForAbort(lock.signal, 2000);
      assert.ok(reason instanceof LockLostError);
      return "finished without the lock";
    }, { autoExtend: true }),
    LockLostError,
  );
});

Deno.test("Lock.acquire() validates autoExtend", async () => {
  const { locker } = setup();
  for (
    const autoExtend of ["yes", 1, { maxHoldTime: 0 }, { maxHoldTime: 1.5 }, {
      maxHoldTime: Infinity,
    }]
  ) {
    await assert.rejects(
      locker.lock("k", 1000).acquire(undefined, { autoExtend: autoExtend as never }),
      (e) => e instanceof ValidationError && e.parameter!.startsWith("options.autoExtend"),
    );
  }
});

Deno.test("Lock.remainingTtl() never exceeds the shortest lease the store may hold when extend() overlaps an auto-extension", async () => {
  const memory = new InMemoryAdapter();
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  const renewal = adapter.hold("extendLock", "reply");
  const manual = adapter.hold("extendLock", "reply");
  const lock = await locker.lock("k", 900).acquire(undefined, { autoExtend: true });
  const signal = lock.signal;
  await within(renewal.reached);
  const extended = lock.extend(60);
  await within(manual.reached);
  manual.resume();
  await extended;
  renewal.resume();
  await delay(10);
  assert.ok(lock.remainingTtl() <= 60, `remainingTtl() ${lock.remainingTtl()} after extend(60)`);
  const reason = await waitForAbort(signal, 500);
  assert.ok(reason instanceof LockLostError, String(reason));
  const next = await locker.lock("k", 1000).acquire();
  await next.release();
  await lock.release();
});

Deno.test("Lock.acquire(cb, { autoExtend }) resolves when an auto-extension in flight at release() is applied after it", async () => {
  const memory = new InMemoryAdapter();
  const adapter = new RecordingAdapter(memory);
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  const renewal = adapter.hold("extendLock", "request");
  const release = adapter.hold("releaseLock", "reply");
  const done = locker.lock("k", 300).acquire(async () => {
    await within(renewal.reached);
    return "done";
  }, { autoExtend: true });
  await within(release.reached);
  renewal.resume();
  await delay(10);
  release.resume();
  assert.equal(await done, "done");
  assert.equal(await memory.isValidLock({ key: "k", uniqueValue: "-" }), false);
  await locker.lock("k", 300).acquire((lock) => lock.release());
});

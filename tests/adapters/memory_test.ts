// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type ILockAdapter,
  LockCreateError,
  Locker,
  LockExtendError,
  type LockLease,
  LockReleaseError,
  RetryError,
  ValidationError,
} from "@kontsedal/locco";
import { InMemoryAdapter } from "@kontsedal/locco/memory";
import { testAdapterContract } from "../_adapter_contract.ts";
import { testReadWriteContract } from "../_read_write_contract.ts";
import { testSemaphoreContract } from "../_semaphore_contract.ts";
import { ManualClock, runScript } from "../_helpers.ts";

testAdapterContract("InMemoryAdapter", () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({ connect: () => adapter, close: () => Promise.resolve() });
});

// Locks take a shortcut on InMemoryAdapter itself; through a wrapper they use
// its public methods, `waitForUnlock` included, which must keep the contract.
testAdapterContract("InMemoryAdapter through its public methods", () => {
  const adapter = new InMemoryAdapter();
  const wrapper: ILockAdapter = {
    createLock: (lease) => adapter.createLock(lease),
    releaseLock: (identity) => adapter.releaseLock(identity),
    extendLock: (lease) => adapter.extendLock(lease),
    isValidLock: (identity) => adapter.isValidLock(identity),
    waitForUnlock: (identity, maxWaitMs, signal) =>
      adapter.waitForUnlock(identity, maxWaitMs, signal),
    inspectLock: (key) => adapter.inspectLock(key),
  };
  return Promise.resolve({ connect: () => wrapper, close: () => Promise.resolve() });
});

// A semaphore of one holder is a mutex: its slots pass the whole lock contract.
testAdapterContract("InMemoryAdapter semaphore(1)", () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({ connect: () => adapter.semaphore(1), close: () => Promise.resolve() });
});

testSemaphoreContract("InMemoryAdapter", () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({ connect: () => adapter, close: () => Promise.resolve() });
}, { notifies: true });

// The write side of a read-write lock is a mutex: it passes the whole lock contract.
testAdapterContract('InMemoryAdapter readWrite("write")', () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({
    connect: () => adapter.readWrite("write"),
    close: () => Promise.resolve(),
  });
});

testReadWriteContract("InMemoryAdapter", () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({ connect: () => adapter, close: () => Promise.resolve() });
});

Deno.test("InMemoryAdapter instances do not share locks", async () => {
  const a = new InMemoryAdapter();
  const b = new InMemoryAdapter();
  await a.createLock({ key: "k", uniqueValue: "1", ttl: 1000 });
  await b.createLock({ key: "k", uniqueValue: "2", ttl: 1000 });
  assert.equal(await a.isValidLock({ key: "k", uniqueValue: "1" }), true);
  assert.equal(await b.isValidLock({ key: "k", uniqueValue: "2" }), true);
});

Deno.test("InMemoryAdapter applies one rule at the exact expiry instant: expired", async () => {
  const clock = new ManualClock();
  const adapter = new InMemoryAdapter({ now: clock.now });
  const id = { key: "k", uniqueValue: "a" };
  await adapter.createLock({ ...id, ttl: 100 });
  clock.advance(99);
  assert.equal(await adapter.isValidLock(id), true);
  clock.advance(1);
  assert.equal(await adapter.isValidLock(id), false);
  await assert.rejects(adapter.extendLock({ ...id, ttl: 100 }), LockExtendError);
  await assert.rejects(
    adapter.releaseLock(id),
    (e) => e instanceof LockReleaseError && e.message === "Lock is already expired",
  );
  await adapter.createLock({ key: "k", uniqueValue: "b", ttl: 100 });
});

Deno.test("InMemoryAdapter expires locks on its clock without any real wait", async () => {
  const clock = new ManualClock();
  const adapter = new InMemoryAdapter({ now: clock.now });
  await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 2_147_483_647 });
  clock.advance(2_147_483_646);
  await assert.rejects(
    adapter.createLock({ key: "k", uniqueValue: "b", ttl: 10 }),
    LockCreateError,
  );
  clock.advance(1);
  await adapter.createLock({ key: "k", uniqueValue: "b", ttl: 10 });
});

Deno.test("InMemoryAdapter reports 'taken' for another live owner", async () => {
  const adapter = new InMemoryAdapter();
  await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
  await assert.rejects(
    adapter.releaseLock({ key: "k", uniqueValue: "b" }),
    (e) => e instanceof LockReleaseError && e.message === "Lock is already taken",
  );
  await assert.rejects(
    adapter.extendLock({ key: "k", uniqueValue: "b", ttl: 10 }),
    (e) => e instanceof LockExtendError && e.message === "Lock is already taken",
  );
});

Deno.test("InMemoryAdapter keeps live locks through sweeps of expired ones", async () => {
  const clock = new ManualClock();
  const adapter = new InMemoryAdapter({ now: clock.now });
  for (let i = 0; i < 10_000; i++) {
    await adapter.createLock({ key: `k${i}`, uniqueValue: "a", ttl: 10 });
    clock.advance(10);
  }
  const live = { key: "live", uniqueValue: "a" };
  await adapter.createLock({ ...live, ttl: 1_000_000 });
  for (let i = 0; i < 1000; i++) {
    await adapter.createLock({ key: `again${i}`, uniqueValue: "a", ttl: 10 });
    clock.advance(10);
  }
  assert.equal(await adapter.isValidLock(live), true);
  await assert.rejects(adapter.createLock({ ...live, ttl: 1000 }), LockCreateError);
});

Deno.test("InMemoryAdapter constructor rejects a clock that is not a function", () => {
  assert.throws(
    () => new InMemoryAdapter({ now: 5 as never }),
    (e) => e instanceof ValidationError && e.parameter === "options.now",
  );
  assert.throws(() => new InMemoryAdapter(null as never), ValidationError);
});

Deno.test("InMemoryAdapter never keeps the process alive, even for a lock still held", async () => {
  const script = fileURLToPath(new URL("../fixtures/hold_and_exit.ts", import.meta.url));
  const result = await runScript(script, { timeoutMs: 60_000 });
  assert.equal(
    result.signal,
    null,
    `killed after 60 s: a timer kept the process alive\n${result.stderr}`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /done/);
});

Deno.test("Locks call the createLock of a subclass of InMemoryAdapter that overrides it", async () => {
  const attempts: string[] = [];
  class CountingAdapter extends InMemoryAdapter {
    override createLock(lease: LockLease) {
      attempts.push(lease.uniqueValue);
      return super.createLock(lease);
    }
  }
  const locker = new Locker({
    adapter: new CountingAdapter(),
    retrySettings: { retryDelay: 1, retryTimes: 3 },
  });
  const holder = await locker.lock("k", 60_000).acquire();
  const waiter = locker.lock("k", 60_000);
  await assert.rejects(waiter.acquire(), RetryError);
  assert.equal(await waiter.tryAcquire(), undefined);
  assert.deepEqual(attempts, [holder.uniqueValue, ...Array(4).fill(waiter.uniqueValue)]);
  await holder.release();
});

Deno.test("InMemoryAdapter: a Lock that gives up says which key was held, in its cause", async () => {
  const locker = new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: { retryDelay: 1, retryTimes: 2 },
  });
  const holder = await locker.lock("report:1", 60_000).acquire();
  const error = await locker.lock("report:1", 60_000).acquire().then(
    () => assert.fail("acquired a held key"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RetryError);
  assert.equal(error.attempts, 2);
  assert.ok(error.cause instanceof LockCreateError);
  assert.equal((error.cause as LockCreateError).message, 'Key "report:1" is already locked');
  await holder.release();
});

Deno.test("InMemoryAdapter: waiters that gave up on long waits do not delay a short wait", async () => {
  const adapter = new InMemoryAdapter();
  const locker = new Locker({ adapter, retrySettings: { retryDelay: 60_000, retryTimes: 2 } });
  const short = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 2 } });
  const holder = await locker.lock("busy", 60_000).acquire();
  const other = await locker.lock("other", 60_000).acquire();
  // A wait of 200 ms on a held key, then 200 waits of a minute on another,
  // 150 of which are abandoned while the short one waits.
  const startedAt = performance.now();
  const giveUp = assert.rejects(short.lock("other", 60_000).acquire(), RetryError).then(() =>
    performance.now() - startedAt
  );
  const aborts = Array.from({ length: 200 }, () => new AbortController());
  const waiters = aborts.map((abort) =>
    locker.lock("busy", 60_000).acquire(undefined, { signal: abort.signal })
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (const abort of aborts.slice(0, 150)) abort.abort();
  const abandoned = await Promise.allSettled(waiters.slice(0, 150));
  assert.ok(abandoned.every((result) => result.status === "rejected"));

  const waited = await giveUp;
  assert.ok(waited >= 195 && waited < 5_000, `gave up after ${waited} ms`);

  // The 50 waiters left are served, in order, by releases.
  const order: number[] = [];
  await holder.release();
  await Promise.all(
    waiters.slice(150).map(async (acquiring, index) => {
      const lock = await acquiring;
      order.push(index);
      await lock.release();
    }),
  );
  assert.deepEqual(order, Array.from({ length: 50 }, (_, index) => index));
  await other.release();
});

// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  LockCreateError,
  LockExtendError,
  LockReleaseError,
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

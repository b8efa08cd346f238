// Copyright 2026 the locco authors. MIT license.
// Property-based tests (fast-check) of the primitives beyond the plain lock:
// Lock.tryAcquire(), Locker.inspect(), Locker.semaphore(), Locker.readWrite()
// and multi-key Locker.lock(), with random and hostile arguments, on adapters
// with and without the optional methods, in memory and on Redis. Synchronous methods may only throw a
// locco error, async ones only reject with one (never throw), and whatever
// succeeded is released again.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ILockAdapter,
  InMemoryAdapter,
  isLoccoError,
  type Lock,
  Locker,
} from "@kontsedal/locco";
import { Redis } from "ioredis";
import { IoRedisAdapter } from "@kontsedal/locco/redis";
import { RecordingAdapter } from "./_helpers.ts";
import { assertRedisReachable, REDIS_URL } from "./_redis_server.ts";

const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything(),
  fc.constantFrom<unknown>(
    NaN,
    Infinity,
    -1,
    0,
    0.5,
    2 ** 31,
    "",
    "\ud800",
    "$gt",
    "__proto__",
    [],
    [""],
    ["a", 1],
    ["a", "\udc00"],
    Symbol("hostile"),
    10n,
    () => {},
  ),
);

const key = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), hostile);
const keys = fc.oneof(
  fc.array(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 4 }),
  hostile,
);
const ttl = fc.oneof(fc.integer({ min: 1, max: 10_000 }), hostile);
const limit = fc.oneof(fc.integer({ min: 1, max: 4 }), hostile);
const options = fc.oneof(
  fc.constant(undefined),
  fc.record({ autoExtend: fc.oneof(fc.boolean(), hostile) }, { requiredKeys: [] }),
  hostile,
);

function allowed(error: unknown, what: string): void {
  assert.ok(isLoccoError(error), `${what}: not a locco error: ${String(error)}`);
}

function sync<T>(what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    allowed(error, what);
    return undefined;
  }
}

async function later<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  let promise: Promise<T> | undefined;
  assert.doesNotThrow(() => void (promise = fn()), `${what} threw synchronously`);
  try {
    return await promise!;
  } catch (error) {
    allowed(error, what);
    return undefined;
  }
}

// Quietly: a fuzzed ttl of a few ms may have expired already.
async function release(lock: Lock | undefined): Promise<void> {
  if (lock !== undefined) await lock.release();
}

/** Checks the primitives on adapters from `make` with `numRuns` random argument sets. */
async function fuzzPrimitives(make: () => ILockAdapter, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(key, keys, ttl, limit, options, async (k, ks, t, l, o) => {
      const locker = new Locker({
        adapter: make(),
        retrySettings: { retryDelay: 1, retryTimes: 2 },
      });
      const multi = sync("lock(keys)", () => locker.lock(ks as string[], t as number));
      await release(multi && await later("tryAcquire", () => multi.tryAcquire(o as never)));
      const permit = sync(
        "semaphore",
        () => locker.semaphore(k as string, l as number, t as number),
      );
      await release(
        permit && await later("semaphore acquire", () => permit.tryAcquire(o as never)),
      );
      const rw = sync("readWrite", () => locker.readWrite(k as string, t as number));
      await release(rw && await later("read", () => rw.read().tryAcquire(o as never)));
      await release(rw && await later("write", () => rw.write().tryAcquire(o as never)));
      await later("inspect", () => locker.inspect(k as string));
    }),
    { numRuns },
  );
}

for (
  const [name, make] of [
    ["InMemoryAdapter", () => new InMemoryAdapter()],
    ["an adapter without the optional methods", () => new RecordingAdapter(new InMemoryAdapter())],
  ] as [string, () => ILockAdapter][]
) {
  Deno.test(`Primitives take hostile arguments with locco errors only (${name})`, async () => {
    await fuzzPrimitives(make, 300);
  });
}

Deno.test("Primitives take hostile arguments with locco errors only (IoRedisAdapter)", async () => {
  await assertRedisReachable();
  const client = new Redis(REDIS_URL);
  const adapter = new IoRedisAdapter({ client, prefix: "locco-fuzz:" });
  try {
    await fuzzPrimitives(() => adapter, 300);
  } finally {
    await adapter.close();
    await client.quit();
  }
});

// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { InMemoryAdapter, Lock, Locker, ValidationError } from "@kontsedal/locco";

const SETTINGS = { retryTimes: 10, retryDelay: 200 };

function validationError(parameter: string, message?: string | RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ValidationError, `expected ValidationError, got ${error}`);
    assert.equal(error.parameter, parameter);
    if (typeof message === "string") assert.equal(error.message, message);
    if (message instanceof RegExp) assert.match(error.message, message);
    return true;
  };
}

Deno.test("Locker constructor accepts an adapter and valid retry settings", () => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  assert.ok(locker.lock("k", 1000) instanceof Lock);
});

Deno.test("Locker constructor rejects a missing, null or non-object adapter", async (t) => {
  for (const adapter of [undefined, null, "redis", 5, () => {}]) {
    await t.step(String(adapter), () => {
      assert.throws(
        () => new Locker({ adapter, retrySettings: SETTINGS } as never),
        validationError("adapter", "Adapter is required"),
      );
    });
  }
});

Deno.test("Locker constructor rejects an adapter missing a method, isValidLock included", async (t) => {
  const full = {
    createLock: () => Promise.resolve(),
    releaseLock: () => Promise.resolve(),
    extendLock: () => Promise.resolve(),
    isValidLock: () => Promise.resolve(true),
  };
  for (const method of Object.keys(full)) {
    await t.step(method, () => {
      const partial = { ...full, [method]: undefined };
      assert.throws(
        () => new Locker({ adapter: partial, retrySettings: SETTINGS } as never),
        validationError("adapter", "Adapter is invalid"),
      );
      const notFunction = { ...full, [method]: "yes" };
      assert.throws(
        () => new Locker({ adapter: notFunction, retrySettings: SETTINGS } as never),
        validationError("adapter", "Adapter is invalid"),
      );
    });
  }
  assert.ok(new Locker({ adapter: full, retrySettings: SETTINGS }));
});

Deno.test("Locker constructor rejects missing options or retry settings with ValidationError", () => {
  assert.throws(() => new (Locker as unknown as new () => Locker)(), validationError("options"));
  assert.throws(() => new Locker(null as never), validationError("options"));
  assert.throws(
    () => new Locker({ adapter: new InMemoryAdapter() } as never),
    validationError("retrySettings"),
  );
  assert.throws(
    () => new Locker({ adapter: new InMemoryAdapter(), retrySettings: null } as never),
    validationError("retrySettings"),
  );
});

Deno.test("Locker constructor checks the adapter before the retry settings", () => {
  assert.throws(
    () => new Locker({ adapter: null, retrySettings: { retryDelay: "x" } } as never),
    validationError("adapter"),
  );
});

Deno.test("Locker keeps a copy of the retry settings, so later mutation has no effect", async () => {
  const settings = { retryTimes: 1, retryDelay: 10 };
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: settings });
  settings.retryDelay = NaN;
  settings.retryTimes = -5;
  const lock = locker.lock("k", 1000);
  assert.deepEqual(lock.retrySettings, { retryTimes: 1, retryDelay: 10 });
  assert.ok(Object.isFrozen(lock.retrySettings));
  await lock.acquire();
  await lock.release();
});

Deno.test("Locker.lock() returns a Lock synchronously and touches no storage", async () => {
  const adapter = new InMemoryAdapter();
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  const lock = locker.lock("k", 1000);
  assert.ok(lock instanceof Lock);
  assert.equal(lock.key, "k");
  assert.equal(lock.ttl, 1000);
  await adapter.createLock({ key: "k", uniqueValue: "other", ttl: 1000 });
});

Deno.test("Locker.lock() rejects a ttl that is not an integer from 1 to 2147483647", async (t) => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  for (const ttl of ["1000", 100.2, NaN, undefined, null, true]) {
    await t.step(`non-integer ${String(ttl)}`, () => {
      assert.throws(
        () => locker.lock("k", ttl as never),
        validationError("ttl", "Ttl should be a positive integer"),
      );
    });
  }
  for (const ttl of [0, -1, Infinity, -Infinity, 2 ** 31, 2 ** 40]) {
    await t.step(`out of range ${ttl}`, () => {
      assert.throws(
        () => locker.lock("k", ttl),
        validationError("ttl", /^Ttl should be a positive integer/),
      );
    });
  }
  assert.equal(locker.lock("k", 2_147_483_647).ttl, 2_147_483_647);
  assert.equal(locker.lock("k", 1).ttl, 1);
});

Deno.test("Locker.lock() rejects a key that is not a non-empty string or an array of them, naming the key", async (t) => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  for (const key of ["", 1, undefined, null, new String("a"), { $gt: "" }]) {
    await t.step(String(key), () => {
      assert.throws(
        () => locker.lock(key as never, 1000),
        validationError("key", /^Key should be a string/),
      );
    });
  }
  assert.equal(locker.lock(" ", 1000).key, " ");
  // An array of one key is that key's lock.
  assert.deepEqual(locker.lock(["a"], 1000).keys, ["a"]);
  assert.equal(locker.lock(["a"], 1000).key, "a");
});

Deno.test("Locker.lock() checks the ttl before the key", () => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  assert.throws(() => locker.lock("", "x" as never), validationError("ttl"));
});

Deno.test("Locker.lock() gives every Lock its own 32-hex unique value", () => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  const values = new Set(Array.from({ length: 1000 }, () => locker.lock("k", 1000).uniqueValue));
  assert.equal(values.size, 1000);
  for (const value of values) assert.match(value, /^[0-9a-f]{32}$/);
});

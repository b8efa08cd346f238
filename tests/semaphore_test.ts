// Copyright 2026 the locco authors. MIT license.
// Locker.semaphore() itself: validation, and adapters without semaphores. The
// semaphore contract (tests/_semaphore_contract.ts) runs on every adapter.

import assert from "node:assert/strict";
import { InMemoryAdapter, Lock, Locker, UnsupportedError, ValidationError } from "@kontsedal/locco";
import { ManualClock, RecordingAdapter } from "./_helpers.ts";

const SETTINGS = { retryTimes: 3, retryDelay: 10 };

Deno.test("Locker.semaphore() validates ttl, key and limit, in that order, naming each", () => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  const rejects = (call: () => unknown, parameter: string) =>
    assert.throws(call, (e) => e instanceof ValidationError && e.parameter === parameter);
  for (const limit of [0, -1, 1.5, NaN, Infinity, 2 ** 31, "3", null, undefined]) {
    rejects(() => locker.semaphore("k", limit as number, 1000), "limit");
  }
  rejects(() => locker.semaphore("", 0, 1000), "key");
  rejects(() => locker.semaphore("", 0, 0), "ttl");
  assert.ok(locker.semaphore("k", 2147483647, 1000) instanceof Lock);
  assert.throws(() => new InMemoryAdapter().semaphore(0), ValidationError);
});

Deno.test("Locker.semaphore() throws UnsupportedError naming semaphore when the adapter lacks it", () => {
  const adapter = new RecordingAdapter(new InMemoryAdapter());
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  assert.throws(
    () => locker.semaphore("k", 2, 1000),
    (e) => e instanceof UnsupportedError && e.method === "semaphore",
  );
  assert.equal(adapter.calls.length, 0);
});

Deno.test("Locker.semaphore() permits count only unexpired holders, on the adapter's clock", async () => {
  const clock = new ManualClock();
  const locker = new Locker({
    adapter: new InMemoryAdapter({ now: clock.now }),
    retrySettings: SETTINGS,
  });
  const a = await locker.semaphore("k", 2, 100).acquire();
  clock.advance(50);
  const b = await locker.semaphore("k", 2, 100).acquire();
  assert.equal(await locker.semaphore("k", 2, 100).tryAcquire(), undefined);
  assert.equal(
    await locker.semaphore("k", 2, 100).setRetrySettings(SETTINGS).tryAcquire(),
    undefined,
  );
  clock.advance(50); // a expired, b has 50 ms left
  assert.equal(await a.isLocked(), false);
  const c = await locker.semaphore("k", 2, 100).acquire();
  assert.ok(c.fence! > b.fence! && b.fence! > a.fence!);
  assert.deepEqual(await locker.semaphore("k", 2, 100).tryAcquire(), undefined);
  await b.release({ throwOnFail: true });
  await c.release({ throwOnFail: true });
});

// Copyright 2026 the locco authors. MIT license.
// Locker.readWrite() and ReadWriteLock themselves: validation, adapters
// without read-write locks, and the writer preference on a controlled clock.
// The read-write contract (tests/_read_write_contract.ts) runs per adapter.

import assert from "node:assert/strict";
import {
  InMemoryAdapter,
  Lock,
  Locker,
  ReadWriteLock,
  UnsupportedError,
  ValidationError,
} from "@kontsedal/locco";
import { ManualClock, RecordingAdapter } from "./_helpers.ts";

const SETTINGS = { retryTimes: 3, retryDelay: 10 };

Deno.test("Locker.readWrite() validates ttl then key, and gives new Locks on each side", () => {
  const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings: SETTINGS });
  assert.throws(
    () => locker.readWrite("", 0),
    (e) => e instanceof ValidationError && e.parameter === "ttl",
  );
  assert.throws(
    () => locker.readWrite("", 1000),
    (e) => e instanceof ValidationError && e.parameter === "key",
  );
  const rw = locker.readWrite("k", 1000);
  assert.ok(rw instanceof ReadWriteLock);
  assert.ok(rw.read() instanceof Lock && rw.write() instanceof Lock);
  assert.notEqual(rw.read(), rw.read());
  assert.equal(rw.read().key, "k");
  assert.throws(() => new InMemoryAdapter().readWrite("both" as never), ValidationError);
});

Deno.test("Locker.readWrite() throws UnsupportedError naming readWrite when the adapter lacks it", () => {
  const adapter = new RecordingAdapter(new InMemoryAdapter());
  const locker = new Locker({ adapter, retrySettings: SETTINGS });
  assert.throws(
    () => locker.readWrite("k", 1000),
    (e) => e instanceof UnsupportedError && e.method === "readWrite",
  );
  assert.equal(adapter.calls.length, 0);
});

Deno.test("ReadWriteLock sides expire on the adapter's clock, readers one by one", async () => {
  const clock = new ManualClock();
  const locker = new Locker({
    adapter: new InMemoryAdapter({ now: clock.now }),
    retrySettings: SETTINGS,
  });
  const rw = locker.readWrite("k", 100);
  const early = await rw.read().acquire();
  clock.advance(60);
  const late = await rw.read().acquire();
  clock.advance(40); // early expired, late has 60 ms left
  assert.equal(await early.isLocked(), false);
  assert.equal(await late.isLocked(), true);
  assert.equal(await rw.write().tryAcquire(), undefined);
  clock.advance(60);
  const writer = await rw.write().tryAcquire();
  assert.ok(writer);
  assert.ok(writer.fence! > late.fence! && late.fence! > early.fence!);
  await writer.release({ throwOnFail: true });
});

// Copyright 2026 the locco authors. MIT license.
// What every adapter with read-write locks must do beyond the lock contract
// (which their write side runs as well). Real time, generous margins.

import assert from "node:assert/strict";
import { type ILockAdapter, Locker } from "@kontsedal/locco";
import { delay, uniqueKey } from "./_helpers.ts";
import { type AdapterBackend, contractOf } from "./_adapter_contract.ts";

function lockerOf(adapter: ILockAdapter, retryDelay = 10): Locker {
  return new Locker({ adapter, retrySettings: { retryTimes: 100_000, retryDelay } });
}

/** Registers the read-write lock tests for one backend. */
export function testReadWriteContract(
  name: string,
  open: () => Promise<AdapterBackend>,
  options: { ignore?: boolean } = {},
): void {
  const contract = contractOf(name, open, options);

  contract(
    "readWrite(): readers share the key, a writer holds it alone (8 connections)",
    async (backend) => {
      const key = uniqueKey();
      let readers = 0;
      let writers = 0;
      let mostReaders = 0;
      let writes = 0;
      await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        const rw = lockerOf(await backend.connect(), 5).readWrite(key, 10_000);
        for (let n = 0; n < 6; n++) {
          if (i % 4 === 0) {
            await rw.write().acquire(async () => {
              assert.equal(readers, 0, "a writer inside with readers");
              assert.equal(writers, 0, "two writers inside");
              writers++;
              await delay(3);
              writers--;
              writes++;
            });
          } else {
            await rw.read().acquire(async () => {
              assert.equal(writers, 0, "a reader inside with a writer");
              mostReaders = Math.max(mostReaders, ++readers);
              // Stay a while for another reader to join, however slow the machine.
              const until = performance.now() + 200;
              while (readers < 2 && performance.now() < until) await delay(5);
              mostReaders = Math.max(mostReaders, readers);
              readers--;
            });
          }
        }
      }));
      assert.equal(writes, 12);
      assert.ok(mostReaders > 1, "readers held the key together");
    },
  );

  contract(
    "readWrite(): a waiting writer goes before readers that come after it",
    async (_, adapter) => {
      const key = uniqueKey();
      const rw = lockerOf(adapter).readWrite(key, 30_000);
      const first = await rw.read().acquire();
      const order: string[] = [];
      const writer = rw.write().acquire(() => void order.push("writer"));
      await delay(100);
      // The writer waits for the first reader; a new reader must not slip in before it.
      assert.equal(await rw.read().tryAcquire(), undefined);
      const reader = rw.read().acquire(() => void order.push("late reader"));
      await delay(100);
      await first.release();
      await Promise.all([writer, reader]);
      assert.deepEqual(order, ["writer", "late reader"]);
    },
  );

  contract(
    "readWrite(): a writer that stops waiting no longer holds new readers back",
    async (_, adapter) => {
      const key = uniqueKey();
      const rw = lockerOf(adapter, 50).readWrite(key, 30_000);
      const reader = await rw.read().acquire();
      const giveUp = new AbortController();
      const writer = rw.write().acquire(undefined, { signal: giveUp.signal });
      await delay(150);
      assert.equal(await rw.read().tryAcquire(), undefined, "held back while the writer waits");
      giveUp.abort();
      await assert.rejects(writer);
      await delay(100);
      const next = await rw.read().tryAcquire();
      assert.ok(next, "readers come in again");
      await Promise.all([next.release(), reader.release()]);
    },
  );

  contract("readWrite(): expired readers and writers free the key", async (_, adapter) => {
    const key = uniqueKey();
    const rw = lockerOf(adapter).readWrite(key, 150);
    const reader = await rw.read().acquire();
    await delay(400);
    assert.equal(await reader.isLocked(), false);
    const writer = await rw.write().tryAcquire();
    assert.ok(writer, "the expired reader let the writer in");
    await delay(400);
    const next = await rw.read().tryAcquire();
    assert.ok(next, "the expired writer let a reader in");
    await next.release({ throwOnFail: true });
  });

  contract(
    "readWrite(): each holder has its own fence, and read-write keys are apart from lock keys",
    async (_, adapter) => {
      const key = uniqueKey();
      const locker = lockerOf(adapter);
      const lock = await locker.lock(key, 5000).acquire();
      const rw = locker.readWrite(key, 5000);
      const a = await rw.read().tryAcquire();
      const b = await rw.read().tryAcquire();
      assert.ok(a && b, "a held lock key leaves the read-write lock of that name free");
      if (a.fence !== undefined) assert.ok(b.fence! > a.fence);
      await Promise.all([a.release(), b.release()]);
      const w = await rw.write().acquire();
      if (w.fence !== undefined) assert.ok(w.fence > b.fence!);
      await Promise.all([w.release({ throwOnFail: true }), lock.release({ throwOnFail: true })]);
    },
  );
}

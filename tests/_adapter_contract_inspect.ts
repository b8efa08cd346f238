// Copyright 2026 the locco authors. MIT license.
// Part of the adapter contract (tests/_adapter_contract.ts registers it for
// every adapter): inspecting a key, and taking it with one attempt.

import assert from "node:assert/strict";
import { type ILockAdapter, LoccoError, Locker, ValidationError } from "@kontsedal/locco";
import { delay, uniqueKey } from "./_helpers.ts";
import type { Contract } from "./_adapter_contract.ts";

function inspector(adapter: ILockAdapter): Locker {
  return new Locker({ adapter, retrySettings: { retryTimes: 1, retryDelay: 10 } });
}

export function testInspectAndTryAcquire(contract: Contract): void {
  contract(
    "inspect() reports a held key's time left and fence, never its unique value",
    async (backend, adapter) => {
      const key = uniqueKey();
      const locker = inspector(adapter);
      assert.equal(await locker.inspect(key), undefined);
      const secret = `holder-${crypto.randomUUID()}`;
      const grant = await adapter.createLock({ key, uniqueValue: secret, ttl: 5000 });
      // Asked through another connection: what any process would see.
      const info = await inspector(await backend.connect()).inspect(key);
      assert.ok(info !== undefined, "a held key is reported");
      assert.ok(info.expiresIn > 3000 && info.expiresIn <= 6000, `expiresIn ${info.expiresIn}`);
      assert.equal(info.fence, grant?.fence);
      assert.deepEqual(
        Object.keys(info).sort(),
        grant?.fence ? ["expiresIn", "fence"] : ["expiresIn"],
      );
      assert.ok(!JSON.stringify(info).includes(secret));
      await adapter.extendLock({ key, uniqueValue: secret, ttl: 60_000 });
      const extended = await locker.inspect(key);
      assert.ok(extended!.expiresIn > 50_000, `after extend: ${extended!.expiresIn}`);
      await adapter.releaseLock({ key, uniqueValue: secret });
      assert.equal(await locker.inspect(key), undefined);
    },
  );

  contract("inspect() reports an expired key as free", async (_, adapter) => {
    const key = uniqueKey();
    const locker = inspector(adapter);
    await adapter.createLock({ key, uniqueValue: "a", ttl: 100 });
    assert.ok(await locker.inspect(key));
    // Past the ttl and any clock drift margin an adapter keeps (50 ms by default).
    await delay(400);
    assert.equal(await locker.inspect(key), undefined);
  });

  contract("inspect() rejects a bad key with ValidationError, never throws", async (_, adapter) => {
    const locker = inspector(adapter);
    for (const key of ["", 1, null, undefined, { $gt: "" }, ["a"], "\ud800"]) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        promise = locker.inspect(key as string);
      });
      await assert.rejects(promise!, (e) => e instanceof ValidationError && e.parameter === "key");
      let direct: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        direct = adapter.inspectLock!(key as string);
      });
      await assert.rejects(direct!, ValidationError);
    }
  });

  contract(
    "tryAcquire(): of 20 racers exactly one gets the Lock, the others get undefined",
    async (backend) => {
      const key = uniqueKey();
      const lockers = await Promise.all(Array.from({ length: 20 }, async () =>
        new Locker({
          adapter: await backend.connect(),
          // A long retry budget that tryAcquire() must not use.
          retrySettings: { retryTimes: 1000, retryDelay: 1000 },
        })));
      const results = await Promise.all(lockers.map((l) => l.lock(key, 5000).tryAcquire()));
      const won = results.filter((lock) => lock !== undefined);
      assert.equal(won.length, 1);
      const [winner] = won;
      assert.equal(await winner!.isLocked(), true);
      assert.equal((await lockers[0]!.inspect(key))?.fence, winner!.fence);
      await winner!.release({ throwOnFail: true });
      const next = await lockers[1]!.lock(key, 5000).tryAcquire();
      assert.ok(next, "the key is free again after the release");
      await next.release({ throwOnFail: true });
    },
  );

  contract(
    "tryAcquire(): a Lock that found the key held may try again, and holds it like acquire()",
    async (_, adapter) => {
      const key = uniqueKey();
      const locker = new Locker({ adapter, retrySettings: { retryTimes: 1, retryDelay: 10 } });
      const holder = await locker.lock(key, 5000).acquire();
      const lock = locker.lock(key, 5000);
      assert.equal(await lock.tryAcquire(), undefined);
      assert.equal(await lock.isLocked(), false);
      await holder.release();
      assert.equal(await lock.tryAcquire(), lock);
      assert.equal(await lock.isLocked(), true);
      await assert.rejects(lock.tryAcquire(), LoccoError);
      await lock.extend(10_000);
      await lock.release({ throwOnFail: true });
    },
  );
}

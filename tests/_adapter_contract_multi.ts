// Copyright 2026 the locco authors. MIT license.
// Part of the adapter contract (tests/_adapter_contract.ts registers it for
// every adapter): locks on several keys at once, all or none. The keys of
// one lock share a hash tag, as Redis Cluster requires of them.

import assert from "node:assert/strict";
import { type ILockAdapter, Locker, ValidationError } from "@kontsedal/locco";
import { delay, uniqueKey } from "./_helpers.ts";
import type { Contract } from "./_adapter_contract.ts";

/** `count` fresh keys with one hash tag: `{tag}:0`, `{tag}:1`, ... */
function taggedKeys(count: number): string[] {
  const tag = uniqueKey();
  return Array.from({ length: count }, (_, i) => `{${tag}}:${i}`);
}

function lockerOf(adapter: ILockAdapter, retryDelay = 10): Locker {
  return new Locker({ adapter, retrySettings: { retryTimes: 100_000, retryDelay } });
}

export function testMultiKeyLocks(contract: Contract): void {
  contract("lock([k1, k2]) holds every key, with a fence each, until released", async (_, a) => {
    const [k1, k2] = taggedKeys(2) as [string, string];
    const locker = lockerOf(a);
    const lock = await locker.lock([k1, k2, k1], 5000).acquire();
    assert.deepEqual(lock.keys, [k1, k2], "duplicates count once");
    assert.equal(await lock.isLocked(), true);
    assert.equal(await locker.lock(k1, 5000).tryAcquire(), undefined);
    assert.equal(await locker.lock(k2, 5000).tryAcquire(), undefined);
    const retuned = locker.lock([k1, k2], 5000).setRetrySettings({ retryTimes: 1, retryDelay: 1 });
    assert.deepEqual(retuned.keys, [k1, k2]);
    assert.equal(await retuned.tryAcquire(), undefined);
    assert.equal(lock.fence, undefined, "one fence per key, in fences");
    const fences = lock.fences!;
    if (fences.size > 0) assert.deepEqual([...fences.keys()].sort(), [k1, k2].sort());
    await lock.extend(10_000);
    await lock.release({ throwOnFail: true });
    for (const key of [k1, k2]) {
      const again = await locker.lock(key, 5000).tryAcquire();
      assert.ok(again, `${key} is free after the release`);
      if (fences.size > 0) assert.ok(again.fence! > fences.get(key)!, "a newer fence");
      await again.release();
    }
  });

  contract(
    "lock([k1, k2]) with k2 held takes neither key, and gets both once k2 is free",
    async (_, a) => {
      const [k1, k2] = taggedKeys(2) as [string, string];
      const locker = lockerOf(a);
      const holder = await locker.lock(k2, 30_000).acquire();
      assert.equal(await locker.lock([k1, k2], 5000).tryAcquire(), undefined);
      const alone = await locker.lock(k1, 5000).tryAcquire();
      assert.ok(alone, "k1 was not left taken by the failed attempt");
      await alone.release();
      const both = locker.lock([k2, k1], 5000).acquire();
      await delay(100);
      await holder.release();
      const lock = await both;
      assert.equal(await lock.isLocked(), true);
      await lock.release({ throwOnFail: true });
    },
  );

  contract(
    "overlapping multi-key locks in opposite orders never deadlock and never overlap",
    async (backend) => {
      const keys = taggedKeys(3);
      const sets = [[0, 1], [1, 0], [1, 2], [2, 0], [0, 1, 2]];
      const inside = new Map<string, number>();
      let sections = 0;
      const started = performance.now();
      await Promise.all(sets.map(async (set) => {
        const locker = lockerOf(await backend.connect(), 5);
        for (let i = 0; i < 6; i++) {
          const mine = set.map((k) => keys[k]!);
          await locker.lock(mine, 10_000).acquire(async () => {
            for (const key of mine) {
              assert.equal(inside.get(key) ?? 0, 0, `${key} held twice at once`);
              inside.set(key, 1);
            }
            await delay(2);
            for (const key of mine) inside.set(key, 0);
            sections++;
          });
        }
      }));
      assert.equal(sections, sets.length * 6);
      // 30 sections of 2 ms: a fraction of a second when every freed key goes
      // to a waiter at once (a waiter that gives up its place before its next
      // attempt, behind everyone queued since, makes it tens of seconds).
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 10_000, `30 short sections took ${Math.round(elapsed)} ms`);
    },
  );

  contract(
    "lock([]) and a bad key in the array reject with ValidationError naming it",
    async (_, a) => {
      const locker = lockerOf(a);
      assert.throws(
        () => locker.lock([], 1000),
        (e) => e instanceof ValidationError && e.parameter === "key",
      );
      assert.throws(
        () => locker.lock(["ok", ""], 1000),
        (e) => e instanceof ValidationError && e.parameter === "key[1]",
      );
      assert.throws(
        () => locker.lock(["ok", "\ud800"], 1000),
        (e) => e instanceof ValidationError && e.parameter === "key[1]",
      );
    },
  );
}

// Copyright 2026 the locco authors. MIT license.
// What every adapter with semaphores must do beyond the lock contract (which
// their semaphore(1) runs as well). Real time, short TTLs, generous margins.

import assert from "node:assert/strict";
import { type ILockAdapter, type Lock, Locker } from "@kontsedal/locco";
import { delay, uniqueKey } from "./_helpers.ts";
import { type AdapterBackend, contractOf } from "./_adapter_contract.ts";

function lockerOf(adapter: ILockAdapter, retryDelay = 20): Locker {
  return new Locker({ adapter, retrySettings: { retryTimes: 10_000, retryDelay } });
}

/** Registers the semaphore tests for one backend. */
export function testSemaphoreContract(
  name: string,
  open: () => Promise<AdapterBackend>,
  options: {
    ignore?: boolean;
    /** Whether waiters are woken by releases (the adapter's slots have waitForUnlock). */
    notifies: boolean;
  },
): void {
  const contract = contractOf(name, open, options);

  contract(
    "semaphore(): 12 workers on their own connections, limit 3, never more than 3 holders at once",
    async (backend) => {
      const key = uniqueKey();
      const lockers = await Promise.all(
        Array.from({ length: 12 }, async () => lockerOf(await backend.connect(), 10)),
      );
      let holding = 0;
      let most = 0;
      let sections = 0;
      await Promise.all(lockers.map(async (locker) => {
        for (let i = 0; i < 4; i++) {
          await locker.semaphore(key, 3, 5000).acquire(async () => {
            most = Math.max(most, ++holding);
            // Stay until the others fill the slots (or a while passed), so
            // that the count reaches the limit however slow the machine is.
            const until = performance.now() + 500;
            while (holding < 3 && performance.now() < until) await delay(5);
            holding--;
            sections++;
          });
        }
      }));
      assert.equal(sections, 48);
      assert.equal(most, 3, "three holders at once, never more");
    },
  );

  contract("semaphore(): every holder gets its own fence, growing", async (_, adapter) => {
    const key = uniqueKey();
    const locker = lockerOf(adapter);
    const held: Lock[] = [];
    for (let i = 0; i < 3; i++) held.push(await locker.semaphore(key, 3, 5000).acquire());
    const fences = held.map((lock) => lock.fence);
    if (fences[0] !== undefined) {
      assert.ok(fences.every((f, i) => i === 0 || f! > fences[i - 1]!), `fences ${fences}`);
      await held[0]!.release();
      const next = await locker.semaphore(key, 3, 5000).acquire();
      assert.ok(next.fence! > fences[2]!, "a slot taken again gets a newer fence");
      held[0] = next;
    }
    await Promise.all(held.map((lock) => lock.release({ throwOnFail: true })));
  });

  contract(
    "semaphore(): an expired holder frees its slot; extending one holder keeps only its own",
    async (_, adapter) => {
      const key = uniqueKey();
      const locker = lockerOf(adapter);
      const short = await locker.semaphore(key, 2, 150).acquire();
      const kept = await locker.semaphore(key, 2, 150).acquire();
      await kept.extend(10_000);
      assert.equal(await locker.semaphore(key, 2, 5000).tryAcquire(), undefined);
      await delay(400);
      assert.equal(await short.isLocked(), false);
      assert.equal(await kept.isLocked(), true);
      const taken = await locker.semaphore(key, 2, 5000).tryAcquire();
      assert.ok(taken, "the expired holder's slot is free");
      assert.equal(await locker.semaphore(key, 2, 5000).tryAcquire(), undefined);
      await Promise.all([
        kept.release({ throwOnFail: true }),
        taken.release({ throwOnFail: true }),
      ]);
    },
  );

  if (options.notifies) {
    contract(
      "semaphore(): a release wakes the first waiter, first come first served, before the retry delay",
      async (_, adapter) => {
        const key = uniqueKey();
        // A retry delay the waiters must not need: they are woken by releases.
        const locker = lockerOf(adapter, 60_000);
        const holders = [
          await locker.semaphore(key, 2, 30_000).acquire(),
          await locker.semaphore(key, 2, 30_000).acquire(),
        ];
        const order: string[] = [];
        const waiters = ["first", "second"].map(async (name, i) => {
          await delay(50 * i);
          const lock = await locker.semaphore(key, 2, 30_000).acquire();
          order.push(name);
          return lock;
        });
        await delay(200);
        const started = performance.now();
        await holders[0]!.release();
        await holders[1]!.release();
        const taken = await Promise.all(waiters);
        assert.ok(performance.now() - started < 30_000, "woken, not polled");
        assert.deepEqual(order, ["first", "second"]);
        await Promise.all(taken.map((lock) => lock.release({ throwOnFail: true })));
      },
    );
  } else {
    contract(
      "semaphore(): a waiter polling at its retry delay takes a released slot",
      async (_, adapter) => {
        const key = uniqueKey();
        const locker = lockerOf(adapter, 50);
        const holder = await locker.semaphore(key, 1, 30_000).acquire();
        const waiter = locker.semaphore(key, 1, 30_000).acquire();
        await delay(200);
        await holder.release({ throwOnFail: true });
        const lock = await waiter;
        assert.equal(await lock.isLocked(), true);
        await lock.release({ throwOnFail: true });
      },
    );
  }

  contract("semaphore(): semaphore keys are apart from lock keys", async (_, adapter) => {
    const key = uniqueKey();
    const locker = lockerOf(adapter);
    const lock = await locker.lock(key, 5000).acquire();
    const permit = await locker.semaphore(key, 1, 5000).tryAcquire();
    assert.ok(permit, "a held lock key leaves the semaphore of that name free");
    assert.equal(await lock.isLocked(), true);
    await permit.release({ throwOnFail: true });
    await lock.release({ throwOnFail: true });
  });
}

// Copyright 2026 the locco authors. MIT license.
// The one suite every adapter must pass. Real time, short TTLs: it runs
// against real servers, so waits leave generous margins.

import assert from "node:assert/strict";
import {
  checkFence,
  type ILockAdapter,
  LockCreateError,
  Locker,
  LockExtendError,
  LockLostError,
  LockReleaseError,
  RetryError,
  StaleFenceError,
  ValidationError,
} from "@kontsedal/locco";
import { delay, uniqueKey } from "./_helpers.ts";
import { testInspectAndTryAcquire } from "./_adapter_contract_inspect.ts";
import { testMultiKeyLocks } from "./_adapter_contract_multi.ts";

/** A store under test: every `connect()` is a new adapter (and connection) on the same store. */
export interface AdapterBackend {
  connect(): ILockAdapter | Promise<ILockAdapter>;
  close(): Promise<void>;
}

export interface ContractOptions {
  /** Skip the whole suite (the reason is printed by the caller). */
  ignore?: boolean;
  /**
   * Why the op and resource sanitizers are off for this suite, when a
   * driver's own timers can outlive a test; they stay on otherwise.
   */
  leakReason?: string;
}

/** Registers one test of a contract: `fn` gets a fresh backend and an adapter on it. */
export type Contract = (
  behaviour: string,
  fn: (backend: AdapterBackend, adapter: ILockAdapter) => Promise<void>,
) => void;

/** The test registration of a contract suite for the backend `name`. */
export function contractOf(
  name: string,
  open: () => Promise<AdapterBackend>,
  options: ContractOptions = {},
): Contract {
  const { ignore = false, leakReason } = options;
  return (behaviour, fn) => {
    Deno.test({
      name: `${name} ${behaviour}`,
      ignore,
      sanitizeOps: leakReason === undefined,
      sanitizeResources: leakReason === undefined,
      async fn() {
        const backend = await open();
        try {
          await fn(backend, await backend.connect());
        } finally {
          await backend.close();
        }
      },
    });
  };
}

/** Registers the adapter contract tests for one backend. */
export function testAdapterContract(
  name: string,
  open: () => Promise<AdapterBackend>,
  options: ContractOptions = {},
): void {
  const contract = contractOf(name, open, options);

  contract("createLock() takes a free key and isValidLock() sees it", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
    assert.equal(await a.isValidLock({ key, uniqueValue: "b" }), false);
  });

  contract(
    "createLock() rejects with LockCreateError on a held key, even for its owner",
    async (_, a) => {
      const key = uniqueKey();
      await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
      await assert.rejects(a.createLock({ key, uniqueValue: "b", ttl: 5000 }), LockCreateError);
      await assert.rejects(a.createLock({ key, uniqueValue: "a", ttl: 5000 }), LockCreateError);
      assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
      assert.equal(await a.isValidLock({ key, uniqueValue: "b" }), false);
    },
  );

  contract(
    "createLock() by the owner still rejects after an extendLock() outlived the first ttl",
    async (_, a) => {
      const key = uniqueKey();
      await a.createLock({ key, uniqueValue: "a", ttl: 100 });
      await a.extendLock({ key, uniqueValue: "a", ttl: 5000 });
      await delay(200);
      await assert.rejects(a.createLock({ key, uniqueValue: "a", ttl: 5000 }), LockCreateError);
      assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
    },
  );

  contract("createLock() takes over a key whose lock expired", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 100 });
    await delay(200);
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
    await a.createLock({ key, uniqueValue: "b", ttl: 5000 });
    assert.equal(await a.isValidLock({ key, uniqueValue: "b" }), true);
  });

  contract(
    "createLock() issues fencing tokens that grow across release, expiry and takeover",
    async (_, a) => {
      const key = uniqueKey();
      const fences: number[] = [];
      const take = async (uniqueValue: string, ttl: number) => {
        const grant = await a.createLock({ key, uniqueValue, ttl });
        assert.ok(
          grant !== undefined && Number.isSafeInteger(grant.fence),
          `no fence: ${JSON.stringify(grant)}`,
        );
        fences.push(grant.fence!);
      };
      await take("a", 5000);
      await a.releaseLock({ key, uniqueValue: "a" });
      await take("b", 100);
      await delay(200);
      await take("c", 5000);
      await a.releaseLock({ key, uniqueValue: "c" });
      for (let i = 0; i < 20; i++) {
        await take(`d${i}`, 5000);
        await a.releaseLock({ key, uniqueValue: `d${i}` });
      }
      for (let i = 1; i < fences.length; i++) {
        assert.ok(fences[i]! > fences[i - 1]!, `token ${i} did not grow: ${fences.join(", ")}`);
      }
      const other = await a.createLock({ key: uniqueKey(), uniqueValue: "x", ttl: 5000 });
      assert.ok(other !== undefined && Number.isSafeInteger(other.fence));
    },
  );

  contract("releaseLock() by the owner frees the key at once", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await a.releaseLock({ key, uniqueValue: "a" });
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
    await a.createLock({ key, uniqueValue: "b", ttl: 5000 });
  });

  contract("releaseLock() by another owner rejects and leaves the lock", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await assert.rejects(a.releaseLock({ key, uniqueValue: "b" }), LockReleaseError);
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
  });

  contract(
    "releaseLock() of an expired or missing lock rejects with LockReleaseError",
    async (_, a) => {
      const key = uniqueKey();
      await assert.rejects(a.releaseLock({ key, uniqueValue: "a" }), LockReleaseError);
      await a.createLock({ key, uniqueValue: "a", ttl: 100 });
      await delay(200);
      await assert.rejects(a.releaseLock({ key, uniqueValue: "a" }), LockReleaseError);
    },
  );

  contract("extendLock() by the owner keeps the lock past its first ttl", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 200 });
    await a.extendLock({ key, uniqueValue: "a", ttl: 5000 });
    await delay(350);
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
    await assert.rejects(a.createLock({ key, uniqueValue: "b", ttl: 5000 }), LockCreateError);
  });

  contract(
    "extendLock() sets the expiry to now + ttl, so it can shorten the lock",
    async (_, a) => {
      const key = uniqueKey();
      await a.createLock({ key, uniqueValue: "a", ttl: 10_000 });
      await a.extendLock({ key, uniqueValue: "a", ttl: 100 });
      await delay(250);
      assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
    },
  );

  contract("extendLock() by another owner rejects and leaves the lock", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await assert.rejects(a.extendLock({ key, uniqueValue: "b", ttl: 5000 }), LockExtendError);
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
    assert.equal(await a.isValidLock({ key, uniqueValue: "b" }), false);
  });

  contract(
    "extendLock() after expiry rejects and never re-creates the lock",
    async (_, a) => {
      const key = uniqueKey();
      await a.createLock({ key, uniqueValue: "a", ttl: 100 });
      await delay(200);
      await assert.rejects(a.extendLock({ key, uniqueValue: "a", ttl: 5000 }), LockExtendError);
      assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
      await a.createLock({ key, uniqueValue: "b", ttl: 5000 });
    },
  );

  contract(
    "extendLock() after release rejects and never re-creates the lock",
    async (_, a) => {
      const key = uniqueKey();
      await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
      await a.releaseLock({ key, uniqueValue: "a" });
      await assert.rejects(a.extendLock({ key, uniqueValue: "a", ttl: 5000 }), LockExtendError);
      assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
    },
  );

  contract("isValidLock() is false after the ttl lapses", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 150 });
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
    await delay(300);
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
  });

  contract("accepts the largest ttl, 2147483647 ms", async (_, a) => {
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 2_147_483_647 });
    await delay(20);
    assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), true);
    await a.extendLock({ key, uniqueValue: "a", ttl: 2_147_483_647 });
    await a.releaseLock({ key, uniqueValue: "a" });
  });

  contract(
    "every method rejects (never throws) ValidationError on bad input",
    async (_, a) => {
      const key = uniqueKey();
      const badTtls: unknown[] = [0, -1, 1.5, NaN, Infinity, 2 ** 31, "1000", null, undefined];
      const badKeys: unknown[] = ["", 1, null, undefined, { $gt: "" }, ["a"], new String("a")];
      const badValues: unknown[] = ["", 1, null, undefined, { $ne: "" }];
      const calls: Array<() => Promise<unknown>> = [];
      type Any = Parameters<ILockAdapter["createLock"]>[0];
      for (const ttl of badTtls) {
        calls.push(() => a.createLock({ key, uniqueValue: "a", ttl } as Any));
        calls.push(() => a.extendLock({ key, uniqueValue: "a", ttl } as Any));
      }
      for (const k of badKeys) {
        calls.push(() => a.createLock({ key: k, uniqueValue: "a", ttl: 1000 } as Any));
        calls.push(() => a.releaseLock({ key: k, uniqueValue: "a" } as Any));
        calls.push(() => a.extendLock({ key: k, uniqueValue: "a", ttl: 1000 } as Any));
        calls.push(() => a.isValidLock({ key: k, uniqueValue: "a" } as Any));
      }
      for (const v of badValues) {
        calls.push(() => a.createLock({ key, uniqueValue: v, ttl: 1000 } as Any));
        calls.push(() => a.releaseLock({ key, uniqueValue: v } as Any));
        calls.push(() => a.extendLock({ key, uniqueValue: v, ttl: 1000 } as Any));
        calls.push(() => a.isValidLock({ key, uniqueValue: v } as Any));
      }
      for (const arg of [undefined, null, "k", 5]) {
        calls.push(() => a.createLock(arg as unknown as Any));
        calls.push(() => a.isValidLock(arg as unknown as Any));
      }
      for (const call of calls) {
        let promise: Promise<unknown> | undefined;
        assert.doesNotThrow(() => {
          promise = call();
        });
        await assert.rejects(promise!, ValidationError);
      }
      assert.equal(await a.isValidLock({ key, uniqueValue: "a" }), false);
    },
  );

  contract(
    "40 racers on separate connections: exactly one createLock() wins",
    async (backend) => {
      const key = uniqueKey();
      const adapters = await Promise.all(Array.from({ length: 40 }, () => backend.connect()));
      const results = await Promise.allSettled(
        adapters.map((adapter, i) =>
          adapter.createLock({ key, uniqueValue: `racer-${i}`, ttl: 5000 })
        ),
      );
      const winners = results.flatMap((r, i) => r.status === "fulfilled" ? [i] : []);
      assert.equal(winners.length, 1);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(
            r.reason instanceof LockCreateError,
            String(r.reason),
          );
        }
      }
      const [winner] = winners;
      assert.equal(await adapters[0]!.isValidLock({ key, uniqueValue: `racer-${winner}` }), true);
    },
  );

  contract(
    "40 Locks racing through acquire() with retries: exactly one holds the key",
    async (backend) => {
      const key = uniqueKey();
      const lockers = await Promise.all(Array.from({ length: 40 }, async () =>
        new Locker({
          adapter: await backend.connect(),
          retrySettings: { retryTimes: 2, retryDelay: 30 },
        })));
      const results = await Promise.allSettled(lockers.map((l) => l.lock(key, 5000).acquire()));
      const won = results.filter((r) => r.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const r of results) {
        if (r.status === "rejected") assert.ok(r.reason instanceof RetryError, String(r.reason));
      }
    },
  );

  contract(
    "a holder paused past its ttl has its late write rejected by checkFence()",
    async (_, adapter) => {
      const key = uniqueKey();
      const locker = new Locker({ adapter, retrySettings: { retryTimes: 100, retryDelay: 20 } });
      const store = { value: "initial", fence: undefined as number | undefined };
      const write = (value: string, fence: number | undefined) => {
        checkFence(store.fence, fence!);
        store.value = value;
        store.fence = fence;
      };
      const paused = await locker.lock(key, 150).acquire();
      await locker.lock(key, 5000).acquire((lock) => write("new holder", lock.fence));
      assert.throws(() => write("paused holder", paused.fence), StaleFenceError);
      assert.equal(store.value, "new holder");
    },
  );

  contract(
    "acquire({ autoExtend }) keeps a 400 ms lock through 2.4 s of work",
    async (backend, adapter) => {
      const key = uniqueKey();
      const locker = new Locker({ adapter, retrySettings: { retryTimes: 1, retryDelay: 10 } });
      const rival = new Locker({
        adapter: await backend.connect(),
        retrySettings: { retryTimes: 1, retryDelay: 10 },
      });
      // Extended every third of its ttl: a loaded machine may stall a renewal
      // by a good 200 ms before the lease is at risk.
      const result = await locker.lock(key, 400).acquire(async (lock) => {
        for (let i = 0; i < 6; i++) {
          await delay(400);
          await assert.rejects(rival.lock(key, 400).acquire(), RetryError);
        }
        assert.equal(lock.signal.aborted, false);
        return "done";
      }, { autoExtend: true });
      assert.equal(result, "done");
      await rival.lock(key, 400).acquire();
    },
  );

  contract(
    "lock.signal aborts with LockLostError when the key is deleted under an auto-extended lock",
    async (_, adapter) => {
      const key = uniqueKey();
      const locker = new Locker({ adapter, retrySettings: { retryTimes: 1, retryDelay: 10 } });
      const lock = await locker.lock(key, 300).acquire(undefined, { autoExtend: true });
      await adapter.releaseLock({ key, uniqueValue: lock.uniqueValue });
      const reason = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("lock.signal did not abort")), 3000);
        lock.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(lock.signal.reason);
        }, { once: true });
      });
      assert.ok(reason instanceof LockLostError, String(reason));
      await lock.release();
    },
  );

  contract("a waiter acquires once the holder's ttl lapses", async (_, adapter) => {
    const key = uniqueKey();
    const locker = new Locker({ adapter, retrySettings: { retryTimes: 100, retryDelay: 10 } });
    await locker.lock(key, 200).acquire();
    const started = performance.now();
    const waiter = await locker.lock(key, 5000).acquire();
    const waited = performance.now() - started;
    assert.ok(waited >= 150 && waited < 1500, `waited ${waited} ms`);
    assert.equal(await waiter.isLocked(), true);
    await waiter.release();
  });

  contract(
    "acquire(cb) releases the lock when the callback returns or throws",
    async (_, adapter) => {
      const key = uniqueKey();
      const locker = new Locker({ adapter, retrySettings: { retryTimes: 1, retryDelay: 10 } });
      const result = await locker.lock(key, 5000).acquire(async (lock) => {
        assert.equal(await lock.isLocked(), true);
        return { success: true };
      });
      assert.deepEqual(result, { success: true });
      const boom = new Error("boom");
      await assert.rejects(
        locker.lock(key, 5000).acquire(() => Promise.reject(boom)),
        (e) => e === boom,
      );
      const lock = await locker.lock(key, 5000).acquire();
      await lock.release({ throwOnFail: true });
    },
  );

  testInspectAndTryAcquire(contract);
  testMultiKeyLocks(contract);
}

// Copyright 2026 the locco authors. MIT license.

import type { ILockAdapter, LockInfo } from "./adapter.ts";
import { UnsupportedError } from "./errors.ts";
import { Lock } from "./lock.ts";
import { ReadWriteLock } from "./read_write_lock.ts";
import type { RetrySettings } from "./retry_settings.ts";
import {
  validateAdapter,
  validateKey,
  validateLimit,
  validateObject,
  validateRetrySettings,
  validateTtl,
} from "./_validate.ts";

/**
 * What `new Locker()` takes.
 *
 * @example Options for an in-memory Locker
 * ```ts
 * import { InMemoryAdapter, Locker, type LockerOptions } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const options: LockerOptions = {
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 50, retryTimes: 5 },
 * };
 * assert.ok(new Locker(options));
 * ```
 */
export interface LockerOptions {
  /** The backend adapter: Redis, MongoDB, in-memory or your own {@linkcode ILockAdapter}. */
  adapter: ILockAdapter;
  /** Default retry behaviour of every Lock this Locker creates (copied). */
  retrySettings: RetrySettings;
}

/**
 * Creates {@linkcode Lock}s bound to one backend adapter and default retry
 * settings.
 *
 * @example Lock a resource, do work, release
 * ```ts
 * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 50, retryTimes: 5 },
 * });
 * const lock = await locker.lock("resource:1", 1000).acquire();
 * assert.equal(await lock.isLocked(), true);
 * await lock.release();
 * ```
 */
export class Locker {
  #adapter: ILockAdapter;
  #retrySettings: Readonly<RetrySettings>;

  /**
   * Creates a Locker. Validates the adapter first, then the retry settings,
   * and keeps a copy of the settings.
   *
   * @param options The adapter and the default retry settings.
   * @throws {ValidationError} When the adapter or the retry settings are invalid.
   * @example A Locker with a custom delay function
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: {
   *     retryDelayFn: ({ attemptNumber }) => Math.min(2 ** attemptNumber * 50, 5000),
   *     totalTime: 10_000,
   *   },
   * });
   * assert.equal(locker.lock("k", 1000).retrySettings.totalTime, 10_000);
   * ```
   */
  constructor(options: LockerOptions) {
    validateObject(options, "options");
    this.#adapter = validateAdapter(options.adapter);
    this.#retrySettings = validateRetrySettings(options.retrySettings);
  }

  /**
   * Creates a Lock on `key`. It does not acquire it and does no I/O: call
   * `.acquire()` on the result.
   *
   * A lock on several resources at once: pass an array of keys, and the
   * Lock holds all of them or none (duplicates count once). Where the
   * adapter can take them atomically (`adapter.multi`) it does; otherwise
   * the keys are taken one by one in sorted order and a busy key undoes the
   * ones taken before it, so two overlapping multi-locks never deadlock.
   * Its `fences` map gives each key's token.
   *
   * @param key A non-empty, well-formed string (no unpaired surrogates) identifying the resource,
   *   or a non-empty array of them.
   * @param ttl Time to live in milliseconds: an integer from 1 to 2147483647.
   * @returns A new, unacquired Lock with its own unique value.
   * @throws {ValidationError} When `ttl` (checked first) or `key` is invalid, or when the
   *   adapter cannot take these keys together (on Redis Cluster, keys without one hash tag).
   * @example Create a Lock
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * const lock = locker.lock("orders:456", 5000);
   * assert.equal(lock.key, "orders:456");
   * assert.equal(await lock.isLocked(), false);
   * ```
   * @example Lock two accounts for a transfer
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * await locker.lock(["account:1", "account:2"], 5000).acquire(async (lock) => {
   *   assert.deepEqual(lock.keys, ["account:1", "account:2"]);
   *   // either account alone is held too
   *   assert.equal(await locker.lock("account:2", 5000).tryAcquire(), undefined);
   * });
   * ```
   */
  lock(key: string | readonly string[], ttl: number): Lock {
    // The Lock checks `ttl`, then `key` (its retry settings, the Locker's
    // frozen copy, pass at once): checking them here too would do it twice.
    return new Lock({ adapter: this.#adapter, key, ttl, retrySettings: this.#retrySettings });
  }

  /**
   * Creates a permit of a counting semaphore: up to `limit` holders of `key`
   * at once, each with its own lease. The permit is a {@linkcode Lock} and
   * works like one: `acquire(cb?, options?)` (waiting first come first
   * served, woken by releases where the adapter can notify), `tryAcquire()`,
   * `release()`, `extend()`, its own `fence`, auto-extension, `signal` and
   * `await using`. An expired holder frees its slot. No I/O until acquired.
   *
   * Semaphore keys are apart from lock keys: `locker.lock("k", ttl)` and
   * `locker.semaphore("k", n, ttl)` do not exclude each other. Every caller
   * of one key should pass the same `limit`: an acquire succeeds while fewer
   * than its own `limit` holders hold the key.
   *
   * @param key A non-empty, well-formed string naming the semaphore.
   * @param limit The most holders at once: an integer from 1 to 2147483647.
   * @param ttl Each holder's time to live in milliseconds: an integer from 1 to 2147483647.
   * @returns A new, unacquired permit with its own unique value.
   * @throws {ValidationError} When `ttl`, `key` or `limit` is invalid (checked in that order).
   * @throws {UnsupportedError} When the adapter has no `semaphore` method.
   * @example At most two exports at once
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * const first = await locker.semaphore("exports", 2, 60_000).acquire();
   * const second = await locker.semaphore("exports", 2, 60_000).acquire();
   * assert.equal(await locker.semaphore("exports", 2, 60_000).tryAcquire(), undefined);
   * await first.release();
   * const third = await locker.semaphore("exports", 2, 60_000).acquire();
   * await Promise.all([second.release(), third.release()]);
   * ```
   */
  semaphore(key: string, limit: number, ttl: number): Lock {
    validateTtl(ttl);
    validateKey(key);
    validateLimit(limit);
    const adapter = this.#adapter;
    if (typeof adapter.semaphore !== "function") {
      throw new UnsupportedError(
        "The adapter has no semaphores: it has no semaphore method",
        "semaphore",
      );
    }
    return new Lock({
      adapter: adapter.semaphore(limit),
      key,
      ttl,
      retrySettings: this.#retrySettings,
    });
  }

  /**
   * Creates a read-write lock on `key`: `.read()` and `.write()` give Locks
   * on either side, many readers at once or one writer alone,
   * writer-preferring (see {@linkcode ReadWriteLock}). No I/O.
   *
   * @param key A non-empty, well-formed string naming the resource.
   * @param ttl Each holder's time to live in milliseconds: an integer from 1 to 2147483647.
   * @returns The read-write lock.
   * @throws {ValidationError} When `ttl` (checked first) or `key` is invalid.
   * @throws {UnsupportedError} When the adapter has no `readWrite` method.
   * @example Cache refresh: many readers, one writer
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 100 },
   * });
   * let cache = "old";
   * const rw = locker.readWrite("cache", 5000);
   * await rw.write().acquire(() => void (cache = "new"));
   * assert.equal(await rw.read().acquire(() => cache), "new");
   * ```
   */
  readWrite(key: string, ttl: number): ReadWriteLock {
    return new ReadWriteLock({
      adapter: this.#adapter,
      key,
      ttl,
      retrySettings: this.#retrySettings,
    });
  }

  /**
   * Tells whether a lock holds `key`, without taking it: `undefined` when the
   * key is free, else how long it stays held unless its holder releases or
   * extends it, and the holder's fencing token. The holder's unique value is
   * never revealed (it is what releases the lock).
   *
   * The answer is a snapshot: the key may be released or taken right after.
   * To take a key only if it is free, use `lock.tryAcquire()` instead of
   * inspecting first. (`lock.isLocked()` answers another question: whether
   * that Lock still holds its key.)
   *
   * @param key The resource key.
   * @returns `undefined` when the key is free, else its {@linkcode LockInfo}.
   * @throws {ValidationError} When `key` is invalid (before any I/O).
   * @throws {UnsupportedError} When the adapter has no `inspectLock` method.
   * @example See who is busy
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * assert.equal(await locker.inspect("report"), undefined);
   * const lock = await locker.lock("report", 5000).acquire();
   * const info = await locker.inspect("report");
   * assert.equal(info?.fence, lock.fence);
   * assert.ok(info!.expiresIn > 0 && info!.expiresIn <= 5000);
   * await lock.release();
   * assert.equal(await locker.inspect("report"), undefined);
   * ```
   */
  async inspect(key: string): Promise<LockInfo | undefined> {
    validateKey(key);
    const adapter = this.#adapter;
    if (typeof adapter.inspectLock !== "function") {
      throw new UnsupportedError(
        "The adapter cannot inspect keys: it has no inspectLock method",
        "inspectLock",
      );
    }
    return await adapter.inspectLock(key);
  }
}

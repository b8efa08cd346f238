// Copyright 2026 the locco authors. MIT license.

import type { ILockAdapter } from "./adapter.ts";
import { UnsupportedError } from "./errors.ts";
import { Lock } from "./lock.ts";
import type { RetrySettings } from "./retry_settings.ts";
import {
  validateAdapter,
  validateKey,
  validateObject,
  validateRetrySettings,
  validateTtl,
} from "./_validate.ts";

/**
 * What `new ReadWriteLock()` takes (usually through `locker.readWrite()`).
 *
 * @example Options of a read-write lock
 * ```ts
 * import { InMemoryAdapter, ReadWriteLock, type ReadWriteLockOptions } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const options: ReadWriteLockOptions = {
 *   adapter: new InMemoryAdapter(),
 *   key: "config",
 *   ttl: 5000,
 *   retrySettings: { retryDelay: 50, retryTimes: 5 },
 * };
 * assert.equal(new ReadWriteLock(options).key, "config");
 * ```
 */
export interface ReadWriteLockOptions {
  /** The backend adapter: it must have the optional `readWrite` method. */
  adapter: ILockAdapter;
  /** The resource key: a non-empty, well-formed string. */
  key: string;
  /** Each holder's time to live in milliseconds: an integer from 1 to 2147483647. */
  ttl: number;
  /** How the Locks' `acquire()` retries; copied. */
  retrySettings: RetrySettings;
}

/**
 * A read-write lock on one key: many readers at once, or one writer alone.
 * `read()` and `write()` each create a new, unacquired {@linkcode Lock} on
 * that side, with everything a Lock has (`acquire(cb?)`, `tryAcquire()`,
 * `release()`, `extend()`, its own fence, auto-extension, `signal`,
 * `await using`). Writer-preferring: while a writer waits, new readers wait
 * too, so a stream of readers cannot starve writers. Read-write keys are
 * apart from lock and semaphore keys.
 *
 * @example Readers share, the writer waits for them
 * ```ts
 * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 50, retryTimes: 100 },
 * });
 * const settings = locker.readWrite("settings", 5000);
 * const reader = await settings.read().acquire();
 * assert.ok(await settings.read().tryAcquire(), "readers share the key");
 * assert.equal(await settings.write().tryAcquire(), undefined);
 * await reader.release();
 * ```
 */
export class ReadWriteLock {
  /** The resource key. */
  readonly key: string;
  /** Each holder's time to live, in milliseconds. */
  readonly ttl: number;
  #readers: ILockAdapter;
  #writers: ILockAdapter;
  #retrySettings: Readonly<RetrySettings>;

  /**
   * Creates a read-write lock without touching storage. Validates the
   * options (retry settings, ttl, key, adapter, in that order).
   *
   * @param options The adapter, key, ttl and retry settings.
   * @throws {ValidationError} When an option is invalid.
   * @throws {UnsupportedError} When the adapter has no `readWrite` method.
   * @example Construct one directly
   * ```ts
   * import { InMemoryAdapter, ReadWriteLock } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const rw = new ReadWriteLock({
   *   adapter: new InMemoryAdapter(),
   *   key: "k",
   *   ttl: 1000,
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * assert.equal(rw.ttl, 1000);
   * ```
   */
  constructor(options: ReadWriteLockOptions) {
    validateObject(options, "options");
    const { adapter, key, ttl, retrySettings } = options;
    this.#retrySettings = validateRetrySettings(retrySettings);
    this.ttl = validateTtl(ttl);
    this.key = validateKey(key);
    const base = validateAdapter(adapter);
    if (typeof base.readWrite !== "function") {
      throw new UnsupportedError(
        "The adapter has no read-write locks: it has no readWrite method",
        "readWrite",
      );
    }
    this.#readers = base.readWrite("read");
    this.#writers = base.readWrite("write");
  }

  /**
   * A new, unacquired Lock on the read side: it may be held together with
   * other readers, never with a writer.
   *
   * @returns The reader's Lock.
   * @example Read under the lock
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * const value = await locker.readWrite("k", 1000).read().acquire(() => 42);
   * assert.equal(value, 42);
   * ```
   */
  read(): Lock {
    return this.#lock(this.#readers);
  }

  /**
   * A new, unacquired Lock on the write side: held alone, with no reader
   * and no other writer.
   *
   * @returns The writer's Lock.
   * @example Write under the lock
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * const writer = await locker.readWrite("k", 1000).write().acquire();
   * assert.equal(await locker.readWrite("k", 1000).read().tryAcquire(), undefined);
   * await writer.release();
   * ```
   */
  write(): Lock {
    return this.#lock(this.#writers);
  }

  #lock(adapter: ILockAdapter): Lock {
    return new Lock({ adapter, key: this.key, ttl: this.ttl, retrySettings: this.#retrySettings });
  }
}

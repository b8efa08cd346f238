// Copyright 2026 the locco authors. MIT license.

/**
 * The Deno KV adapter: one KV entry per lock, taken and given back with
 * atomic operations that check the entry's versionstamp. Use `Deno.openKv()`
 * on Deno (a local SQLite file, or the distributed store on Deno Deploy) or
 * `openKv()` of the `@deno/kv` npm package on Node and Bun; locco imports
 * neither. Expiry is decided by the hosts' clocks with a drift margin, as on
 * MongoDB; fencing tokens come from the commit versionstamps.
 *
 * ```ts
 * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
 * import { Locker } from "@kontsedal/locco";
 *
 * // Pass `await Deno.openKv()` (run Deno with --unstable-kv).
 * export async function nightly(kv: DenoKvLike): Promise<void> {
 *   const locker = new Locker({
 *     adapter: new DenoKvAdapter({ kv }),
 *     retrySettings: { retryDelay: 200, retryTimes: 10 },
 *   });
 *   await locker.lock("reports:nightly", 5000).acquire(async (lock) => {
 *     console.log("fence", lock.fence);
 *   });
 * }
 * ```
 *
 * @module
 */

import type { ILockAdapter, LockGrant, LockIdentity, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError, ValidationError } from "../errors.ts";
import {
  describe,
  MAX_TIMER_MS,
  validateIdentity,
  validateLease,
  validateObject,
  validateWait,
} from "../_validate.ts";
import {
  checkOwnerSize,
  decodeRecord,
  encodeRecord,
  fenceOf,
  type KvKeyPart,
  lockKey,
  type LockRecord,
  prefixSize,
  validatePrefix,
} from "./_kv_record.ts";
import { KvWaiters } from "./_kv_waiters.ts";

import { unlessBusy } from "./_kv_busy.ts";
import type { DenoKvAdapterOptions, DenoKvLike } from "./_kv_types.ts";

export type { KvKeyPart } from "./_kv_record.ts";
export type { DenoKvAdapterOptions, DenoKvLike, DenoKvLikeAtomic } from "./_kv_types.ts";

const DEFAULT_PREFIX: readonly KvKeyPart[] = Object.freeze(["locco"]);
const DEFAULT_DRIFT_MARGIN_MS = 50;
// expireIn is garbage collection only: the store deletes an entry at the
// earliest that long after the write (by the store's clock), well after the
// lease (by the hosts' clocks) plus the margin.
const GC_SLACK_MS = 60_000;
// Commits that lose a race to another write of the key read it again; the
// next read decides, so this bounds only a key rewritten without pause.
const MAX_ATTEMPTS = 8;

function isDenoKv(kv: unknown): boolean {
  const Kv = (globalThis as { Deno?: { Kv?: unknown } }).Deno?.Kv;
  return typeof Kv === "function" && kv instanceof Kv;
}

/**
 * Keeps locks in Deno KV. Adapters on the same database (in several
 * processes, or on Deno Deploy in several regions) share the locks.
 *
 * Storage: the entry `[...prefix, key]` holds `{ owner, expiresAt }` as
 * UTF-8 JSON bytes (so Deno, Node and Bun clients share a database; no V8
 * serialization is needed). Every write is an `atomic()` checking the
 * versionstamp just read, so no write is based on a stale read:
 *
 * - `createLock`: read the entry; if it is absent, or expired by at least
 *   `clockDriftMargin` by this host's clock, commit `check(versionstamp)` and
 *   `set` with `expireIn` (garbage collection only, long after the lease).
 *   A held entry is `LockCreateError`; a lost race reads again.
 * - `releaseLock` deletes, and `extendLock` rewrites, the entry only if this
 *   owner holds it, unexpired, checking the versionstamp read: a lock that is
 *   gone is never re-created.
 * - Fencing tokens: the commit versionstamp's first 8 bytes (the store's
 *   commit version) as a number. Each acquisition of a key commits after the
 *   write it checked, so its token is larger than every earlier one of the
 *   key, whether the entry was released, expired, taken over or deleted, and
 *   after the database is reopened (the version is stored in it). A version
 *   that is not a safe integer gives no token (`lock.fence` is undefined).
 *
 * @example Lock with Deno KV
 * ```ts
 * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
 * import { Locker } from "@kontsedal/locco";
 *
 * export async function report(kv: DenoKvLike): Promise<void> {
 *   const adapter = new DenoKvAdapter({ kv, prefix: ["my-app", "locks"] });
 *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 10 } });
 *   const lock = await locker.lock("reports:daily", 5000).acquire();
 *   try {
 *     // critical section
 *   } finally {
 *     await lock.release();
 *   }
 * }
 * ```
 */
export class DenoKvAdapter implements ILockAdapter {
  #kv: DenoKvLike;
  #prefix: readonly KvKeyPart[];
  #prefixSize: number;
  #margin: number;
  #now: () => number;
  #waiters: KvWaiters;

  /**
   * Creates the adapter; it does no I/O.
   *
   * @param options `kv`, and optionally `prefix`, `clockDriftMargin`, `now`, `waitStrategy`.
   * @throws {ValidationError} When an option is invalid, or `kv` lacks `get` or `atomic`.
   * @example Construct
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   * export function adapterFor(kv: DenoKvLike): DenoKvAdapter {
   *   return new DenoKvAdapter({ kv, prefix: ["locks"], clockDriftMargin: 100 });
   * }
   * ```
   */
  constructor(options: DenoKvAdapterOptions) {
    validateObject(options, "options");
    const {
      kv,
      prefix = DEFAULT_PREFIX,
      clockDriftMargin = DEFAULT_DRIFT_MARGIN_MS,
      now = Date.now,
      waitStrategy,
    } = options;
    if (
      typeof kv !== "object" || kv === null || typeof kv.get !== "function" ||
      typeof kv.atomic !== "function"
    ) {
      throw new ValidationError(
        `options.kv should be a Deno KV handle with get() and atomic(): got ${describe(kv)}`,
        "options.kv",
      );
    }
    this.#prefix = validatePrefix(prefix);
    this.#prefixSize = prefixSize(this.#prefix);
    if (
      !Number.isInteger(clockDriftMargin) || clockDriftMargin < 0 ||
      clockDriftMargin > MAX_TIMER_MS
    ) {
      throw new ValidationError(
        `options.clockDriftMargin should be an integer from 0 to ${MAX_TIMER_MS} milliseconds: got ${
          describe(clockDriftMargin)
        }`,
        "options.clockDriftMargin",
      );
    }
    if (typeof now !== "function") {
      throw new ValidationError(
        `options.now should be a function: got ${describe(now)}`,
        "options.now",
      );
    }
    if (waitStrategy !== undefined && waitStrategy !== "watch" && waitStrategy !== "poll") {
      throw new ValidationError(
        `options.waitStrategy should be "watch" or "poll": got ${describe(waitStrategy)}`,
        "options.waitStrategy",
      );
    }
    const canWatch = typeof kv.watch === "function";
    if (waitStrategy === "watch" && !canWatch) {
      throw new ValidationError(
        'options.waitStrategy is "watch" but options.kv has no watch() method',
        "options.waitStrategy",
      );
    }
    const watch = canWatch && (waitStrategy ?? (isDenoKv(kv) ? "watch" : "poll")) === "watch";
    this.#kv = kv;
    this.#margin = clockDriftMargin;
    this.#now = now;
    this.#waiters = new KvWaiters({
      startWatch: watch ? (key) => kv.watch!([key]) : undefined,
      kvKey: (key) => this.#key(key),
      decode: decodeRecord,
      isFree: (record) => this.#isFree(record, this.#clock()),
      now: () => this.#clock(),
      margin: clockDriftMargin,
    });
  }

  /**
   * Stores the lock if the key is free, or its lock expired at least
   * `clockDriftMargin` milliseconds ago by this host's clock.
   *
   * @param lease The key, unique value and ttl in milliseconds.
   * @returns The fencing token, once the lock is stored.
   * @throws {LockCreateError} When an unexpired lock holds the key (even this
   *   owner's), when an earlier waiter of this adapter is first in line, or
   *   when other writers changed the key at every one of 8 attempts. A KV
   *   failure rejects with KV's own error.
   * @throws {LoccoError} When the entry holds a value that is not a lock record.
   * @throws {ValidationError} When an argument is invalid or too large for a KV key.
   * @example Contention
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   * import { LockCreateError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * export async function contend(kv: DenoKvLike): Promise<void> {
   *   const adapter = new DenoKvAdapter({ kv });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 5000 });
   *   await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "b", ttl: 5000 }), LockCreateError);
   * }
   * ```
   */
  async createLock(lease: LockLease): Promise<LockGrant> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const entryKey = this.#key(key);
    checkOwnerSize(uniqueValue);
    this.#clock();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await unlessBusy(() => this.#kv.get(entryKey));
      const now = this.#clock();
      if (!this.#isFree(decodeRecord(entry.value, key), now)) {
        throw new LockCreateError(`Key ${describe(key)} is already locked`);
      }
      // While this adapter has waiters for the key, only the first may take
      // it; anyone else is refused and wakes it, so the free key is taken now.
      const head = this.#waiters.headOf(key);
      if (head !== undefined && head !== uniqueValue) {
        this.#waiters.wakeHead(key);
        throw new LockCreateError(`Key ${describe(key)} is promised to an earlier waiter`);
      }
      const result = await unlessBusy(() =>
        this.#kv.atomic()
          .check({ key: entryKey, versionstamp: entry.versionstamp ?? null })
          .set(entryKey, encodeRecord({ owner: uniqueValue, expiresAt: now + ttl }), {
            expireIn: this.#expireIn(ttl),
          })
          .commit()
      );
      if (result.ok) {
        this.#waiters.taken(key, uniqueValue);
        return { fence: fenceOf(result.versionstamp) };
      }
    }
    throw new LockCreateError(
      `Key ${describe(key)} was changed by other writers at each of ${MAX_ATTEMPTS} attempts`,
    );
  }

  /**
   * Deletes the lock if this unique value holds it, unexpired.
   *
   * @param identity The key and unique value.
   * @returns A promise that resolves once the lock is deleted.
   * @throws {LockReleaseError} "Lock is already expired" (gone or expired) or
   *   "Lock is already taken" (another owner holds it).
   * @throws {ValidationError} When an argument is invalid.
   * @example Release by a non-owner
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   * import { LockReleaseError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * export async function intrude(kv: DenoKvLike): Promise<void> {
   *   const adapter = new DenoKvAdapter({ kv });
   *   await adapter.createLock({ key: "k", uniqueValue: "owner", ttl: 5000 });
   *   await assert.rejects(adapter.releaseLock({ key: "k", uniqueValue: "intruder" }), LockReleaseError);
   *   await adapter.releaseLock({ key: "k", uniqueValue: "owner" });
   * }
   * ```
   */
  async releaseLock(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    await this.#update(key, uniqueValue, undefined, LockReleaseError);
    this.#waiters.wakeHead(key);
  }

  /**
   * Sets the expiry to now + `ttl` if this unique value holds the lock,
   * unexpired. It never re-creates a lock that expired, was released or was
   * taken over.
   *
   * @param lease The key, unique value and new ttl in milliseconds.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} "Lock is already expired" or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid.
   * @example Extend by the owner
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   *
   * export async function keep(kv: DenoKvLike): Promise<void> {
   *   const adapter = new DenoKvAdapter({ kv });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   *   await adapter.extendLock({ key: "k", uniqueValue: "a", ttl: 10_000 });
   * }
   * ```
   */
  async extendLock(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    await this.#update(key, uniqueValue, ttl, LockExtendError);
  }

  /**
   * Tells whether this unique value holds the key, unexpired by this host's clock.
   *
   * @param identity The key and unique value.
   * @returns Whether the lock is held by this unique value.
   * @throws {ValidationError} When an argument is invalid.
   * @example Check a lock
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   * import assert from "node:assert/strict";
   *
   * export async function check(kv: DenoKvLike): Promise<void> {
   *   const adapter = new DenoKvAdapter({ kv });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 5000 });
   *   assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "b" }), false);
   * }
   * ```
   */
  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    const entryKey = this.#key(key);
    this.#clock();
    const record = decodeRecord((await unlessBusy(() => this.#kv.get(entryKey))).value, key);
    return record !== undefined && record.owner === uniqueValue &&
      this.#clock() < record.expiresAt;
  }

  /**
   * Waits, first come first served among this adapter's waiters, until the
   * key is released or expires (seen by `kv.watch()` or this adapter's own
   * release), or `maxWaitMs` passed, or `signal` aborted. A waiter asks the
   * store again within `maxWaitMs` whatever happens to the watch.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @throws {ValidationError} When an argument is invalid.
   * @example Woken by a release
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   *
   * export async function waitFor(kv: DenoKvLike): Promise<void> {
   *   const adapter = new DenoKvAdapter({ kv });
   *   const session = new AbortController();
   *   await adapter.waitForUnlock({ key: "k", uniqueValue: "me" }, 1000, session.signal);
   *   session.abort();
   *   await adapter.close();
   * }
   * ```
   */
  waitForUnlock(identity: LockIdentity, maxWaitMs: number, signal: AbortSignal): Promise<void> {
    try {
      const { key, uniqueValue } = validateWait(identity, maxWaitMs, signal);
      this.#key(key);
      return this.#waiters.wait(key, uniqueValue, maxWaitMs, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stops the watches this adapter started and lets its waiters ask again.
   * It does not close the KV handle, which belongs to the caller.
   *
   * @returns A promise that resolves once every watch is cancelled.
   * @example Close after use
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   * export async function done(kv: DenoKvLike): Promise<void> {
   *   await new DenoKvAdapter({ kv }).close();
   * }
   * ```
   */
  close(): Promise<void> {
    return this.#waiters.close();
  }

  // Release (ttl undefined) or extend: read, check the owner and expiry, then
  // commit against the versionstamp read; a lost race reads again.
  async #update(
    key: string,
    uniqueValue: string,
    ttl: number | undefined,
    Failure: typeof LockReleaseError | typeof LockExtendError,
  ): Promise<void> {
    const entryKey = this.#key(key);
    this.#clock();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await unlessBusy(() => this.#kv.get(entryKey));
      const record = decodeRecord(entry.value, key);
      const now = this.#clock();
      if (record === undefined || now >= record.expiresAt) {
        throw new Failure("Lock is already expired");
      }
      if (record.owner !== uniqueValue) throw new Failure("Lock is already taken");
      const commit = () => {
        const operation = this.#kv.atomic().check({
          key: entryKey,
          versionstamp: entry.versionstamp,
        });
        return (ttl === undefined
          ? operation.delete(entryKey)
          : operation.set(entryKey, encodeRecord({ owner: uniqueValue, expiresAt: now + ttl }), {
            expireIn: this.#expireIn(ttl),
          })).commit();
      };
      if ((await unlessBusy(commit)).ok) return;
    }
    throw new Failure(`Lock ${describe(key)} was changed by other writers at each attempt`);
  }

  #isFree(record: LockRecord | undefined, now: number): boolean {
    return record === undefined || record.expiresAt + this.#margin <= now;
  }

  #expireIn(ttl: number): number {
    return ttl + this.#margin + GC_SLACK_MS;
  }

  #key(key: string): KvKeyPart[] {
    return lockKey(this.#prefix, this.#prefixSize, key);
  }

  #clock(): number {
    const now = this.#now();
    if (typeof now !== "number" || !Number.isFinite(now)) {
      throw new ValidationError(
        `options.now should return epoch milliseconds: got ${describe(now)}`,
        "options.now",
      );
    }
    return now;
  }
}

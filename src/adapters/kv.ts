// Copyright 2026 the locco authors. MIT license.

/**
 * The Deno KV adapter: one KV entry per lock, written only by atomic
 * operations that check the entry's versionstamp, over `Deno.openKv()` (Deno,
 * Deno Deploy) or `openKv()` of the `@deno/kv` npm package (Node, Bun).
 *
 * ```ts
 * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
 * import { Locker } from "@kontsedal/locco";
 *
 * // Pass `await Deno.openKv()` (run Deno with --unstable-kv).
 * export function lockerOn(kv: DenoKvLike): Locker {
 *   const retrySettings = { retryDelay: 200, retryTimes: 10 };
 *   return new Locker({ adapter: new DenoKvAdapter({ kv }), retrySettings });
 * }
 * ```
 *
 * @module
 */

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import {
  describe,
  validateIdentity,
  validateKey,
  validateLease,
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
} from "./_kv_record.ts";
import { KvWaiters } from "./_kv_waiters.ts";
import { gcExpireIn, kvSettings, readClock } from "./_kv_options.ts";
import { unlessBusy } from "./_kv_busy.ts";
import type { DenoKvAdapterOptions, DenoKvLike } from "./_kv_types.ts";

export type { KvKeyPart } from "./_kv_record.ts";
export type { DenoKvAdapterOptions, DenoKvLike, DenoKvLikeAtomic } from "./_kv_types.ts";

// Commits that lose a race to another write of the key read it again; the
// next read decides, so this bounds only a key rewritten without pause.
const MAX_ATTEMPTS = 8;

/**
 * Keeps locks in Deno KV. Adapters on the same database (in several
 * processes, or on Deno Deploy in several regions) share the locks.
 *
 * Storage: the entry `[...prefix, key]` holds `{ owner, expiresAt }` (and,
 * once extended, the acquisition's `fence`) as UTF-8 JSON bytes, so Deno,
 * Node and Bun clients share a database without V8 serialization. Every
 * write is an `atomic()` checking the versionstamp just read: a lock is
 * created only over an absent entry or one expired by at least
 * `clockDriftMargin` on this host's clock, released or extended only by its
 * owner while unexpired, and never re-created once lost. `expireIn` is
 * garbage collection only, set long after the lease.
 *
 * Fencing tokens: the acquisition commit's versionstamp, its first 8 bytes
 * (the store's commit version) as a number. It is larger than every earlier
 * token of the key (after a release, expiry, takeover, deleted entry or a
 * reopened database); a version that is not a safe integer gives none.
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
  #key: (key: string) => KvKeyPart[];
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
    const { kv, prefix, prefixSize, margin, now, watch } = kvSettings(options);
    this.#kv = kv;
    this.#key = (key) => lockKey(prefix, prefixSize, key);
    this.#margin = margin;
    this.#now = now;
    this.#waiters = new KvWaiters({
      startWatch: watch ? (key) => kv.watch!([key]) : undefined,
      kvKey: (key) => this.#key(key),
      decode: decodeRecord,
      isFree: (record) => this.#isFree(record, this.#clock()),
      now: () => this.#clock(),
      margin,
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
      if (this.#waiters.refuses(key, uniqueValue)) {
        throw new LockCreateError(`Key ${describe(key)} is promised to an earlier waiter`);
      }
      const result = await unlessBusy(() =>
        this.#kv.atomic()
          .check({ key: entryKey, versionstamp: entry.versionstamp ?? null })
          .set(entryKey, encodeRecord({ owner: uniqueValue, expiresAt: now + ttl }), {
            expireIn: gcExpireIn(ttl, this.#margin),
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
   * Tells whether a lock holds the key, without taking it and without
   * revealing the holder's unique value. The key is free when its entry is
   * absent, or expired at least `clockDriftMargin` ago by this host's clock
   * (when `createLock` would take it over).
   *
   * @param key The resource key.
   * @returns `undefined` for a free key, else the milliseconds until another
   *   host may take it (expiry plus `clockDriftMargin`, at least 1) and the
   *   holder's fence as its `createLock` returned it.
   * @throws {ValidationError} When the key is invalid or too large for a KV key.
   * @throws {LoccoError} When the entry holds a value that is not a lock record.
   * @example Inspect a held key
   * ```ts
   * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
   * import assert from "node:assert/strict";
   *
   * export async function look(kv: DenoKvLike): Promise<void> {
   *   const adapter = new DenoKvAdapter({ kv });
   *   const { fence } = await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 5000 });
   *   const info = await adapter.inspectLock("k");
   *   assert.equal(info?.fence, fence);
   *   assert.ok(info!.expiresIn <= 5000 + 50);
   * }
   * ```
   */
  async inspectLock(key: string): Promise<LockInfo | undefined> {
    const entryKey = this.#key(validateKey(key));
    this.#clock();
    const entry = await unlessBusy(() => this.#kv.get(entryKey));
    const record = decodeRecord(entry.value, key);
    const now = this.#clock();
    if (record === undefined || this.#isFree(record, now)) return undefined;
    const expiresIn = Math.max(1, Math.ceil(record.expiresAt + this.#margin - now));
    const fence = record.fence ?? fenceOf(entry.versionstamp);
    return fence === undefined ? { expiresIn } : { expiresIn, fence };
  }

  /**
   * Waits, first come first served among this adapter's waiters, until the
   * key is released or expires, or `maxWaitMs` passed, or `signal` aborted.
   * What wakes a waiter early: this adapter's own release and, with the
   * "watch" strategy, a release through any handle of this process or the
   * lock's expiry. On a local SQLite file the watch misses other processes'
   * writes: such a release is found when the waiter asks the store again,
   * within `maxWaitMs` whatever happens to the watch.
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
      // The acquisition's fence: its commit's versionstamp until the first
      // extension rewrites the entry, then kept in the record.
      const fence = record.fence ?? fenceOf(entry.versionstamp);
      // Built again for each try: a busy database refused the whole commit.
      const commit = () => {
        const checked = this.#kv.atomic().check({
          key: entryKey,
          versionstamp: entry.versionstamp,
        });
        return (ttl === undefined ? checked.delete(entryKey) : checked.set(
          entryKey,
          encodeRecord({ owner: uniqueValue, expiresAt: now + ttl, fence }),
          { expireIn: gcExpireIn(ttl, this.#margin) },
        )).commit();
      };
      if ((await unlessBusy(commit)).ok) return;
    }
    throw new Failure(`Lock ${describe(key)} was changed by other writers at each attempt`);
  }

  #isFree(record: LockRecord | undefined, now: number): boolean {
    return record === undefined || record.expiresAt + this.#margin <= now;
  }

  #clock(): number {
    return readClock(this.#now);
  }
}

// Copyright 2026 the locco authors. MIT license.

/**
 * Who holds a lock: the key of the resource and the holder's unique value.
 *
 * @example An identity
 * ```ts
 * import type { LockIdentity } from "@kontsedal/locco";
 * const identity: LockIdentity = { key: "orders:42", uniqueValue: "3f2a..." };
 * console.assert(identity.key === "orders:42");
 * ```
 */
export interface LockIdentity {
  /** The resource key: a non-empty string. */
  key: string;
  /** The holder's unique value (owner id): a non-empty string. */
  uniqueValue: string;
}

/**
 * A lock identity together with a time to live.
 *
 * @example A lease
 * ```ts
 * import type { LockLease } from "@kontsedal/locco";
 * const lease: LockLease = { key: "orders:42", uniqueValue: "3f2a...", ttl: 5000 };
 * console.assert(lease.ttl === 5000);
 * ```
 */
export interface LockLease extends LockIdentity {
  /** Time to live in milliseconds: an integer from 1 to 2147483647. */
  ttl: number;
}

/**
 * What {@linkcode ILockAdapter.createLock} may resolve to. Adapters that issue
 * no fencing tokens resolve `undefined`.
 *
 * @example A grant with a token
 * ```ts
 * import type { LockGrant } from "@kontsedal/locco";
 * const grant: LockGrant = { fence: 1_764_237_000_000_001 };
 * console.assert(grant.fence! > 0);
 * ```
 */
export interface LockGrant {
  /**
   * A monotonic fencing token for the key: a safe integer strictly greater
   * than every token the store issued before for the same key, whoever held
   * it, issued atomically with the acquisition.
   */
  fence?: number | undefined;
}

/**
 * The storage contract behind a {@linkcode Locker}. Implement these four
 * methods to plug in a backend of your own; the built-in adapters are
 * `InMemoryAdapter`, `IoRedisAdapter`, `NodeRedisAdapter`, `MongoAdapter`,
 * `PostgresAdapter` and `DenoKvAdapter`.
 *
 * Rules every adapter follows (the contract test suite checks them):
 * - `createLock` is atomic. It rejects with `LockCreateError` while another
 *   unexpired lock holds the key, and only then: a backend failure rejects
 *   with the backend's own error so it is never retried as contention.
 * - `releaseLock` and `extendLock` act only when the stored unique value
 *   matches and the lock has not expired; otherwise they reject with
 *   `LockReleaseError` / `LockExtendError`. `extendLock` never re-creates a
 *   lock that is gone.
 * - `isValidLock` resolves `true` only while this unique value holds the key,
 *   unexpired.
 * - Optionally, `createLock` resolves to `{ fence }`, a token that grows
 *   with every acquisition of the key (see {@linkcode LockGrant}).
 * - Invalid arguments reject with `ValidationError`; no method throws
 *   synchronously.
 *
 * @example A custom adapter delegating to the in-memory one
 * ```ts
 * import {
 *   type ILockAdapter,
 *   InMemoryAdapter,
 *   type LockGrant,
 *   type LockIdentity,
 *   type LockLease,
 *   Locker,
 * } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * class CountingAdapter implements ILockAdapter {
 *   creates = 0;
 *   #inner = new InMemoryAdapter();
 *   createLock(lease: LockLease): Promise<void | LockGrant> {
 *     this.creates++;
 *     return this.#inner.createLock(lease);
 *   }
 *   releaseLock(identity: LockIdentity): Promise<void> {
 *     return this.#inner.releaseLock(identity);
 *   }
 *   extendLock(lease: LockLease): Promise<void> {
 *     return this.#inner.extendLock(lease);
 *   }
 *   isValidLock(identity: LockIdentity): Promise<boolean> {
 *     return this.#inner.isValidLock(identity);
 *   }
 * }
 *
 * const adapter = new CountingAdapter();
 * const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } });
 * await locker.lock("k", 1000).acquire(() => {});
 * assert.equal(adapter.creates, 1);
 * ```
 */
export interface ILockAdapter {
  /**
   * Stores the lock if the key is free or its previous lock expired.
   *
   * @param lease The key, the holder's unique value and the TTL in milliseconds.
   * @returns A promise that resolves once the lock is stored, to a
   * {@linkcode LockGrant} when the adapter issues fencing tokens.
   * @throws {LockCreateError} When an unexpired lock holds the key.
   * @throws {ValidationError} When an argument is invalid.
   * @example Lock a free key
   * ```ts
   * import { type ILockAdapter, InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter: ILockAdapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "me", ttl: 1000 });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "me" }), true);
   * ```
   */
  createLock(lease: LockLease): Promise<void | LockGrant>;
  /**
   * Deletes the lock if this unique value holds it, unexpired.
   *
   * @param identity The key and the holder's unique value.
   * @returns A promise that resolves once the lock is deleted.
   * @throws {LockReleaseError} When the lock expired or another holder owns the key.
   * @throws {ValidationError} When an argument is invalid.
   * @example Release by the owner
   * ```ts
   * import { type ILockAdapter, InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter: ILockAdapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "me", ttl: 1000 });
   * await adapter.releaseLock({ key: "k", uniqueValue: "me" });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "me" }), false);
   * ```
   */
  releaseLock(identity: LockIdentity): Promise<void>;
  /**
   * Sets the lock's expiry to now + `ttl` if this unique value holds it, unexpired.
   *
   * @param lease The key, the holder's unique value and the new TTL in milliseconds.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} When the lock expired or another holder owns the key.
   * @throws {ValidationError} When an argument is invalid.
   * @example Extend by the owner
   * ```ts
   * import { type ILockAdapter, InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter: ILockAdapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "me", ttl: 1000 });
   * await adapter.extendLock({ key: "k", uniqueValue: "me", ttl: 60_000 });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "me" }), true);
   * ```
   */
  extendLock(lease: LockLease): Promise<void>;
  /**
   * Tells whether this unique value holds the key, unexpired.
   *
   * @param identity The key and the holder's unique value.
   * @returns Whether the lock is held by this unique value.
   * @throws {ValidationError} When an argument is invalid.
   * @example Ask about someone else's lock
   * ```ts
   * import { type ILockAdapter, InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter: ILockAdapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "me", ttl: 1000 });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "someone-else" }), false);
   * ```
   */
  isValidLock(identity: LockIdentity): Promise<boolean>;
  /**
   * Optional: waits until an attempt to take the key may succeed, so that
   * `acquire()` retries when the key is released instead of after a blind
   * sleep. `acquire()` calls it after each attempt that met contention, in
   * place of sleeping the retry delay, and attempts again once it settles.
   *
   * - Resolve when the key was released (or handed to this waiter), or after
   *   `maxWaitMs` at the latest, which is the retry delay: the longest time
   *   between two attempts (a bounded poll, so a lost notification only
   *   delays a waiter). Resolving early is always safe.
   * - One `acquire()` calls it repeatedly with the same `identity` and the
   *   same `signal`: the wait session. `signal` aborts when that `acquire()`
   *   stops waiting for good (it took the lock, gave up, or its caller
   *   aborted); settle promptly then, and drop what you kept for this waiter
   *   (its place in a queue, say). A backend failure should resolve rather
   *   than reject, so that the next attempt reports it.
   * - Never throw synchronously.
   *
   * Adapters without this method get the plain sleep.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait, in milliseconds (0 or more).
   * @param signal Aborts when the wait session ends.
   * @returns A promise that settles when the next attempt should be made.
   * @example A waiter woken by a release
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "holder", ttl: 60_000 });
   * const session = new AbortController();
   * const woken = adapter.waitForUnlock({ key: "k", uniqueValue: "waiter" }, 60_000, session.signal);
   * await adapter.releaseLock({ key: "k", uniqueValue: "holder" });
   * await woken; // well before 60 s
   * await adapter.createLock({ key: "k", uniqueValue: "waiter", ttl: 1000 });
   * session.abort();
   * ```
   */
  waitForUnlock?(identity: LockIdentity, maxWaitMs: number, signal: AbortSignal): Promise<void>;
  /**
   * Optional: tells whether a lock holds the key, without taking it and
   * without revealing the holder's unique value. `locker.inspect()` calls it;
   * without it, `locker.inspect()` rejects with `UnsupportedError`.
   *
   * @param key The resource key.
   * @returns `undefined` when the key is free (never locked, released, or
   * expired), else {@linkcode LockInfo}.
   * @throws {ValidationError} When the key is invalid.
   * @example Inspect a key
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter = new InMemoryAdapter();
   * assert.equal(await adapter.inspectLock("k"), undefined);
   * const { fence } = await adapter.createLock({ key: "k", uniqueValue: "me", ttl: 1000 });
   * const info = await adapter.inspectLock("k");
   * assert.equal(info?.fence, fence);
   * assert.ok(info!.expiresIn > 0 && info!.expiresIn <= 1000);
   * ```
   */
  inspectLock?(key: string): Promise<LockInfo | undefined>;
  /**
   * Optional: an adapter over the same store whose locks are the slots of
   * counting semaphores: its `createLock` succeeds while fewer than `limit`
   * unexpired holders hold the key, each with its own lease (and fence, a
   * token that grows with every slot taken on the key); the other methods
   * act on the caller's own slot. Semaphore keys are apart from lock keys.
   * `locker.semaphore()` calls it; without it, that call throws
   * `UnsupportedError`.
   *
   * @param limit The most holders at once: an integer from 1 to 2147483647.
   * @returns The adapter of the slots.
   * @throws {ValidationError} When `limit` is invalid.
   * @example Two slots
   * ```ts
   * import { InMemoryAdapter, LockCreateError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const slots = new InMemoryAdapter().semaphore(2);
   * await slots.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   * await slots.createLock({ key: "k", uniqueValue: "b", ttl: 1000 });
   * await assert.rejects(slots.createLock({ key: "k", uniqueValue: "c", ttl: 1000 }), LockCreateError);
   * ```
   */
  semaphore?(limit: number): ILockAdapter;
  /**
   * Optional: an adapter over the same store whose locks hold all of `keys`
   * at once, taken atomically. Its methods ignore the `key` they are given;
   * its `createLock` may resolve to `{ fences }`, one token per key in
   * `keys` order. `locker.lock([k1, k2], ttl)` uses it when present; without
   * it, the keys are taken one by one in sorted order, and a busy key undoes
   * the ones taken before it.
   *
   * @param keys Two or more distinct, valid keys.
   * @returns The adapter of the multi-key lock.
   * @throws {ValidationError} When the store cannot take these keys together.
   * @example Ask for an atomic multi-key lock when the adapter offers one
   * ```ts
   * import { type ILockAdapter, InMemoryAdapter } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter: ILockAdapter = new InMemoryAdapter();
   * assert.equal(typeof adapter.multi, "undefined"); // keys taken one by one, in order
   * ```
   */
  multi?(keys: string[]): ILockAdapter;
  /**
   * Optional: an adapter over the same store whose locks are one side of
   * read-write locks: many holders of the `"read"` side at once, or one of
   * the `"write"` side, never both. Writer-preferring: while a writer waits,
   * new readers are refused, so readers cannot starve writers. Read-write
   * keys are apart from lock and semaphore keys. `locker.readWrite()` calls
   * it; without it, that call throws `UnsupportedError`.
   *
   * @param mode `"read"` or `"write"`.
   * @returns The adapter of that side.
   * @throws {ValidationError} When `mode` is neither.
   * @example Readers share, a writer waits
   * ```ts
   * import { InMemoryAdapter, LockCreateError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter = new InMemoryAdapter();
   * const readers = adapter.readWrite("read");
   * await readers.createLock({ key: "doc", uniqueValue: "r1", ttl: 1000 });
   * await readers.createLock({ key: "doc", uniqueValue: "r2", ttl: 1000 });
   * const writer = adapter.readWrite("write");
   * await assert.rejects(writer.createLock({ key: "doc", uniqueValue: "w", ttl: 1000 }), LockCreateError);
   * ```
   */
  readWrite?(mode: "read" | "write"): ILockAdapter;
}

/**
 * What {@linkcode ILockAdapter.inspectLock} and `locker.inspect()` report of a
 * held key. The holder's unique value is left out on purpose: it is the
 * capability to release or extend the lock.
 *
 * @example Read a report
 * ```ts
 * import type { LockInfo } from "@kontsedal/locco";
 * const info: LockInfo = { expiresIn: 1200, fence: 1_764_237_000_000_001 };
 * console.assert(info.expiresIn > 0);
 * ```
 */
export interface LockInfo {
  /**
   * Milliseconds until another caller may take the key if its holder
   * neither releases nor extends it, on the store's clock (including the
   * adapter's clock drift margin, where it has one). Always at least 1.
   */
  expiresIn: number;
  /** The holder's fencing token, on adapters that issue them. */
  fence?: number | undefined;
}

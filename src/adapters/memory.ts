// Copyright 2026 the locco authors. MIT license.

/**
 * The in-memory adapter: locks held in a `Map` inside one process. Use it in
 * unit tests and single-process programs; it is also the embedded default of
 * the demo. Holding a lock uses no timer (expiry is checked on a monotonic clock
 * when a lock is used), so it never keeps a process alive, and tests can
 * control its clock.
 *
 * ```ts
 * import { InMemoryAdapter } from "@kontsedal/locco/memory";
 * import { Locker } from "@kontsedal/locco";
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
 *
 * @module
 */

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockExtendError, LockReleaseError, ValidationError } from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import {
  describe,
  validateIdentity,
  validateKey,
  validateLease,
  validateLimit,
  validateMode,
  validateObject,
} from "../_validate.ts";
import { MemoryReadWrite } from "./_memory_rw.ts";
import { MemorySemaphores } from "./_memory_semaphore.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";
import { offerInProcessLocks, refusalError, type WaitSession } from "../_wait_session.ts";

/**
 * Options of {@linkcode InMemoryAdapter}.
 *
 * @example A clock the test moves by hand
 * ```ts
 * import { InMemoryAdapter, type InMemoryAdapterOptions } from "@kontsedal/locco/memory";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * const options: InMemoryAdapterOptions = { now: () => now };
 * const adapter = new InMemoryAdapter(options);
 * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 100 });
 * now = 99;
 * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), true);
 * now = 100;
 * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), false);
 * ```
 */
export interface InMemoryAdapterOptions {
  /**
   * The clock, in milliseconds. It must never go backwards. Tests pass a
   * function over a variable they advance, so expiry needs no real sleep.
   *
   * @default {() => performance.now()}
   */
  now?: (() => number) | undefined;
}

interface Entry {
  /** `undefined` once released: the entry stays for a while to keep `fence`. */
  uniqueValue: string | undefined;
  expireAt: number;
  fence: number;
}

const MIN_SWEEP_SIZE = 64;
// An entry is dropped only after it has been expired this long, and a new
// key's first token is at least the clock in microseconds, so tokens keep
// growing across a sweep (unless a key sees a million acquisitions within
// one millisecond of the clock).
const SWEEP_AFTER_MS = 1000;
// Fences are the clock in microseconds: keep that a safe integer.
const MAX_CLOCK_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/**
 * Keeps locks in a `Map` in this process. Two instances do not share locks.
 *
 * One rule decides validity everywhere: a lock is held while
 * `now < expireAt`, where `expireAt = now + ttl` at create or extend time.
 * Expired entries are taken over on create and swept in bulk as the map grows,
 * so memory stays bounded without any timer.
 *
 * Every acquisition gets a fencing token (`lock.fence`): the key's previous
 * token plus one, and at least the clock in microseconds, so it keeps growing
 * after releases, expiries and sweeps.
 *
 * @example Contention, then release
 * ```ts
 * import { InMemoryAdapter } from "@kontsedal/locco/memory";
 * import { LockCreateError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const adapter = new InMemoryAdapter();
 * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
 * await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "b", ttl: 1000 }), LockCreateError);
 * await adapter.releaseLock({ key: "k", uniqueValue: "a" });
 * await adapter.createLock({ key: "k", uniqueValue: "b", ttl: 1000 });
 * ```
 */
export class InMemoryAdapter implements ILockAdapter {
  #locks: Map<string, Entry> = new Map();
  #now: () => number;
  /** Whether `#now` is the monotonic clock a Lock reads before each attempt. */
  #monotonic: boolean;
  #semaphores: MemorySemaphores;
  #readWrite: MemoryReadWrite;
  #sweepAt = MIN_SWEEP_SIZE;

  /**
   * Creates an empty in-memory store.
   *
   * @param options `now`, the clock.
   * @throws {ValidationError} When `options.now` is not a function.
   * @example Default clock
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco/memory";
   * import assert from "node:assert/strict";
   * const adapter = new InMemoryAdapter();
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), false);
   * ```
   */
  constructor(options: InMemoryAdapterOptions = {}) {
    validateObject(options, "options");
    const { now = monotonicNow } = options;
    this.#monotonic = now === monotonicNow;
    if (typeof now !== "function") {
      throw new ValidationError(
        `options.now should be a function: got ${describe(now)}`,
        "options.now",
      );
    }
    this.#now = () => {
      const value = now();
      // The clock decides who holds a lock: a value it cannot order (NaN) or
      // one past the safe integer range (fences are microseconds) is refused.
      if (typeof value !== "number" || !Number.isFinite(value) || Math.abs(value) > MAX_CLOCK_MS) {
        throw new ValidationError(
          `options.now should return a finite number of milliseconds up to ${MAX_CLOCK_MS}: got ${
            describe(value)
          }`,
          "options.now",
        );
      }
      return value;
    };
    this.#semaphores = new MemorySemaphores(this.#now);
    this.#readWrite = new MemoryReadWrite(this.#now);
    // Locks of this package skip, for this adapter, the Error of each
    // refusal and the AbortController of each wait session.
    offerInProcessLocks(this, {
      createLock: InMemoryAdapter.prototype.createLock,
      waitForUnlock: InMemoryAdapter.prototype.waitForUnlock,
      tryCreate: (lease, now) => this.#tryCreate(lease, this.#monotonic ? now : this.#now()),
      openSession: (identity, signal) => this.#openSession(identity, signal),
    });
  }

  /**
   * Stores the lock if the key is free or its lock expired.
   *
   * @param lease The key, unique value and ttl in milliseconds.
   * @returns A promise that resolves to the lock's fencing token once the lock is stored.
   * @throws {LockCreateError} When an unexpired lock holds the key (even with the same unique value).
   * @throws {ValidationError} When an argument is invalid, or `options.now` returned an unusable time.
   * @example Take a free key
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco/memory";
   * import assert from "node:assert/strict";
   * const adapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), true);
   * ```
   */
  async createLock(lease: LockLease): Promise<LockGrant> {
    const valid = validateLease(lease);
    const result = this.#tryCreate(valid, this.#now());
    if (typeof result === "string") throw refusalError(valid.key, result);
    return result;
  }

  // createLock for a valid lease at `now` (the adapter's clock): the grant,
  // or why the key was refused.
  #tryCreate({ key, uniqueValue, ttl }: LockLease, now: number): LockGrant | string {
    const entry = this.#locks.get(key);
    if (entry?.uniqueValue !== undefined && now < entry.expireAt) {
      return "is already locked";
    }
    // While a key has waiters, only the first may take it; anyone else is
    // refused, and wakes the first so that the free key is taken now.
    const head = this.#waiters.head(key);
    if (head !== undefined && head.uniqueValue !== uniqueValue) {
      this.#waiters.wake(head);
      return "is promised to an earlier waiter";
    }
    const fence = Math.max((entry?.fence ?? 0) + 1, Math.floor(now * 1000));
    this.#locks.set(key, { uniqueValue, expireAt: now + ttl, fence });
    if (head !== undefined) this.#waiters.leave(head, true);
    if (this.#locks.size >= this.#sweepAt) this.#sweep(now);
    return { fence };
  }

  /**
   * Deletes the lock if this unique value holds it, unexpired.
   *
   * @param identity The key and unique value.
   * @returns A promise that resolves once the lock is deleted.
   * @throws {LockReleaseError} "Lock is already expired" or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid, or `options.now` returned an unusable time.
   * @example Release by the owner
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco/memory";
   * import assert from "node:assert/strict";
   * const adapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   * await adapter.releaseLock({ key: "k", uniqueValue: "a" });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), false);
   * ```
   */
  async releaseLock(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const now = this.#now();
    const entry = this.#locks.get(key);
    if (entry?.uniqueValue === undefined || now >= entry.expireAt) {
      throw new LockReleaseError("Lock is already expired");
    }
    if (entry.uniqueValue !== uniqueValue) throw new LockReleaseError("Lock is already taken");
    entry.uniqueValue = undefined;
    entry.expireAt = now;
    this.#wakeHead(key);
  }

  /**
   * Sets the expiry to now + `ttl` if this unique value holds the lock, unexpired.
   *
   * @param lease The key, unique value and new ttl in milliseconds.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} "Lock is already expired" or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid, or `options.now` returned an unusable time.
   * @example Extend by the owner
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco/memory";
   * import assert from "node:assert/strict";
   * let now = 0;
   * const adapter = new InMemoryAdapter({ now: () => now });
   * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 100 });
   * await adapter.extendLock({ key: "k", uniqueValue: "a", ttl: 500 });
   * now = 400;
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), true);
   * ```
   */
  async extendLock(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const entry = this.#liveEntry(key);
    if (entry === undefined) throw new LockExtendError("Lock is already expired");
    if (entry.uniqueValue !== uniqueValue) throw new LockExtendError("Lock is already taken");
    entry.expireAt = this.#now() + ttl;
  }

  /**
   * Tells whether this unique value holds the key, unexpired.
   *
   * @param identity The key and unique value.
   * @returns Whether the lock is held by this unique value.
   * @throws {ValidationError} When an argument is invalid, or `options.now` returned an unusable time.
   * @example Another owner's lock
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco/memory";
   * import assert from "node:assert/strict";
   * const adapter = new InMemoryAdapter();
   * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   * assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "b" }), false);
   * ```
   */
  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    return this.#liveEntry(key)?.uniqueValue === uniqueValue;
  }

  /**
   * Reports whether a lock holds the key, with its remaining time and fence,
   * without taking it or revealing its unique value.
   *
   * @param key The resource key.
   * @returns `undefined` when the key is free, else its {@linkcode LockInfo}.
   * @throws {ValidationError} When the key is invalid, or `options.now` returned an unusable time.
   * @example Inspect a held key
   * ```ts
   * import { InMemoryAdapter } from "@kontsedal/locco/memory";
   * import assert from "node:assert/strict";
   * let now = 0;
   * const adapter = new InMemoryAdapter({ now: () => now });
   * const { fence } = await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   * now = 400;
   * assert.deepEqual(await adapter.inspectLock("k"), { expiresIn: 600, fence });
   * ```
   */
  async inspectLock(key: string): Promise<LockInfo | undefined> {
    const entry = this.#liveEntry(validateKey(key));
    if (entry === undefined) return undefined;
    return { expiresIn: Math.max(1, Math.ceil(entry.expireAt - this.#now())), fence: entry.fence };
  }

  /**
   * The adapter of counting semaphores of `limit` holders, on this store: up
   * to `limit` unexpired holders per key, each with its own lease and fence,
   * waiters woken by releases first come first served. Semaphore keys are
   * apart from lock keys. `locker.semaphore()` uses it.
   *
   * @param limit The most holders at once: an integer from 1 to 2147483647.
   * @returns The adapter of the slots.
   * @throws {ValidationError} When `limit` is invalid.
   * @example Three workers at most
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 100 },
   * });
   * let running = 0;
   * let most = 0;
   * await Promise.all(Array.from({ length: 8 }, () =>
   *   locker.semaphore("encoder", 3, 5000).acquire(async () => {
   *     most = Math.max(most, ++running);
   *     await new Promise((resolve) => setTimeout(resolve, 5));
   *     running--;
   *   })));
   * assert.equal(most, 3);
   * ```
   */
  semaphore(limit: number): ILockAdapter {
    return this.#semaphores.view(validateLimit(limit));
  }

  /**
   * The adapter of one side of read-write locks, on this store: many
   * readers or one writer per key, writer-preferring, waiters woken by
   * releases. Read-write keys are apart from lock and semaphore keys.
   * `locker.readWrite()` uses it.
   *
   * @param mode `"read"` or `"write"`.
   * @returns The adapter of that side.
   * @throws {ValidationError} When `mode` is neither.
   * @example Readers together, then the writer alone
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 100 },
   * });
   * const config = locker.readWrite("config", 5000);
   * const [a, b] = await Promise.all([config.read().acquire(), config.read().acquire()]);
   * assert.equal(await config.write().tryAcquire(), undefined);
   * await Promise.all([a.release(), b.release()]);
   * await config.write().acquire(() => {});
   * ```
   */
  readWrite(mode: "read" | "write"): ILockAdapter {
    return this.#readWrite.view(validateMode(mode));
  }

  #liveEntry(key: string): Entry | undefined {
    const entry = this.#locks.get(key);
    if (entry?.uniqueValue === undefined || this.#now() >= entry.expireAt) return undefined;
    return entry;
  }

  // Drops long-expired entries once the map has doubled since the last sweep:
  // amortised O(1) per create, and memory bounded by about twice the keys used
  // in the last second.
  #sweep(now: number): void {
    for (const [key, entry] of this.#locks) {
      if (entry.expireAt <= now - SWEEP_AFTER_MS) this.#locks.delete(key);
    }
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, this.#locks.size * 2);
  }

  // Waiters of a key queue here, FIFO, and the one at the head is woken
  // directly by a release. While a key has waiters, only the head may take
  // it, so a newcomer cannot barge past them. A lock that expires wakes
  // nobody, but the first attempt of any waiter that finds the key free wakes
  // the head, so a head with a long retry delay does not hold up the others.
  #waiters: WaitQueue<Waiter> = new WaitQueue((waiter, wasHead) => {
    if (wasHead && this.#liveEntry(waiter.key) === undefined) this.#wakeHead(waiter.key);
  });

  /**
   * Waits, first come first served, until this waiter is at the head of the
   * key's queue and the key was released, or `maxWaitMs` passed, or `signal`
   * aborted. The waiter keeps its place between calls with the same `signal`
   * and leaves the queue when it takes the key or `signal` aborts.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @example Two waiters served in arrival order
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10_000, retryTimes: 5 },
   * });
   * const order: string[] = [];
   * const first = await locker.lock("k", 60_000).acquire();
   * const a = locker.lock("k", 60_000).acquire(() => void order.push("a"));
   * const b = locker.lock("k", 60_000).acquire(() => void order.push("b"));
   * await new Promise((resolve) => setTimeout(resolve, 10));
   * await first.release();
   * await Promise.all([a, b]); // woken by the releases, not after 10 s
   * assert.deepEqual(order, ["a", "b"]);
   * ```
   */
  waitForUnlock(identity: LockIdentity, maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.#waiters.wait(
      identity,
      maxWaitMs,
      signal,
      (key, uniqueValue) => ({ key, uniqueValue, signal }),
      (waiter) => this.#mayTake(waiter),
    );
  }

  // waitForUnlock's queue, for a Lock of this package: no session signal.
  #openSession({ key, uniqueValue }: LockIdentity, signal: AbortSignal | undefined): WaitSession {
    const waiters = this.#waiters;
    const waiter = waiters.open(key, () => ({ key, uniqueValue, signal: undefined }));
    return {
      wait: (ms) => this.#mayTake(waiter) ? Promise.resolve() : waiters.pause(waiter, ms, signal),
      end: () => waiters.leave(waiter),
    };
  }

  #mayTake(waiter: Waiter): boolean {
    return this.#waiters.head(waiter.key) === waiter && this.#liveEntry(waiter.key) === undefined;
  }

  #wakeHead(key: string): void {
    const head = this.#waiters.head(key);
    if (head !== undefined) this.#waiters.wake(head);
  }
}

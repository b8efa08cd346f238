// Copyright 2026 the locco authors. MIT license.

/**
 * The MongoDB adapter: locks are documents `{ key, uniqueValue, expireAt, ... }`
 * in one collection (default `"locco-locks"`) with a unique index on `key`.
 * You bring the client (the `mongodb` driver 6 or 7, or anything shaped like
 * it); locco does not import the driver. Lock creation is one filtered upsert
 * that only matches an expired lock, so the unique index makes it atomic.
 * Expiry uses the application host's clock plus a drift margin that keeps
 * hosts whose clocks differ by up to `clockDriftMargin` milliseconds from
 * taking over each other's locks early.
 *
 * ```ts
 * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
 * import { Locker } from "@kontsedal/locco";
 *
 * // Pass `new MongoClient("mongodb://localhost:27017")` from the "mongodb" package.
 * export async function countVisit(client: MongoLikeClient): Promise<{ success: boolean }> {
 *   const locker = new Locker({
 *     adapter: new MongoAdapter({ client, dbName: "my-app" }),
 *     retrySettings: { retryDelay: 200, retryTimes: 10 },
 *   });
 *   return await locker.lock("user:123", 3000).acquire(async (lock) => {
 *     await lock.extend(2000);
 *     return { success: true };
 *   });
 * }
 * ```
 *
 * @module
 */

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import {
  LoccoError,
  LockCreateError,
  LockExtendError,
  LockReleaseError,
  ValidationError,
} from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import { MongoHolders } from "./_mongo_holders.ts";
import { checkAcknowledged, DUPLICATE_KEY, isKeyConflict, PRIMARY } from "./_mongo_shared.ts";
import {
  describe,
  validateDriftMargin,
  validateIdentity,
  validateKey,
  validateLease,
  validateLimit,
  validateMode,
  validateObject,
} from "../_validate.ts";

/**
 * The collection methods {@linkcode MongoAdapter} calls: a `Collection` of the
 * `mongodb` driver (6 or 7) matches it.
 *
 * @example A collection from the driver
 * ```ts
 * import type { MongoLikeClient, MongoLikeCollection } from "@kontsedal/locco/mongodb";
 *
 * export function locksOf(client: MongoLikeClient): MongoLikeCollection {
 *   return client.db("my-app").collection("my-locks");
 * }
 * ```
 */
export interface MongoLikeCollection {
  /**
   * Creates an index if it does not exist (a no-op when the same index exists).
   *
   * @param indexSpec The indexed field, `{ key: 1 }` or `{ expireAt: 1 }`.
   * @param options `{ unique: true }` or `{ expireAfterSeconds: 0 }`.
   * @returns The index name.
   */
  createIndex(
    indexSpec: { [field: string]: 1 },
    options: { unique?: boolean; expireAfterSeconds?: number },
  ): Promise<unknown>;
  /**
   * Updates the first document matching `filter`, or inserts one when `upsert` is set.
   *
   * @param filter The query.
   * @param update `$set`, with `$inc` and `$setOnInsert` (acquire) or `$unset` (release).
   * @param options `{ upsert: true }` for lock and semaphore creation only.
   * @returns The write result; `acknowledged` is false for write concern `w: 0`.
   */
  updateOne(
    filter: { [field: string]: unknown },
    update: {
      $set: { [field: string]: unknown };
      $inc?: { [field: string]: number };
      $setOnInsert?: { [field: string]: unknown };
      $unset?: { [field: string]: "" };
    },
    options?: { upsert?: boolean },
  ): Promise<{ acknowledged?: boolean; matchedCount: number; upsertedCount?: number }>;
  /**
   * Deletes the first document matching `filter`. Used only to undo an
   * acquisition that found the collection without its unique index.
   *
   * @param filter The query.
   * @returns The write result.
   */
  deleteOne(filter: { [field: string]: unknown }): Promise<unknown>;
  /**
   * Deletes every document matching `filter`. Optional: used only to repair a
   * collection whose unique index cannot be built because a lost index let
   * duplicate documents in (it removes only expired and unowned ones).
   *
   * @param filter The query.
   * @returns The write result.
   */
  deleteMany?(filter: { [field: string]: unknown }): Promise<unknown>;
  /**
   * Finds the first document matching `filter`.
   *
   * @param filter The query.
   * @param options A projection, `{ projection: { _id: 1 } }`, and
   *   `readPreference: "primary"`: the adapter never reads from a secondary,
   *   whose data may be stale, whatever the client's read preference.
   * @returns The document, or `null` when none matches.
   */
  findOne(
    filter: { [field: string]: unknown },
    options: { projection: { [field: string]: 0 | 1 }; readPreference: "primary" },
  ): Promise<unknown>;
}

/**
 * The client {@linkcode MongoAdapter} takes: a `MongoClient` of the `mongodb`
 * driver (6 or 7) matches it. The adapter only calls `db(dbName)` and
 * `collection(name)`, at construction, and never opens or closes the client.
 *
 * @example A structural stand-in is accepted too
 * ```ts
 * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
 *
 * export function adapterFor(client: MongoLikeClient): MongoAdapter {
 *   return new MongoAdapter({ client });
 * }
 * ```
 */
export interface MongoLikeClient {
  /**
   * Returns a database handle without I/O.
   *
   * @param dbName The database name; the connection string's database when left out.
   * @returns The database handle.
   */
  db(dbName?: string): {
    /**
     * Returns a collection handle without I/O.
     *
     * @param name The collection name.
     * @returns The collection handle.
     */
    collection(name: string): MongoLikeCollection;
  };
}

/**
 * Options of {@linkcode MongoAdapter}.
 *
 * @example Every option
 * ```ts
 * import { MongoAdapter, type MongoAdapterOptions, type MongoLikeClient } from "@kontsedal/locco/mongodb";
 *
 * export function adapterFor(client: MongoLikeClient): MongoAdapter {
 *   const options: MongoAdapterOptions = {
 *     client,
 *     dbName: "my-app",
 *     locksCollectionName: "my-locks",
 *     clockDriftMargin: 250,
 *   };
 *   return new MongoAdapter(options);
 * }
 * ```
 */
export interface MongoAdapterOptions {
  /** The MongoDB client, for example `new MongoClient(url)` of the `mongodb` package. */
  client: MongoLikeClient;
  /**
   * The database name passed to `client.db()`.
   *
   * @default {undefined} (the database of the connection string)
   */
  dbName?: string | undefined;
  /**
   * The collection holding the locks.
   *
   * @default {"locco-locks"}
   */
  locksCollectionName?: string | undefined;
  /**
   * The largest difference, in milliseconds, between the clocks of any two
   * hosts that share this collection. A lock that expired at `expireAt` (by
   * its holder's clock) is taken over only once the taker's clock reads
   * `expireAt + clockDriftMargin`, so no host takes a lock that its holder
   * still considers valid while their clocks differ by at most this much.
   * The holder's own view is unchanged (valid until `expireAt`); waiters pay
   * up to this much extra delay. `0` gives the plain `expireAt <= now` check.
   * An integer from 0 to 2147483647. The TTL index deletes expired documents
   * by the database server's clock (about once a minute), which this margin
   * does not cover: keep the server's clock from running ahead of the hosts'.
   *
   * @default {50}
   */
  clockDriftMargin?: number | undefined;
  /**
   * The wall clock, in epoch milliseconds. Replace it only to use a better
   * synchronised time source, or in tests.
   *
   * @default {Date.now}
   */
  now?: (() => number) | undefined;
  /**
   * Issue a fencing token with every acquisition (`lock.fence`). It costs one
   * `findOne` after the acquiring `updateOne` (sent beside the uniqueness
   * check), and three more writes and reads when the key's lock document is
   * new (its fence base comes from the key's fence floor); turn it off to
   * save them when nothing checks the tokens.
   *
   * @default {true}
   */
  fencing?: boolean | undefined;
}

const DEFAULT_COLLECTION = "locco-locks";
// A released lock's document keeps its fencing counter for the next
// acquisition, unowned and expired at the epoch: free for every host,
// including locco 0.1.0 ones (whose acquire only matches an `expireAt` in
// the past), whatever their clocks say. The TTL index may delete it at any
// time; the key's fence floor keeps fences growing when it does.
const RELEASED_AT = 0;
const INDEX_REFRESH_MS = 60_000;
const DEFAULT_DRIFT_MARGIN_MS = 50;

/**
 * Keeps locks in a MongoDB collection. Several adapters (in several
 * processes) on the same collection share the locks.
 *
 * Storage: one lock document per key, `{ key, uniqueValue, expireAt, fence,
 * fenceBase }`, and one fence floor per fenced key, `{ key: { fence: key },
 * fenceFloor }` (no lock query matches it, no TTL deletes it), with a unique index on `key` and a TTL index on `expireAt`
 * (`expireAfterSeconds: 0`, cleanup only: expiry never depends on documents
 * being deleted). The first `createLock` creates both indexes (once, even
 * under concurrent first calls); a failure rejects that call and is retried
 * by the next one.
 *
 * - `createLock`: `updateOne({ key, $or: [{ expireAt: { $lte: now -
 *   clockDriftMargin } }, { uniqueValue: null }] }, { $set: { key, uniqueValue,
 *   expireAt: now + ttl }, $inc: { fence: 1 } }, { upsert: true })`. A held
 *   key makes the upsert insert a second document, which the unique index
 *   rejects with E11000: that, and only that, is `LockCreateError`. Then one
 *   `findOne` checks that the key has no second document (a lost unique
 *   index) and, beside it, one reads the fencing token, `fenceBase + fence`
 *   (unless `fencing: false`). A document without `fenceBase` first gets `nowMicros + the key's
 *   fence floor`, after the floor was raised by `(clockDriftMargin + 1) *
 *   1000`, so fences grow even when lock documents are deleted.
 * - `releaseLock`: `updateOne({ key, uniqueValue, expireAt: { $gt: now } },
 *   { $set: { expireAt: epoch }, $unset: { uniqueValue: "" } })`: the key is
 *   free at once for every host, locco 0.1.0 ones included; its document keeps
 *   the fencing counter until the TTL index removes it.
 * - `extendLock`: `updateOne({ key, uniqueValue, expireAt: { $gt: now } },
 *   { $set: { expireAt: now + ttl } })`, never an upsert, so a lock that is gone
 *   is never re-created.
 * - `isValidLock`: `findOne` with the release filter.
 *
 * Use a write concern of at least `w: 1` (`"majority"` on a replica set, so
 * a failover cannot lose a lock); `w: 0` is rejected because contention
 * could not be seen.
 *
 * @example Lock with a MongoClient
 * ```ts
 * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
 * import { Locker } from "@kontsedal/locco";
 *
 * // Pass `new MongoClient("mongodb://localhost:27017")` from the "mongodb" package.
 * export async function report(client: MongoLikeClient): Promise<void> {
 *   const adapter = new MongoAdapter({ client, dbName: "my-app", locksCollectionName: "my-locks" });
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
export class MongoAdapter implements ILockAdapter {
  #collection: MongoLikeCollection;
  #driftMargin: number;
  #now: () => number;
  #fencing: boolean;
  #indexes: Promise<void> | undefined;
  #indexesAt = -Infinity;
  #holders: MongoHolders;

  /**
   * Creates the adapter. It calls `client.db(dbName).collection(name)` and
   * does no I/O: indexes are created on the first `createLock`.
   *
   * @param options The client, and optionally `dbName`, `locksCollectionName`,
   *   `clockDriftMargin` (in milliseconds) and `now`.
   * @throws {ValidationError} When an option is invalid, or the client does not
   *   have the shape of {@linkcode MongoLikeClient}.
   * @example The 0.1.0 README's setup
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   *
   * export function adapterFor(client: MongoLikeClient): MongoAdapter {
   *   return new MongoAdapter({
   *     client,
   *     dbName: "my-app", // optional
   *     locksCollectionName: "my-locks", // optional, defaults to "locco-locks"
   *   });
   * }
   * ```
   */
  constructor(options: MongoAdapterOptions) {
    validateObject(options, "options");
    const {
      client,
      dbName,
      locksCollectionName = DEFAULT_COLLECTION,
      clockDriftMargin = DEFAULT_DRIFT_MARGIN_MS,
      now = Date.now,
      fencing = true,
    } = options;
    if (typeof client !== "object" || client === null || typeof client.db !== "function") {
      throw new ValidationError(
        `options.client should be a MongoDB client with a db() method: got ${describe(client)}`,
        "options.client",
      );
    }
    if (dbName !== undefined && (typeof dbName !== "string" || dbName.length === 0)) {
      throw new ValidationError(
        `options.dbName should be a non-empty string: got ${describe(dbName)}`,
        "options.dbName",
      );
    }
    if (typeof locksCollectionName !== "string" || locksCollectionName.length === 0) {
      throw new ValidationError(
        `options.locksCollectionName should be a non-empty string: got ${
          describe(locksCollectionName)
        }`,
        "options.locksCollectionName",
      );
    }
    validateDriftMargin(clockDriftMargin);
    if (typeof fencing !== "boolean") {
      throw new ValidationError(
        `options.fencing should be a boolean: got ${describe(fencing)}`,
        "options.fencing",
      );
    }
    if (typeof now !== "function") {
      throw new ValidationError(
        `options.now should be a function: got ${describe(now)}`,
        "options.now",
      );
    }
    const db = client.db(dbName);
    const collection = typeof db?.collection === "function"
      ? db.collection(locksCollectionName)
      : undefined;
    const methods = ["createIndex", "updateOne", "deleteOne", "findOne"] as const;
    if (
      typeof collection !== "object" || collection === null ||
      methods.some((method) => typeof collection[method] !== "function")
    ) {
      throw new ValidationError(
        `options.client should return a collection with ${
          methods.join(", ")
        } from db().collection()`,
        "options.client",
      );
    }
    this.#collection = collection;
    this.#driftMargin = clockDriftMargin;
    this.#now = now;
    this.#fencing = fencing;
    this.#holders = new MongoHolders({
      collection,
      clock: () => this.#clock(),
      driftMargin: clockDriftMargin,
      fencing,
      ensureIndexes: () => this.#ensureIndexes(),
      indexLost: () => void (this.#indexes = undefined),
    });
  }

  /**
   * Stores the lock if the key is free or its lock expired at least
   * `clockDriftMargin` milliseconds ago. Creates the indexes first, on the
   * first call.
   *
   * @param lease The key, unique value and ttl in milliseconds.
   * @returns The fencing token (unless `fencing: false`), once the lock is stored.
   * @throws {LockCreateError} When an unexpired lock holds the key (a duplicate
   *   key error, code 11000, from the unique index on `key`). Every other error,
   *   including an index creation failure, rejects unchanged.
   * @throws {LoccoError} When the write is unacknowledged (write concern `w: 0`).
   * @throws {ValidationError} When an argument is invalid.
   * @example Contention
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   * import { LockCreateError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * export async function contend(client: MongoLikeClient): Promise<void> {
   *   const adapter = new MongoAdapter({ client });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 5000 });
   *   await assert.rejects(
   *     adapter.createLock({ key: "k", uniqueValue: "b", ttl: 5000 }),
   *     LockCreateError,
   *   );
   * }
   * ```
   */
  async createLock(lease: LockLease): Promise<LockGrant> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    await this.#ensureIndexes();
    const now = this.#clock();
    let result: { acknowledged?: boolean; matchedCount: number; upsertedCount?: number };
    try {
      result = await this.#collection.updateOne(
        {
          key,
          $or: [{ expireAt: { $lte: new Date(now - this.#driftMargin) } }, { uniqueValue: null }],
        },
        {
          $set: { key, uniqueValue, expireAt: new Date(now + ttl) },
          $inc: { fence: 1 },
        },
        { upsert: true },
      );
    } catch (error) {
      if (isKeyConflict(error)) {
        throw new LockCreateError(`Key ${describe(key)} is already locked`, { cause: error });
      }
      throw error;
    }
    checkAcknowledged(result);
    // The counter was bumped atomically with the acquisition; only reading it
    // needs a second round trip, beside the uniqueness check.
    const [unique, read] = await Promise.allSettled([
      this.#checkUnique(key, uniqueValue),
      this.#fencing
        ? this.#collection.findOne(
          { key, uniqueValue },
          { projection: { fence: 1, fenceBase: 1 }, readPreference: PRIMARY },
        )
        : Promise.resolve(null),
    ]);
    if (unique.status === "rejected") {
      // Unverified, so not ours to keep: undo it if the server lets us.
      if (!(unique.reason instanceof LockCreateError)) {
        await this.#collection.deleteOne({ key, uniqueValue }).catch(() => {});
      }
      throw unique.reason;
    }
    if (!this.#fencing) return {};
    if (read.status === "rejected") throw read.reason;
    const document = read.value as { fence?: unknown; fenceBase?: unknown } | null;
    if (document === null || document === undefined) {
      throw takenOver(key);
    }
    const fenceBase = document.fenceBase ?? await this.#stampFenceBase(key, uniqueValue, now);
    const fence = Number(fenceBase) + Number(document.fence);
    return Number.isSafeInteger(fence) ? { fence } : {};
  }

  // A lock document without a fence base is new (inserted, or left by locco
  // 0.1.0): every document this key had before may have been deleted, with
  // its counter, by the TTL monitor, a 0.1.0 release or the index repair.
  // Its base must exceed every fence issued from them. It is `now` in
  // microseconds plus the key's fence floor, which never shrinks (it lives
  // in a document no lock query or TTL deletion touches) and which each new
  // base raises by more than clockDriftMargin in microseconds: that covers a
  // host whose clock is behind by up to the margin, while the old document's
  // counter grew by at most one per microsecond of its life.
  async #stampFenceBase(key: string, uniqueValue: string, now: number): Promise<number> {
    const counter = { key: { fence: key } };
    const bump = () =>
      this.#collection.updateOne(
        counter,
        { $set: counter, $inc: { fenceFloor: (this.#driftMargin + 1) * 1000 } },
        { upsert: true },
      );
    // Two first upserts of one counter can race; the loser's retry updates.
    checkAcknowledged(
      await bump().catch((error) => {
        if ((error as { code?: unknown })?.code !== DUPLICATE_KEY) throw error;
        return bump();
      }),
    );
    const floor = await this.#collection.findOne(counter, {
      projection: { fenceFloor: 1 },
      readPreference: PRIMARY,
    }) as { fenceFloor?: unknown } | null;
    const fenceBase = Math.floor(now * 1000) + Number(floor?.fenceFloor);
    if (!Number.isSafeInteger(fenceBase)) return NaN;
    const result = await this.#collection.updateOne(
      { key, uniqueValue, fenceBase: null },
      { $set: { fenceBase } },
    );
    checkAcknowledged(result);
    if (!(result.matchedCount > 0)) throw takenOver(key);
    return fenceBase;
  }

  /**
   * Deletes the lock if this unique value holds it, unexpired.
   *
   * @param identity The key and unique value.
   * @returns A promise that resolves once the lock is released.
   * @throws {LockReleaseError} When the lock expired or another owner holds the key.
   * @throws {LoccoError} When the write is unacknowledged (write concern `w: 0`).
   * @throws {ValidationError} When an argument is invalid.
   * @example Release by a non-owner
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   * import { LockReleaseError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * export async function intrude(client: MongoLikeClient): Promise<void> {
   *   const adapter = new MongoAdapter({ client });
   *   await adapter.createLock({ key: "k", uniqueValue: "owner", ttl: 5000 });
   *   await assert.rejects(adapter.releaseLock({ key: "k", uniqueValue: "intruder" }), LockReleaseError);
   *   await adapter.releaseLock({ key: "k", uniqueValue: "owner" });
   * }
   * ```
   */
  async releaseLock(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const now = this.#clock();
    const result = await this.#collection.updateOne(
      { key, uniqueValue, expireAt: { $gt: new Date(now) } },
      { $set: { expireAt: new Date(RELEASED_AT) }, $unset: { uniqueValue: "" } },
    );
    checkAcknowledged(result);
    if (!(result.matchedCount > 0)) {
      throw new LockReleaseError(
        `Cannot release lock ${describe(key)}: it expired or another owner holds it`,
      );
    }
  }

  /**
   * Sets the expiry to now + `ttl` if this unique value holds the lock,
   * unexpired. It never re-creates a lock that expired, was released or was
   * taken over.
   *
   * @param lease The key, unique value and new ttl in milliseconds.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} When the lock expired or another owner holds the key.
   * @throws {LoccoError} When the write is unacknowledged (write concern `w: 0`).
   * @throws {ValidationError} When an argument is invalid.
   * @example Extend by the owner
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   *
   * export async function keep(client: MongoLikeClient): Promise<void> {
   *   const adapter = new MongoAdapter({ client });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
   *   await adapter.extendLock({ key: "k", uniqueValue: "a", ttl: 10_000 });
   * }
   * ```
   */
  async extendLock(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const now = this.#clock();
    const result = await this.#collection.updateOne(
      { key, uniqueValue, expireAt: { $gt: new Date(now) } },
      { $set: { expireAt: new Date(now + ttl) } },
    );
    checkAcknowledged(result);
    if (!(result.matchedCount > 0)) {
      throw new LockExtendError(
        `Cannot extend lock ${describe(key)}: it expired or another owner holds it`,
      );
    }
  }

  /**
   * Tells whether this unique value holds the key, unexpired.
   *
   * @param identity The key and unique value.
   * @returns Whether the lock is held by this unique value.
   * @throws {ValidationError} When an argument is invalid.
   * @example Check a lock
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   * import assert from "node:assert/strict";
   *
   * export async function check(client: MongoLikeClient): Promise<void> {
   *   const adapter = new MongoAdapter({ client });
   *   await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 5000 });
   *   assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "a" }), true);
   *   assert.equal(await adapter.isValidLock({ key: "k", uniqueValue: "b" }), false);
   * }
   * ```
   */
  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    const document = await this.#collection.findOne(
      { key, uniqueValue, expireAt: { $gt: new Date(this.#clock()) } },
      { projection: { _id: 1 }, readPreference: PRIMARY },
    );
    return document !== null && document !== undefined;
  }

  /**
   * The adapter of counting semaphores of `limit` holders, in this
   * collection: one document per semaphore (its key `{ semaphore: key }`,
   * apart from lock keys) listing its holders, each with its own lease and
   * fence. An acquire reads it and writes it back with expired holders
   * dropped (`clockDriftMargin` after their expiry, on this host's clock)
   * and itself added, if nobody wrote it meanwhile: 2 round trips, plus a
   * check that the key has one document. Waiters poll at the retry delay.
   * `locker.semaphore()` uses it.
   *
   * @param limit The most holders at once: an integer from 1 to 2147483647.
   * @returns The adapter of the slots.
   * @throws {ValidationError} When `limit` is invalid.
   * @example Two slots
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   * import { Locker } from "@kontsedal/locco";
   *
   * export async function encode(client: MongoLikeClient): Promise<void> {
   *   const locker = new Locker({
   *     adapter: new MongoAdapter({ client }),
   *     retrySettings: { retryDelay: 200, retryTimes: 50 },
   *   });
   *   await locker.semaphore("encoder", 2, 60_000).acquire(async () => {
   *     // at most two of these run at once
   *   });
   * }
   * ```
   */
  semaphore(limit: number): ILockAdapter {
    return this.#holders.semaphore(validateLimit(limit));
  }

  /**
   * The adapter of one side of read-write locks, in this collection: one
   * document per read-write lock (its key `{ readWrite: key }`, apart from
   * lock and semaphore keys) listing its holders, changed by compare-and-set
   * like semaphores. Writer-preferring: a waiting writer writes an intent
   * into the document while it waits (it lapses a second after its last
   * wait, or at once when it stops waiting), and new readers are refused
   * while one is there. Waiters poll at the retry delay.
   * `locker.readWrite()` uses it.
   *
   * @param mode `"read"` or `"write"`.
   * @returns The adapter of that side.
   * @throws {ValidationError} When `mode` is neither.
   * @example Readers and a writer
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   * import { Locker } from "@kontsedal/locco";
   *
   * export async function refresh(client: MongoLikeClient): Promise<void> {
   *   const locker = new Locker({
   *     adapter: new MongoAdapter({ client }),
   *     retrySettings: { retryDelay: 100, retryTimes: 100 },
   *   });
   *   await locker.readWrite("catalog", 30_000).write().acquire(async () => {
   *     // no reader holds "catalog" meanwhile
   *   });
   * }
   * ```
   */
  readWrite(mode: "read" | "write"): ILockAdapter {
    return this.#holders.readWrite(validateMode(mode));
  }

  /**
   * Reports whether a lock holds the key, with the time left before another
   * host may take it over (`expireAt + clockDriftMargin - now`, on this
   * host's clock) and its fencing token, without taking it or revealing its
   * unique value. One `findOne` on the primary.
   *
   * @param key The resource key.
   * @returns `undefined` when the key is free, else its {@linkcode LockInfo}.
   * @throws {ValidationError} When the key is invalid.
   * @example Inspect a key
   * ```ts
   * import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
   *
   * async function busyFor(client: MongoLikeClient): Promise<number> {
   *   const info = await new MongoAdapter({ client }).inspectLock("orders:42");
   *   return info?.expiresIn ?? 0;
   * }
   * ```
   */
  async inspectLock(key: string): Promise<LockInfo | undefined> {
    validateKey(key);
    const now = this.#clock();
    const document = await this.#collection.findOne(
      { key, expireAt: { $gt: new Date(now - this.#driftMargin) } },
      { projection: { expireAt: 1, fence: 1, fenceBase: 1 }, readPreference: PRIMARY },
    ) as { expireAt?: unknown; fence?: unknown; fenceBase?: unknown } | null | undefined;
    if (document === null || document === undefined) return undefined;
    const expireAt = document.expireAt instanceof Date ? document.expireAt.getTime() : NaN;
    if (!Number.isFinite(expireAt)) {
      throw new LoccoError(`Unexpected lock document for key ${describe(key)}: no expireAt date`);
    }
    const expiresIn = Math.max(1, Math.ceil(expireAt + this.#driftMargin - now));
    const { fenceBase } = document;
    const fence = Number(fenceBase) + Number(document.fence);
    return this.#fencing && fenceBase !== null && fenceBase !== undefined &&
        Number.isSafeInteger(fence)
      ? { expiresIn, fence }
      : { expiresIn };
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

  // An acquired lock document, inserted or taken over, must be the key's
  // only one. Another one means the unique index is gone (the server lost
  // its data, or the collection was dropped), and a takeover may have
  // matched an expired duplicate beside a live lock: undo this acquisition,
  // which therefore never overlaps another holder, and create the indexes
  // again on the next call.
  async #checkUnique(key: string, uniqueValue: string): Promise<void> {
    const other = await this.#collection.findOne(
      { key, uniqueValue: { $ne: uniqueValue } },
      { projection: { _id: 1 }, readPreference: PRIMARY },
    );
    if (other === null || other === undefined) return;
    this.#indexes = undefined;
    await this.#collection.deleteOne({ key, uniqueValue });
    throw new LockCreateError(
      `Key ${
        describe(key)
      } has another lock document: the unique index on key is missing and will be created again`,
    );
  }

  // Concurrent first calls share one in-flight creation; a failure is not
  // kept, so the next call tries again. The indexes are ensured again every
  // INDEX_REFRESH_MS, so a server that lost them gets them back.
  #ensureIndexes(): Promise<void> {
    let pending = this.#indexes;
    if (pending !== undefined && monotonicNow() - this.#indexesAt > INDEX_REFRESH_MS) {
      pending = undefined;
    }
    if (pending === undefined) {
      const created = this.#createIndexes().then(() => {
        this.#indexesAt = monotonicNow();
      });
      pending = created;
      this.#indexes = created;
      this.#indexesAt = Infinity;
      created.catch(() => {
        if (this.#indexes === created) this.#indexes = undefined;
      });
    }
    return pending;
  }

  async #createIndexes(): Promise<void> {
    const collection = this.#collection;
    const results = await Promise.allSettled([
      this.#createKeyIndex(),
      collection.createIndex({ expireAt: 1 }, { expireAfterSeconds: 0 }),
    ]);
    for (const result of results) {
      if (result.status === "rejected") throw result.reason;
    }
  }

  // Duplicate documents (left while the index was gone, by an acquisition
  // that could not undo itself) keep the unique index from being built.
  // Expired and unowned ones hold no lock: drop them and build it again.
  // Live duplicates expire within their ttl, so a later call succeeds.
  async #createKeyIndex(): Promise<unknown> {
    const collection = this.#collection;
    try {
      return await collection.createIndex({ key: 1 }, { unique: true });
    } catch (error) {
      if ((error as { code?: unknown })?.code !== DUPLICATE_KEY) throw error;
      if (typeof collection.deleteMany !== "function") throw error;
      // Only lock documents: the fence floors (whose key is not a string)
      // are what keeps fences growing after their lock documents are gone.
      await collection.deleteMany({
        key: { $type: "string" },
        $or: [
          { expireAt: { $lte: new Date(this.#clock() - this.#driftMargin) } },
          { uniqueValue: null },
        ],
      });
      return await collection.createIndex({ key: 1 }, { unique: true });
    }
  }
}

function takenOver(key: string): LockCreateError {
  return new LockCreateError(`Key ${describe(key)} was taken over right after its acquisition`);
}

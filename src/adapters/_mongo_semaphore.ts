// Copyright 2026 the locco authors. MIT license.
// Counting semaphores of MongoAdapter: one document per semaphore,
// `{ key: { semaphore: key }, v, fence, fenceBase, holders: [{ uniqueValue,
// expireAt, fence }] }`, in the locks collection. Its key is not a string, so
// no lock query, TTL deletion (it has no top-level expireAt) or index repair
// touches it, and its fence counter lives as long as the collection.
//
// Acquire reads the document and writes it back with the expired holders
// dropped and the new one appended, on the condition that its version `v` is
// still the one read (every write bumps it): a compare-and-set, retried a few
// times when another write came first. Release and extend act on their own
// holder in one conditional update. Expiry is decided on the hosts' clocks,
// as for locks: a holder is dropped only `clockDriftMargin` after its expiry.

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import { describe, validateIdentity, validateKey, validateLease } from "../_validate.ts";
import { checkAcknowledged, DUPLICATE_KEY, PRIMARY } from "./_mongo_shared.ts";

/** The part of a collection the semaphores use. */
export interface SemaphoreCollection {
  updateOne(
    filter: { [field: string]: unknown },
    update: {
      $set: { [field: string]: unknown };
      $inc?: { [field: string]: number };
      $setOnInsert?: { [field: string]: unknown };
    },
    options?: { upsert?: boolean },
  ): Promise<{ acknowledged?: boolean; matchedCount: number; upsertedCount?: number }>;
  findOne(
    filter: { [field: string]: unknown },
    options: { projection: { [field: string]: 0 | 1 }; readPreference: "primary" },
  ): Promise<unknown>;
}

/** What the semaphores take from their MongoAdapter. */
export interface SemaphoreContext {
  collection: SemaphoreCollection;
  /** The host clock, epoch ms (validated). */
  clock(): number;
  driftMargin: number;
  fencing: boolean;
  ensureIndexes(): Promise<void>;
  /** Called when a second document of a key shows the unique index is gone. */
  indexLost(): void;
}

interface Holder {
  uniqueValue: string;
  expireAt: Date;
  fence?: number;
}

interface SemaphoreDocument {
  _id: unknown;
  v: number;
  fence: number;
  fenceBase?: number;
  holders: Holder[];
}

// Compare-and-set attempts of one acquire before it reports contention.
const MAX_ATTEMPTS = 8;

/** The semaphores of one MongoAdapter. */
export class MongoSemaphores {
  #context: SemaphoreContext;

  constructor(context: SemaphoreContext) {
    this.#context = context;
  }

  /** The adapter whose locks are the slots of semaphores of `limit` holders. */
  view(limit: number): ILockAdapter {
    return {
      createLock: (lease) => this.create(lease, limit),
      releaseLock: (identity) => this.release(identity),
      extendLock: (lease) => this.extend(lease),
      isValidLock: (identity) => this.isValid(identity),
      inspectLock: (key) => this.inspect(key),
    };
  }

  async create(lease: LockLease, limit: number): Promise<LockGrant> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const { collection, driftMargin } = this.#context;
    await this.#context.ensureIndexes();
    const id = { semaphore: key };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.#context.clock();
      const document = await this.#read(key) ?? await this.#insert(key, now);
      const live = document.holders.filter((h) => h.expireAt.getTime() > now - driftMargin);
      if (live.some((h) => h.uniqueValue === uniqueValue)) {
        throw new LockCreateError(`Key ${describe(key)} is already locked by this unique value`);
      }
      if (live.length >= limit) {
        throw new LockCreateError(`Semaphore ${describe(key)} has all ${limit} slots taken`);
      }
      const fence = document.fence + 1;
      const holder: Holder = { uniqueValue, expireAt: new Date(now + ttl), fence };
      const result = await collection.updateOne(
        { key: id, v: document.v },
        { $set: { holders: [...live, holder], fence }, $inc: { v: 1 } },
      );
      checkAcknowledged(result);
      if (result.matchedCount === 0) continue; // another write came first: read again
      await this.#checkUnique(key, document._id, uniqueValue);
      const token = Number(document.fenceBase) + fence;
      return this.#context.fencing && Number.isSafeInteger(token) ? { fence: token } : {};
    }
    throw new LockCreateError(
      `Semaphore ${describe(key)} changed under ${MAX_ATTEMPTS} attempts in a row`,
    );
  }

  async release(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const changed = await this.#change(key, (holders, now) => {
      const mine = holders.findIndex((h) => isMine(h, uniqueValue, now));
      return mine < 0 ? undefined : holders.filter((_, i) => i !== mine);
    });
    if (!changed) throw new LockReleaseError("Lock is already expired");
  }

  async extend(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const changed = await this.#change(key, (holders, now) => {
      if (!holders.some((h) => isMine(h, uniqueValue, now))) return undefined;
      return holders.map((h) =>
        h.uniqueValue === uniqueValue ? { ...h, expireAt: new Date(now + ttl) } : h
      );
    });
    if (!changed) throw new LockExtendError("Lock is already expired");
  }

  // Rewrites the key's holders with `edit` (undefined: nothing to do) if the
  // document did not change since it was read, reading again until it did
  // not. Resolves whether `edit` applied.
  async #change(
    key: string,
    edit: (holders: Holder[], now: number) => Holder[] | undefined,
  ): Promise<boolean> {
    for (;;) {
      const now = this.#context.clock();
      const document = await this.#read(key);
      if (document === undefined) return false;
      const holders = edit(document.holders, now);
      if (holders === undefined) return false;
      const result = await this.#context.collection.updateOne(
        { key: { semaphore: key }, v: document.v },
        { $set: { holders }, $inc: { v: 1 } },
      );
      checkAcknowledged(result);
      // Another write came first: it succeeded, so this loop ends.
      if (result.matchedCount > 0) return true;
    }
  }

  async isValid(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    const now = this.#context.clock();
    return (await this.#read(key))?.holders.some((h) => isMine(h, uniqueValue, now)) ?? false;
  }

  /** The soonest a slot can be taken over, and the newest holder's fence. */
  async inspect(key: string): Promise<LockInfo | undefined> {
    validateKey(key);
    const now = this.#context.clock();
    const document = await this.#read(key);
    const margin = this.#context.driftMargin;
    const live = document?.holders.filter((h) => h.expireAt.getTime() > now - margin) ?? [];
    if (document === undefined || live.length === 0) return undefined;
    const soonest = Math.min(...live.map((h) => h.expireAt.getTime()));
    const expiresIn = Math.max(1, Math.ceil(soonest + margin - now));
    const fence = Number(document.fenceBase) + Math.max(...live.map((h) => Number(h.fence)));
    return this.#context.fencing && Number.isSafeInteger(fence) ? { expiresIn, fence } : {
      expiresIn,
    };
  }

  async #read(key: string): Promise<SemaphoreDocument | undefined> {
    const document = await this.#context.collection.findOne(
      { key: { semaphore: key } },
      { projection: { v: 1, fence: 1, fenceBase: 1, holders: 1 }, readPreference: PRIMARY },
    ) as Partial<SemaphoreDocument> | null | undefined;
    if (document === null || document === undefined) return undefined;
    const holders = Array.isArray(document.holders) ? document.holders : [];
    return {
      _id: document._id,
      v: Number(document.v) || 0,
      fence: Number(document.fence) || 0,
      fenceBase: Number(document.fenceBase),
      holders: holders.filter((h) => h?.expireAt instanceof Date),
    };
  }

  // A semaphore's first document. Its fence base is the clock in
  // microseconds, beyond the fences of any earlier document of the key (one
  // per acquire, at most one per microsecond of its life).
  async #insert(key: string, now: number): Promise<SemaphoreDocument> {
    const id = { semaphore: key };
    const fresh = { v: 0, fence: 0, fenceBase: Math.floor(now * 1000), holders: [] };
    try {
      checkAcknowledged(
        await this.#context.collection.updateOne(
          { key: id },
          { $set: { key: id }, $setOnInsert: fresh },
          { upsert: true },
        ),
      );
    } catch (error) {
      // Two first acquires raced; the winner's document is the one.
      if ((error as { code?: unknown })?.code !== DUPLICATE_KEY) throw error;
    }
    const document = await this.#read(key);
    if (document === undefined) {
      throw new LockCreateError(`Semaphore ${describe(key)} was deleted while being created`);
    }
    return document;
  }

  // As for locks: a second document of the key means the unique index is
  // gone; undo this acquisition and have the indexes created again.
  async #checkUnique(key: string, id: unknown, uniqueValue: string): Promise<void> {
    const other = await this.#context.collection.findOne(
      { key: { semaphore: key }, _id: { $ne: id } },
      { projection: { _id: 1 }, readPreference: PRIMARY },
    );
    if (other === null || other === undefined) return;
    this.#context.indexLost();
    await this.release({ key, uniqueValue }).catch(() => {});
    throw new LockCreateError(
      `Semaphore ${
        describe(key)
      } has another document: the unique index on key is missing and will be created again`,
    );
  }
}

// A holder entry of `uniqueValue`, unexpired on the caller's clock: a holder
// acts only within its lease.
function isMine(holder: Holder, uniqueValue: string, now: number): boolean {
  return holder.uniqueValue === uniqueValue && holder.expireAt.getTime() > now;
}

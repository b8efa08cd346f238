// Copyright 2026 the locco authors. MIT license.
// Semaphores and read-write locks of MongoAdapter: one document per key and
// kind, `{ key: { semaphore: key } }` or `{ key: { readWrite: key } }`, with
// `{ v, fence, fenceBase, holders: [{ uniqueValue, side, expireAt, fence }],
// intents: [{ uniqueValue, until }] }`, in the locks collection. Its key is
// not a string, so no lock query, TTL deletion (it has no top-level
// expireAt) or index repair touches it, and its fence counter lives as long
// as the collection.
//
// Every change reads the document and writes it back on the condition that
// its version `v` is still the one read (every write bumps it): a
// compare-and-set, retried when another write came first. (The test
// stand-in has neither pipeline nor positional updates.) Expiry is decided on
// the hosts' clocks, as for locks: another caller drops a holder only
// `clockDriftMargin` after its expiry.

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import { describe, validateIdentity, validateKey, validateLease } from "../_validate.ts";
import { checkAcknowledged, DUPLICATE_KEY, PRIMARY } from "./_mongo_shared.ts";

/** The part of a collection these documents use. */
export interface HolderCollection {
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

/** What the documents take from their MongoAdapter. */
export interface HolderContext {
  collection: HolderCollection;
  /** The host clock, epoch ms (validated). */
  clock(): number;
  driftMargin: number;
  fencing: boolean;
  ensureIndexes(): Promise<void>;
  /** Called when a second document of a key shows the unique index is gone. */
  indexLost(): void;
}

/** Which holders a document has: a semaphore's slots, or a read-write lock's sides. */
type Side = "slot" | "read" | "write";

interface Holder {
  uniqueValue: string;
  side: Side;
  expireAt: Date;
  fence?: number;
}

/** A writer waiting for a read-write lock, which holds new readers back until `until`. */
interface Intent {
  uniqueValue: string;
  until: Date;
}

interface HolderDocument {
  _id: unknown;
  v: number;
  fence: number;
  fenceBase?: number;
  holders: Holder[];
  intents: Intent[];
}

/** Why `uniqueValue` may not take a holder's place now (a message), or undefined. */
type Blocker = (live: Holder[], intents: Intent[], uniqueValue: string) => string | undefined;

// Compare-and-set attempts of one acquire before it reports contention.
const MAX_ATTEMPTS = 8;

// How long a waiting writer's intent outlives the wait that set it: the next
// attempt of a writer that is still waiting comes well within it.
const INTENT_GRACE_MS = 1000;

/** The semaphores and read-write locks of one MongoAdapter. */
export class MongoHolders {
  #context: HolderContext;

  constructor(context: HolderContext) {
    this.#context = context;
  }

  /** The adapter whose locks are the slots of semaphores of `limit` holders. */
  semaphore(limit: number): ILockAdapter {
    const blocker: Blocker = (live, _, uniqueValue) => {
      if (live.some((h) => h.uniqueValue === uniqueValue)) return "held by this unique value";
      return live.length >= limit ? `full: all ${limit} slots are taken` : undefined;
    };
    return this.#view("semaphore", "slot", blocker);
  }

  /** The adapter whose locks are the `side` of read-write locks. */
  readWrite(side: "read" | "write"): ILockAdapter {
    const blocker: Blocker = (live, intents, uniqueValue) => {
      if (live.some((h) => h.side === "write")) return "write-locked";
      if (live.some((h) => h.uniqueValue === uniqueValue)) return "held by this unique value";
      const first = intents[0];
      if (side === "read") {
        // Writer-preferring: a waiting writer goes before new readers.
        return first !== undefined && intents.some((i) => i.uniqueValue !== uniqueValue)
          ? "awaited by a writer"
          : undefined;
      }
      if (live.length > 0) return "read-locked";
      // Writers go first come first served.
      return first !== undefined && first.uniqueValue !== uniqueValue
        ? "promised to an earlier writer"
        : undefined;
    };
    const view = this.#view("readWrite", side, blocker);
    if (side === "read") return view;
    return { ...view, waitForUnlock: (id, ms, signal) => this.#awaitAsWriter(id, ms, signal) };
  }

  #view(kind: string, side: Side, blocker: Blocker): ILockAdapter {
    return {
      createLock: (lease) => this.#take(kind, side, lease, blocker),
      releaseLock: (identity) => this.#release(kind, side, identity),
      extendLock: (lease) => this.#extend(kind, side, lease),
      isValidLock: (identity) => this.#isValid(kind, side, identity),
      inspectLock: (key) => this.#inspect(kind, key),
    };
  }

  async #take(kind: string, side: Side, lease: LockLease, blocker: Blocker): Promise<LockGrant> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const { collection, driftMargin } = this.#context;
    await this.#context.ensureIndexes();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.#context.clock();
      const document = await this.#read(kind, key) ?? await this.#insert(kind, key, now);
      const live = document.holders.filter((h) => h.expireAt.getTime() > now - driftMargin);
      const intents = document.intents.filter((i) => i.until.getTime() > now);
      const blocked = blocker(live, intents, uniqueValue);
      if (blocked !== undefined) throw new LockCreateError(`Key ${describe(key)} is ${blocked}`);
      const fence = document.fence + 1;
      const holder: Holder = { uniqueValue, side, expireAt: new Date(now + ttl), fence };
      const result = await collection.updateOne(
        { key: { [kind]: key }, v: document.v },
        {
          $set: {
            holders: [...live, holder],
            intents: intents.filter((i) => i.uniqueValue !== uniqueValue),
            fence,
          },
          $inc: { v: 1 },
        },
      );
      checkAcknowledged(result);
      if (result.matchedCount === 0) continue; // another write came first: read again
      await this.#checkUnique(kind, side, key, document._id, uniqueValue);
      const token = Number(document.fenceBase) + fence;
      return this.#context.fencing && Number.isSafeInteger(token) ? { fence: token } : {};
    }
    throw new LockCreateError(
      `Key ${describe(key)} changed under ${MAX_ATTEMPTS} attempts in a row`,
    );
  }

  async #release(kind: string, side: Side, identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const changed = await this.#change(kind, key, (document, now) => {
      const mine = document.holders.findIndex((h) => isMine(h, side, uniqueValue, now));
      if (mine < 0) return undefined;
      return { holders: document.holders.filter((_, i) => i !== mine) };
    });
    if (!changed) throw new LockReleaseError("Lock is already expired");
  }

  async #extend(kind: string, side: Side, lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const changed = await this.#change(kind, key, (document, now) => {
      if (!document.holders.some((h) => isMine(h, side, uniqueValue, now))) return undefined;
      return {
        holders: document.holders.map((h) =>
          isMine(h, side, uniqueValue, now) ? { ...h, expireAt: new Date(now + ttl) } : h
        ),
      };
    });
    if (!changed) throw new LockExtendError("Lock is already expired");
  }

  async #isValid(kind: string, side: Side, identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    const now = this.#context.clock();
    const document = await this.#read(kind, key);
    return document?.holders.some((h) => isMine(h, side, uniqueValue, now)) ?? false;
  }

  /** The soonest a holder's place can be taken over, and the newest holder's fence. */
  async #inspect(kind: string, key: string): Promise<LockInfo | undefined> {
    validateKey(key);
    const now = this.#context.clock();
    const document = await this.#read(kind, key);
    const margin = this.#context.driftMargin;
    const live = document?.holders.filter((h) => h.expireAt.getTime() > now - margin) ?? [];
    if (document === undefined || live.length === 0) return undefined;
    const soonest = Math.min(...live.map((h) => h.expireAt.getTime()));
    const expiresIn = Math.max(1, Math.ceil(soonest + margin - now));
    const fence = Number(document.fenceBase) + Math.max(...live.map((h) => Number(h.fence)));
    return this.#context.fencing && Number.isSafeInteger(fence)
      ? { expiresIn, fence }
      : { expiresIn };
  }

  // A waiting writer keeps an intent in the document while it waits, which
  // holds new readers back; it lapses INTENT_GRACE_MS after the wait, and is
  // removed when the writer stops waiting. Waits poll: no notification.
  async #awaitAsWriter(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    if (signal.aborted) return;
    const withdraw = () =>
      void this.#change("readWrite", key, (document) => {
        const intents = document.intents.filter((i) => i.uniqueValue !== uniqueValue);
        return intents.length === document.intents.length ? undefined : { intents };
      }).catch(() => {});
    try {
      await this.#change("readWrite", key, (document, now) => {
        const until = new Date(now + maxWaitMs + INTENT_GRACE_MS);
        const intents = document.intents.filter((i) => i.until.getTime() > now);
        const mine = intents.findIndex((i) => i.uniqueValue === uniqueValue);
        if (mine >= 0) intents[mine] = { uniqueValue, until };
        else intents.push({ uniqueValue, until });
        return { intents };
      });
    } catch {
      // A backend failure: the next attempt reports it.
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      signal.addEventListener("abort", done, { once: true });
    });
    if (signal.aborted) withdraw();
  }

  // Rewrites the key's document with `edit`'s fields (undefined: nothing to
  // do) if it did not change since it was read, reading again until it did
  // not. Resolves whether `edit` applied.
  async #change(
    kind: string,
    key: string,
    edit: (document: HolderDocument, now: number) => Partial<HolderDocument> | undefined,
  ): Promise<boolean> {
    for (;;) {
      const now = this.#context.clock();
      const document = await this.#read(kind, key);
      if (document === undefined) return false;
      const fields = edit(document, now);
      if (fields === undefined) return false;
      const result = await this.#context.collection.updateOne(
        { key: { [kind]: key }, v: document.v },
        { $set: fields, $inc: { v: 1 } },
      );
      checkAcknowledged(result);
      // Another write came first: it succeeded, so this loop ends.
      if (result.matchedCount > 0) return true;
    }
  }

  async #read(kind: string, key: string): Promise<HolderDocument | undefined> {
    const document = await this.#context.collection.findOne(
      { key: { [kind]: key } },
      {
        projection: { v: 1, fence: 1, fenceBase: 1, holders: 1, intents: 1 },
        readPreference: PRIMARY,
      },
    ) as Partial<HolderDocument> | null | undefined;
    if (document === null || document === undefined) return undefined;
    const holders = Array.isArray(document.holders) ? document.holders : [];
    const intents = Array.isArray(document.intents) ? document.intents : [];
    return {
      _id: document._id,
      v: Number(document.v) || 0,
      fence: Number(document.fence) || 0,
      fenceBase: Number(document.fenceBase),
      holders: holders.filter((h) => h?.expireAt instanceof Date),
      intents: intents.filter((i) => i?.until instanceof Date),
    };
  }

  // A key's first document. Its fence base is the clock in microseconds,
  // beyond the fences of any earlier document of the key (one per acquire,
  // at most one per microsecond of its life).
  async #insert(kind: string, key: string, now: number): Promise<HolderDocument> {
    const id = { [kind]: key };
    const fresh = { v: 0, fence: 0, fenceBase: Math.floor(now * 1000), holders: [], intents: [] };
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
    const document = await this.#read(kind, key);
    if (document === undefined) {
      throw new LockCreateError(`Key ${describe(key)} was deleted while being created`);
    }
    return document;
  }

  // As for locks: a second document of the key means the unique index is
  // gone; undo this acquisition and have the indexes created again.
  async #checkUnique(
    kind: string,
    side: Side,
    key: string,
    id: unknown,
    uniqueValue: string,
  ): Promise<void> {
    const other = await this.#context.collection.findOne(
      { key: { [kind]: key }, _id: { $ne: id } },
      { projection: { _id: 1 }, readPreference: PRIMARY },
    );
    if (other === null || other === undefined) return;
    this.#context.indexLost();
    await this.#release(kind, side, { key, uniqueValue }).catch(() => {});
    throw new LockCreateError(
      `Key ${
        describe(key)
      } has another document: the unique index on key is missing and will be created again`,
    );
  }
}

// A holder entry of `uniqueValue` on `side`, unexpired on the caller's
// clock: a holder acts only within its lease.
function isMine(holder: Holder, side: Side, uniqueValue: string, now: number): boolean {
  return holder.uniqueValue === uniqueValue && holder.side === side &&
    holder.expireAt.getTime() > now;
}

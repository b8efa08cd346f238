// Copyright 2026 the locco authors. MIT license.
// Read-write locks of InMemoryAdapter: many readers or one writer per key,
// writer-preferring (a reader is refused while a writer waits, so a stream
// of readers cannot starve writers), waiters woken by releases.

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import { describe, validateIdentity, validateKey, validateLease } from "../_validate.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";

/** Which side of a read-write lock a holder or waiter is on. */
export type ReadWriteMode = "read" | "write";

interface Holder {
  expireAt: number;
  fence: number;
}

interface Entry {
  readers: Map<string, Holder>;
  writer: { uniqueValue: string; holder: Holder } | undefined;
  fence: number;
}

interface SideWaiter extends Waiter {
  readonly mode: ReadWriteMode;
}

const MIN_SWEEP_SIZE = 64;
// An entry without holders is dropped once its last fence is this old; a
// fence is at least the clock in microseconds, so fences keep growing.
const SWEEP_AFTER_MS = 1000;

/** The read-write locks of one InMemoryAdapter. */
export class MemoryReadWrite {
  #entries: Map<string, Entry> = new Map();
  // A writer that stops waiting no longer holds readers back: wake them.
  #waiters: WaitQueue<SideWaiter> = new WaitQueue((waiter) => {
    if (waiter.mode === "write") this.#wakeAll(waiter.key);
  });
  #now: () => number;
  #sweepAt = MIN_SWEEP_SIZE;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** The adapter whose locks are the `mode` side of read-write locks. */
  view(mode: ReadWriteMode): ILockAdapter {
    return {
      createLock: (lease) => this.create(lease, mode),
      releaseLock: (identity) => this.release(identity, mode),
      extendLock: (lease) => this.extend(lease, mode),
      isValidLock: (identity) => this.isValid(identity, mode),
      waitForUnlock: (identity, maxWaitMs, signal) =>
        this.waitForUnlock(identity, maxWaitMs, signal, mode),
      inspectLock: (key) => this.inspect(key),
    };
  }

  async create(lease: LockLease, mode: ReadWriteMode): Promise<LockGrant> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const now = this.#now();
    const entry = this.#live(key, now);
    const blocker = this.#blocker(key, entry, mode, uniqueValue);
    if (blocker !== undefined) {
      throw new LockCreateError(`Key ${describe(key)} is ${blocker}`);
    }
    const held = entry ?? { readers: new Map(), writer: undefined, fence: 0 };
    const fence = Math.max(held.fence + 1, Math.floor(now * 1000));
    held.fence = fence;
    const holder = { expireAt: now + ttl, fence };
    if (mode === "read") held.readers.set(uniqueValue, holder);
    else held.writer = { uniqueValue, holder };
    this.#entries.set(key, held);
    if (this.#entries.size >= this.#sweepAt) this.#sweep(now);
    const waiter = this.#waiters.find(key, uniqueValue);
    if (waiter !== undefined) this.#waiters.leave(waiter);
    // Readers go in together: the next waiting reader may follow this one.
    if (mode === "read") this.#wakeAll(key);
    return { fence };
  }

  async release(identity: LockIdentity, mode: ReadWriteMode): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const entry = this.#live(key, this.#now());
    if (entry === undefined || this.#holder(entry, mode, uniqueValue) === undefined) {
      throw new LockReleaseError("Lock is already expired");
    }
    if (mode === "read") entry.readers.delete(uniqueValue);
    else entry.writer = undefined;
    this.#wakeAll(key);
  }

  async extend(lease: LockLease, mode: ReadWriteMode): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const now = this.#now();
    const entry = this.#live(key, now);
    const holder = entry === undefined ? undefined : this.#holder(entry, mode, uniqueValue);
    if (holder === undefined) throw new LockExtendError("Lock is already expired");
    holder.expireAt = now + ttl;
  }

  async isValid(identity: LockIdentity, mode: ReadWriteMode): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    const entry = this.#live(key, this.#now());
    return entry !== undefined && this.#holder(entry, mode, uniqueValue) !== undefined;
  }

  /** The soonest the key frees up for a writer, and the newest holder's fence. */
  async inspect(key: string): Promise<LockInfo | undefined> {
    const now = this.#now();
    const entry = this.#live(validateKey(key), now);
    const holders = [...entry?.readers.values() ?? []];
    if (entry?.writer !== undefined) holders.push(entry.writer.holder);
    if (holders.length === 0) return undefined;
    const last = Math.max(...holders.map((h) => h.expireAt));
    return {
      expiresIn: Math.max(1, Math.ceil(last - now)),
      fence: Math.max(...holders.map((h) => h.fence)),
    };
  }

  waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
    mode: ReadWriteMode,
  ): Promise<void> {
    return this.#waiters.wait(
      identity,
      maxWaitMs,
      signal,
      (key, uniqueValue) => ({ key, uniqueValue, signal, mode }),
      ({ key, uniqueValue }) =>
        this.#blocker(key, this.#live(key, this.#now()), mode, uniqueValue) === undefined,
    );
  }

  // Why `uniqueValue` may not take the `mode` side now, or undefined if it may.
  #blocker(
    key: string,
    entry: Entry | undefined,
    mode: ReadWriteMode,
    uniqueValue: string,
  ): string | undefined {
    if (entry?.writer !== undefined) return "write-locked";
    if (entry?.readers.has(uniqueValue)) return "already read-locked by this unique value";
    const queue = this.#waiters.of(key);
    if (mode === "read") {
      // Writer-preferring: a waiting writer goes before new readers.
      return queue.some((w) => w.mode === "write" && w.uniqueValue !== uniqueValue)
        ? "awaited by a writer"
        : undefined;
    }
    if ((entry?.readers.size ?? 0) > 0) return "read-locked";
    // Writers go first come first served.
    const first = queue.find((w) => w.mode === "write");
    return first !== undefined && first.uniqueValue !== uniqueValue
      ? "promised to an earlier writer"
      : undefined;
  }

  #holder(entry: Entry, mode: ReadWriteMode, uniqueValue: string): Holder | undefined {
    if (mode === "read") return entry.readers.get(uniqueValue);
    return entry.writer?.uniqueValue === uniqueValue ? entry.writer.holder : undefined;
  }

  /** The key's entry with its expired holders dropped, if it has one. */
  #live(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    for (const [uniqueValue, holder] of entry.readers) {
      if (now >= holder.expireAt) entry.readers.delete(uniqueValue);
    }
    if (entry.writer !== undefined && now >= entry.writer.holder.expireAt) {
      entry.writer = undefined;
    }
    return entry;
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) {
      const idle = this.#live(key, now)!;
      if (
        idle.writer === undefined && idle.readers.size === 0 &&
        entry.fence <= (now - SWEEP_AFTER_MS) * 1000
      ) {
        this.#entries.delete(key);
      }
    }
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, this.#entries.size * 2);
  }

  #wakeAll(key: string): void {
    for (const waiter of this.#waiters.of(key)) this.#waiters.wake(waiter);
  }
}

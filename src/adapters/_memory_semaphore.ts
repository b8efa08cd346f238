// Copyright 2026 the locco authors. MIT license.
// Counting semaphores of InMemoryAdapter: up to `limit` holders per key, each
// with its own lease and fence, waiters served first come first served.

import type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import { describe, validateIdentity, validateKey, validateLease } from "../_validate.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";

interface Holder {
  expireAt: number;
  fence: number;
}

interface SemaphoreWaiter extends Waiter {
  /** The limit of the semaphore this waiter waits for. */
  readonly limit: number;
}

interface Semaphore {
  holders: Map<string, Holder>;
  /** The last fence issued for the key: kept while the entry lives. */
  fence: number;
  /** When the last holder expired or left: the entry is dropped a while after. */
  idleSince: number;
}

const MIN_SWEEP_SIZE = 64;
// An idle entry is dropped only after this long, and a fence is at least the
// clock in microseconds, so fences keep growing across a sweep.
const SWEEP_AFTER_MS = 1000;

/**
 * The semaphores of one InMemoryAdapter, whatever limit each caller passes:
 * a key's holders are counted against the limit of the call that acquires.
 */
export class MemorySemaphores {
  #entries: Map<string, Semaphore> = new Map();
  #now: () => number;
  #sweepAt = MIN_SWEEP_SIZE;
  // While a key has waiters, only the first may take a slot; a newcomer is
  // refused and wakes it. The head leaves when it takes a slot, and the next
  // one is woken if a slot is still free.
  #waiters: WaitQueue<SemaphoreWaiter> = new WaitQueue((waiter, wasHead) => {
    const next = this.#waiters.head(waiter.key);
    if (wasHead && next !== undefined && this.#free(next.key, next.limit)) this.#waiters.wake(next);
  });

  constructor(now: () => number) {
    this.#now = now;
  }

  /** The adapter whose locks are the slots of semaphores of `limit` holders. */
  view(limit: number): ILockAdapter {
    return {
      createLock: (lease) => this.create(lease, limit),
      releaseLock: (identity) => this.release(identity),
      extendLock: (lease) => this.extend(lease),
      isValidLock: (identity) => this.isValid(identity),
      waitForUnlock: (identity, maxWaitMs, signal) =>
        this.waitForUnlock(identity, maxWaitMs, signal, limit),
      inspectLock: (key) => this.inspect(key),
    };
  }

  async create(lease: LockLease, limit: number): Promise<LockGrant> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const now = this.#now();
    const entry = this.#live(key, now);
    if (entry?.holders.has(uniqueValue)) {
      throw new LockCreateError(`Key ${describe(key)} is already locked by this unique value`);
    }
    if (entry !== undefined && entry.holders.size >= limit) {
      throw new LockCreateError(`Semaphore ${describe(key)} has all ${limit} slots taken`);
    }
    const head = this.#waiters.head(key);
    if (head !== undefined && head.uniqueValue !== uniqueValue) {
      this.#waiters.wake(head);
      throw new LockCreateError(`Semaphore ${describe(key)} is promised to an earlier waiter`);
    }
    const semaphore = entry ?? { holders: new Map(), fence: 0, idleSince: now };
    const fence = Math.max(semaphore.fence + 1, Math.floor(now * 1000));
    semaphore.fence = fence;
    semaphore.holders.set(uniqueValue, { expireAt: now + ttl, fence });
    if (entry === undefined) this.#entries.set(key, semaphore);
    if (head !== undefined) this.#waiters.leave(head);
    if (this.#entries.size >= this.#sweepAt) this.#sweep(now);
    return { fence };
  }

  async release(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const now = this.#now();
    const entry = this.#live(key, now);
    if (entry === undefined || !entry.holders.delete(uniqueValue)) {
      throw new LockReleaseError("Lock is already expired");
    }
    if (entry.holders.size === 0) entry.idleSince = now;
    this.#wakeHead(key);
  }

  async extend(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const now = this.#now();
    const holder = this.#live(key, now)?.holders.get(uniqueValue);
    if (holder === undefined) throw new LockExtendError("Lock is already expired");
    holder.expireAt = now + ttl;
  }

  async isValid(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    return this.#live(key, this.#now())?.holders.has(uniqueValue) ?? false;
  }

  /** The soonest a slot frees up unless released or extended, and the newest holder's fence. */
  async inspect(key: string): Promise<LockInfo | undefined> {
    const now = this.#now();
    const entry = this.#live(validateKey(key), now);
    if (entry === undefined || entry.holders.size === 0) return undefined;
    let soonest = Infinity;
    let fence = 0;
    for (const holder of entry.holders.values()) {
      soonest = Math.min(soonest, holder.expireAt);
      fence = Math.max(fence, holder.fence);
    }
    return { expiresIn: Math.max(1, Math.ceil(soonest - now)), fence };
  }

  waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
    limit: number,
  ): Promise<void> {
    return this.#waiters.wait(
      identity,
      maxWaitMs,
      signal,
      (key, uniqueValue) => ({ key, uniqueValue, signal, limit }),
      (waiter) => this.#waiters.head(waiter.key) === waiter && this.#free(waiter.key, limit),
    );
  }

  /** The key's entry with its expired holders dropped, if it has one. */
  #live(key: string, now: number): Semaphore | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    for (const [uniqueValue, holder] of entry.holders) {
      if (now >= holder.expireAt) {
        entry.holders.delete(uniqueValue);
        if (entry.holders.size === 0) entry.idleSince = holder.expireAt;
      }
    }
    return entry;
  }

  #free(key: string, limit: number): boolean {
    return (this.#live(key, this.#now())?.holders.size ?? 0) < limit;
  }

  #wakeHead(key: string): void {
    const head = this.#waiters.head(key);
    if (head !== undefined) this.#waiters.wake(head);
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (this.#live(key, now)!.holders.size === 0 && entry.idleSince <= now - SWEEP_AFTER_MS) {
        this.#entries.delete(key);
      }
    }
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, this.#entries.size * 2);
  }
}

// Copyright 2026 the locco authors. MIT license.
// Multi-resource locks: all keys or none. An adapter that can take several
// keys atomically offers `multi(keys)`; on any other adapter the keys are
// taken one by one in one global order (sorted), and a busy key undoes the
// keys taken before it, so no caller ever waits while holding a key and two
// overlapping multi-locks cannot deadlock.

import type { ILockAdapter, LockGrant, LockIdentity, LockLease } from "./adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError, ValidationError } from "./errors.ts";
import { describe, validateKey } from "./_validate.ts";

/** What a multi-key adapter's `createLock` resolves to: one fence per key, in `keys` order. */
export interface MultiGrant extends LockGrant {
  fences?: readonly (number | undefined)[] | undefined;
}

/** The distinct keys of a `key` option: one string, or a non-empty array of them. */
export function validateKeys(key: unknown): string[] {
  if (!Array.isArray(key)) return [validateKey(key)];
  if (key.length === 0) {
    throw new ValidationError("key should be a key or a non-empty array of keys: got []", "key");
  }
  const keys = new Set<string>();
  key.forEach((k, i) => keys.add(validateKey(k, `key[${i}]`)));
  return [...keys];
}

/** The adapter of a lock on all of `keys` (two or more, distinct). */
export function multiAdapter(adapter: ILockAdapter, keys: readonly string[]): ILockAdapter {
  if (typeof adapter.multi === "function") return adapter.multi([...keys]);
  return new OrderedMulti(adapter, keys);
}

class OrderedMulti implements ILockAdapter {
  #adapter: ILockAdapter;
  #keys: readonly string[];
  #order: readonly string[];
  // The key a waiter found busy last, per unique value: what it waits for.
  #busy: Map<string, string> = new Map();
  // The session of a waiter's last wait, per unique value, kept until its
  // next attempt ends: an adapter that serves waiters first come first
  // served keeps the waiter's place on that key through the attempt, which
  // then takes the key as the one entitled to it instead of as a newcomer
  // behind the waiters queued since.
  #sessions: Map<string, AbortController> = new Map();

  constructor(adapter: ILockAdapter, keys: readonly string[]) {
    this.#adapter = adapter;
    this.#keys = keys;
    // UTF-16 code unit order: the same in every process and runtime.
    this.#order = [...keys].sort();
  }

  async createLock({ uniqueValue, ttl }: LockLease): Promise<MultiGrant> {
    try {
      return await this.#take(uniqueValue, ttl);
    } finally {
      this.#endSession(uniqueValue);
    }
  }

  async #take(uniqueValue: string, ttl: number): Promise<MultiGrant> {
    const fences = new Map<string, number | undefined>();
    try {
      for (const key of this.#order) {
        const grant = await this.#adapter.createLock({ key, uniqueValue, ttl });
        fences.set(key, (grant as LockGrant | undefined)?.fence);
      }
    } catch (error) {
      if (error instanceof LockCreateError) {
        this.#busy.set(uniqueValue, this.#order[fences.size]!);
      }
      // Undo what this attempt took; a key whose undo fails expires with its ttl.
      await Promise.allSettled(
        [...fences.keys()].map((key) => this.#adapter.releaseLock({ key, uniqueValue })),
      );
      throw error;
    }
    this.#busy.delete(uniqueValue);
    return { fences: this.#keys.map((key) => fences.get(key)) };
  }

  async releaseLock({ uniqueValue }: LockIdentity): Promise<void> {
    const results = await Promise.allSettled(
      this.#order.map((key) => this.#adapter.releaseLock({ key, uniqueValue })),
    );
    throwFirst(results, LockReleaseError);
  }

  async extendLock({ uniqueValue, ttl }: LockLease): Promise<void> {
    const results = await Promise.allSettled(
      this.#order.map((key) => this.#adapter.extendLock({ key, uniqueValue, ttl })),
    );
    throwFirst(results, LockExtendError);
  }

  async isValidLock({ uniqueValue }: LockIdentity): Promise<boolean> {
    const valid = await Promise.all(
      this.#order.map((key) => this.#adapter.isValidLock({ key, uniqueValue })),
    );
    return valid.every(Boolean);
  }

  // Waits for the key the last attempt found busy, through the adapter's own
  // wait when it has one. Each wait is a session of its own, which ends when
  // the next attempt ends (or the caller's session does): a waiter queued on
  // one key keeps its place there through that attempt, but not while it
  // then waits for another busy key, or it would hold up everyone queued
  // behind it.
  async waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { uniqueValue } = identity;
    const key = this.#busy.get(uniqueValue) ?? this.#order[0]!;
    this.#endSession(uniqueValue);
    if (signal.aborted) {
      this.#busy.delete(uniqueValue);
      return;
    }
    const session = new AbortController();
    this.#sessions.set(uniqueValue, session);
    const stop = () => {
      this.#busy.delete(uniqueValue);
      if (this.#sessions.get(uniqueValue) === session) this.#sessions.delete(uniqueValue);
      session.abort();
    };
    signal.addEventListener("abort", stop, { once: true });
    session.signal.addEventListener(
      "abort",
      () => signal.removeEventListener("abort", stop),
      { once: true },
    );
    try {
      if (typeof this.#adapter.waitForUnlock === "function") {
        await this.#adapter.waitForUnlock({ key, uniqueValue }, maxWaitMs, session.signal);
      } else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, maxWaitMs);
          session.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    } catch (error) {
      this.#endSession(uniqueValue);
      throw error;
    }
  }

  #endSession(uniqueValue: string): void {
    const session = this.#sessions.get(uniqueValue);
    if (session === undefined) return;
    this.#sessions.delete(uniqueValue);
    session.abort();
  }
}

// A backend failure comes first (it says more than a lost key); then the
// first lock error; the other keys were acted on all the same.
function throwFirst(
  results: PromiseSettledResult<unknown>[],
  LockError: typeof LockReleaseError | typeof LockExtendError,
): void {
  const failures = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  const backend = failures.find((reason) => !(reason instanceof LockError));
  if (backend !== undefined) throw backend;
  if (failures.length > 0) {
    throw new LockError(`${describe(failures.length)} of the keys: ${failures[0].message}`, {
      cause: failures[0],
    });
  }
}

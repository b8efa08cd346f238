// Copyright 2026 the locco authors. MIT license.
// How `acquire()` waits between attempts: a wait session per retry loop,
// over the adapter's public `waitForUnlock`, or over the in-process fast path
// of this package's own in-memory adapter, which refuses without building an
// Error and waits without an AbortController per acquire.

import type { ILockAdapter, LockGrant, LockIdentity, LockLease } from "./adapter.ts";
import { LockCreateError } from "./errors.ts";
import { describe } from "./_validate.ts";

/** The waits of one retry loop on one key: the adapter keeps the waiter's place between them. */
export interface WaitSession {
  /**
   * Resolves when the next attempt should be made: at most `ms` from now,
   * earlier when the key frees up for this waiter, or when the caller's
   * signal aborts.
   */
  wait(ms: number): Promise<void>;
  /** The loop ended, whatever the reason: the waiter leaves the queue. */
  end(): void;
}

/** The in-process fast path an adapter of this package may offer next to {@linkcode ILockAdapter}. */
export interface InProcessLocks {
  /** The adapter method the fast path stands for: a subclass that overrides it is not bypassed. */
  readonly createLock: ILockAdapter["createLock"];
  /** Likewise. */
  readonly waitForUnlock: ILockAdapter["waitForUnlock"];
  /**
   * `createLock` for a lease the caller has validated, made at `now` (the
   * monotonic clock, read just before: an adapter on that clock need not
   * read it again): the grant, or why the key was refused, the end of the
   * message of `createLock`'s `LockCreateError` (see
   * {@linkcode refusalError}). Throws what `createLock` rejects with
   * otherwise.
   */
  tryCreate(lease: LockLease, now: number): LockGrant | string;
  /** Opens the wait session of one `acquire()`; `signal` ends its waits early. */
  openSession(identity: LockIdentity, signal: AbortSignal | undefined): WaitSession;
}

// The fast paths of the adapters that have one: kept here, not on the
// adapter, so that they are no part of its public type.
const fastPaths: WeakMap<object, InProcessLocks> = new WeakMap();

/** Gives `adapter` its fast path. */
export function offerInProcessLocks(adapter: ILockAdapter, fast: InProcessLocks): void {
  fastPaths.set(adapter, fast);
}

/** The adapter's in-process fast path, when it has one and its methods are its own. */
export function inProcessLocks(adapter: ILockAdapter): InProcessLocks | undefined {
  const fast = fastPaths.get(adapter);
  if (
    fast === undefined || adapter.createLock !== fast.createLock ||
    adapter.waitForUnlock !== fast.waitForUnlock
  ) {
    return undefined;
  }
  return fast;
}

/**
 * The wait session over an adapter's public `waitForUnlock`: one session
 * signal for all the waits of the loop, aborted when the loop ends or
 * `signal` aborts. Allocated on the first wait only.
 */
export function signalSession(
  adapter: Required<Pick<ILockAdapter, "waitForUnlock">>,
  identity: LockIdentity,
  signal: AbortSignal | undefined,
): WaitSession {
  let session: AbortController | undefined;
  const onAbort = () => session?.abort(signal?.reason);
  return {
    async wait(ms: number): Promise<void> {
      if (session === undefined) {
        session = new AbortController();
        signal?.addEventListener("abort", onAbort, { once: true });
      }
      try {
        await adapter.waitForUnlock(identity, ms, session.signal);
      } catch (error) {
        signal?.throwIfAborted();
        throw error;
      }
    },
    end(): void {
      if (session === undefined) return;
      signal?.removeEventListener("abort", onAbort);
      if (!session.signal.aborted) session.abort(SESSION_ENDED);
    },
  };
}

// One shared reason: building an Error (with its stack) per acquire costs.
const SESSION_ENDED: Error = new Error("The wait session ended");

/** The `LockCreateError` of a refusal of `key` that {@linkcode InProcessLocks.tryCreate} explained by `reason`. */
export function refusalError(key: string, reason: string): LockCreateError {
  return new LockCreateError(`Key ${describe(key)} ${reason}`);
}

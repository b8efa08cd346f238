// Copyright 2026 the locco authors. MIT license.
// The waiters of one adapter, per key, first come first served: what the
// in-memory and Redis adapters share for `waitForUnlock`. A waiter is one wait
// session (one `acquire()`), identified by the session signal it is called
// with; it joins on its first wait and leaves when the signal aborts. The
// in-memory adapter's fast path opens waiters without a session signal,
// which leave when their session ends.

import { cancel, schedule } from "../_deadlines.ts";
import { validateWait } from "../_validate.ts";

/** One waiting `acquire()`: a wait session on a key. */
export interface Waiter {
  readonly key: string;
  readonly uniqueValue: string;
  /**
   * The session signal: aborted when the `acquire()` stops waiting for good.
   * `undefined` for a waiter opened without one.
   */
  readonly signal: AbortSignal | undefined;
  /** Ends its current pause: set by {@linkcode WaitQueue.pause} while it pauses. */
  wake?: (() => void) | undefined;
}

/**
 * The FIFO of waiters per key. `W` carries what an adapter keeps per waiter;
 * `onLeave` runs once when a waiter leaves the FIFO (its session ended),
 * unless it left because it took the key.
 */
export class WaitQueue<W extends Waiter> {
  #queues: Map<string, W[]> = new Map();
  #onLeave: (waiter: W, wasHead: boolean) => void;

  constructor(onLeave: (waiter: W, wasHead: boolean) => void) {
    this.#onLeave = onLeave;
  }

  /** The waiter of this session, joining it with `make()` on its first wait. */
  join(key: string, signal: AbortSignal, make: () => W): W {
    let queue = this.#queues.get(key);
    if (queue === undefined) this.#queues.set(key, queue = []);
    for (const waiter of queue) if (waiter.signal === signal) return waiter;
    const waiter = make();
    queue.push(waiter);
    signal.addEventListener("abort", () => this.leave(waiter), { once: true });
    return waiter;
  }

  /** A waiter made by `make()`, at the end of the queue of `key`, until it {@linkcode WaitQueue.leave}s. */
  open(key: string, make: () => W): W {
    let queue = this.#queues.get(key);
    if (queue === undefined) this.#queues.set(key, queue = []);
    const waiter = make();
    queue.push(waiter);
    return waiter;
  }

  /**
   * The whole of an in-process `waitForUnlock`: checks the arguments
   * (rejecting, never throwing), joins the waiter of this session (made by
   * `make` from its key and unique value), and resolves at once when `ready`
   * says it may attempt now, else pauses it for up to `maxWaitMs`.
   */
  wait(
    identity: unknown,
    maxWaitMs: number,
    signal: AbortSignal,
    make: (key: string, uniqueValue: string) => W,
    ready: (waiter: W) => boolean,
  ): Promise<void> {
    let key: string;
    let uniqueValue: string;
    try {
      ({ key, uniqueValue } = validateWait(identity, maxWaitMs, signal));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal.aborted) return Promise.resolve();
    const waiter = this.join(key, signal, () => make(key, uniqueValue));
    return ready(waiter) ? Promise.resolve() : this.pause(waiter, maxWaitMs);
  }

  /** The waiters of `key`, first come first. */
  of(key: string): readonly W[] {
    return this.#queues.get(key) ?? [];
  }

  /** The first waiter of `key`, if any. */
  head(key: string): W | undefined {
    return this.#queues.get(key)?.[0];
  }

  /** The waiter of `key` whose unique value is `uniqueValue`, if any. */
  find(key: string, uniqueValue: string): W | undefined {
    const queue = this.#queues.get(key);
    if (queue === undefined) return undefined;
    for (const waiter of queue) if (waiter.uniqueValue === uniqueValue) return waiter;
    return undefined;
  }

  /** Every waiter of every key. */
  *all(): IterableIterator<W> {
    for (const queue of this.#queues.values()) yield* queue;
  }

  /**
   * Takes `waiter` out of its FIFO (once) and ends its pause; then runs
   * `onLeave`, unless `took` says the waiter leaves because it took the key
   * (so nobody else may take it now).
   */
  leave(waiter: W, took = false): void {
    const queue = this.#queues.get(waiter.key);
    const index = queue?.indexOf(waiter) ?? -1;
    if (queue === undefined || index < 0) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(waiter.key);
    this.wake(waiter);
    if (!took) this.#onLeave(waiter, index === 0);
  }

  /** Ends the current pause of `waiter`, if it is pausing. */
  wake(waiter: W): void {
    waiter.wake?.();
  }

  /**
   * Pauses `waiter` for up to `ms` milliseconds, ended early by
   * {@linkcode WaitQueue.wake} or the abort of `signal` (by default, the
   * waiter's session). Even a pause of 0 ms waits for a timer, so a caller
   * that loops on it yields to timers and I/O.
   */
  pause(waiter: W, ms: number, signal: AbortSignal | undefined = waiter.signal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        cancel(deadline);
        signal?.removeEventListener("abort", done);
        if (waiter.wake === done) waiter.wake = undefined;
        resolve();
      };
      const deadline = schedule(Math.max(0, ms), done);
      signal?.addEventListener("abort", done, { once: true });
      waiter.wake = done;
    });
  }
}

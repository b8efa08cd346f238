// Copyright 2026 the locco authors. MIT license.

/**
 * What `retryDelayFn` receives after each failed attempt.
 *
 * @example Exponential backoff that gives up after 5 attempts
 * ```ts
 * import type { RetryDelayContext } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * function backoff({ attemptNumber, stop }: RetryDelayContext): number {
 *   if (attemptNumber >= 4) stop();
 *   return Math.min(2 ** attemptNumber * 50, 5000);
 * }
 * assert.equal(backoff({
 *   attemptNumber: 2, startedAt: Date.now(), previousDelay: 100, settings: {}, stop() {},
 * }), 200);
 * ```
 */
export interface RetryDelayContext {
  /** Zero-based index of the attempt that just failed. */
  attemptNumber: number;
  /** When retrying began, in epoch milliseconds. */
  startedAt: number;
  /** The delay used before the attempt that just failed, in milliseconds; 0 on the first call. */
  previousDelay: number;
  /** The lock's retry settings (a frozen copy of what the caller passed). */
  settings: RetrySettings;
  /**
   * Ends the loop: `acquire()` rejects with `RetryError` "Was manually stopped"
   * once `retryDelayFn` returns or throws. It cannot be undone or swallowed.
   */
  stop: () => void;
}

/**
 * Controls how `acquire()` retries while the key is held by someone else.
 *
 * Either give `retryDelay` and `retryTimes` (a fixed delay), or give
 * `retryDelayFn` (a delay computed per attempt). `totalTime` caps the whole
 * wait in both cases: no sleep runs past it.
 *
 * @example Fixed delay with a total time cap
 * ```ts
 * import { InMemoryAdapter, Locker, type RetrySettings } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const retrySettings: RetrySettings = { retryDelay: 50, retryTimes: 10, totalTime: 2000 };
 * const locker = new Locker({ adapter: new InMemoryAdapter(), retrySettings });
 * assert.deepEqual(locker.lock("k", 1000).retrySettings, retrySettings);
 * ```
 */
export interface RetrySettings {
  /**
   * Milliseconds to wait between attempts: an integer from 1 to 2147483647.
   * Required unless `retryDelayFn` is given; not allowed together with it.
   */
  retryDelay?: number | undefined;
  /**
   * The total number of attempts (the first one included): an integer of at
   * least 1. Required unless `retryDelayFn` is given.
   */
  retryTimes?: number | undefined;
  /**
   * Hard cap on the whole acquire, in milliseconds: a positive integer. No
   * attempt starts after it and no sleep runs past it.
   */
  totalTime?: number | undefined;
  /**
   * Computes the delay before the next attempt, in milliseconds, from the
   * attempt that just failed. May return a promise. The result must be a
   * finite number from 0 to 2147483647 (fractions are rounded up).
   */
  retryDelayFn?: ((context: RetryDelayContext) => number | Promise<number>) | undefined;
}

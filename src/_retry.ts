// Copyright 2026 the locco authors. MIT license.

import type { ILockAdapter, LockIdentity } from "./adapter.ts";
import { type LockCreateError, RetryError } from "./errors.ts";
import type { RetrySettings } from "./retry_settings.ts";
import { monotonicNow, sleep } from "./_timers.ts";
import { validateComputedDelay } from "./_validate.ts";
import { inProcessLocks, refusalError, signalSession, type WaitSession } from "./_wait_session.ts";

/**
 * Why an attempt was refused: the adapter's `LockCreateError`, or only its
 * reason, from an in-process adapter that does not build an Error for each
 * refusal (one is built if the loop gives up).
 */
export type Refusal = LockCreateError | string;

/** What {@linkcode retryLoop} needs. */
export interface RetryLoopOptions {
  key: string;
  settings: Readonly<RetrySettings>;
  signal: AbortSignal | undefined;
  /**
   * One attempt: `undefined` when it took the lock, the refusal when the key
   * is held (at once, or through a promise); throws or rejects to end the loop.
   */
  attempt: () => Refusal | undefined | Promise<Refusal | undefined>;
  /** The adapter: its optional `waitForUnlock` replaces the sleep between attempts. */
  adapter?: ILockAdapter | undefined;
  /** Who waits: passed to `waitForUnlock`. */
  identity?: LockIdentity | undefined;
  /**
   * A first attempt the caller already made, which was refused: the loop
   * counts it and goes on as if it had made it at `monotonicStart` (the
   * monotonic clock) and `startedAt` (`Date.now()`), so that an uncontended
   * acquire, whose first attempt succeeds, never enters the loop.
   */
  first?: { refusal: Refusal; startedAt: number; monotonicStart: number } | undefined;
}

/**
 * Runs `attempt` until it succeeds, retrying while it is refused.
 *
 * - `retryTimes` is the total number of attempts.
 * - `totalTime` is a deadline on the monotonic clock: no attempt starts after
 *   it and no sleep runs past it.
 * - `stop()` sets a flag that is honoured whether `retryDelayFn` returns or throws.
 * - An abort rejects with `signal.reason` before the next attempt or during a sleep.
 * - When the adapter has `waitForUnlock`, the loop waits with it instead of
 *   sleeping: the delay (`retryDelay` or `retryDelayFn`'s value, capped by
 *   `totalTime`) becomes the longest wait, and the wait ends early when the
 *   key is released. All waits of one loop are one wait session (one session
 *   signal, aborted when the loop ends for any reason), so the adapter can
 *   keep the waiter's place in its queue between attempts and drop it
 *   afterwards.
 */
export async function retryLoop(options: RetryLoopOptions): Promise<void> {
  const { signal, adapter, identity } = options;
  if (typeof adapter?.waitForUnlock !== "function" || identity === undefined) {
    return await loop(options, (ms) => sleep(ms, signal));
  }
  const session: WaitSession = inProcessLocks(adapter)?.openSession(identity, signal) ??
    signalSession(adapter as Required<Pick<ILockAdapter, "waitForUnlock">>, identity, signal);
  try {
    return await loop(options, (ms) => session.wait(ms));
  } finally {
    session.end();
  }
}

const TIMER_SLACK_MS = 1;

async function loop(
  { key, settings, signal, attempt, first }: RetryLoopOptions,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  const { retryDelay, retryTimes, totalTime, retryDelayFn } = settings;
  const startedAt = first?.startedAt ?? Date.now();
  const deadline = totalTime === undefined
    ? Infinity
    : (first?.monotonicStart ?? monotonicNow()) + totalTime;
  // Timers may fire up to a millisecond early (Node rounds them): a sleep cut
  // to the deadline must still count as having reached it.
  const pastDeadline = () => deadline !== Infinity && monotonicNow() + TIMER_SLACK_MS >= deadline;
  let attempts = 0;
  let previousDelay = 0;
  let lastRefusal: Refusal | undefined;
  const fail = (message: string) =>
    new RetryError(message, attempts, key, {
      cause: typeof lastRefusal === "string" ? refusalError(key, lastRefusal) : lastRefusal,
    });

  let refused = first?.refusal;
  while (true) {
    attempts++;
    if (refused !== undefined) {
      lastRefusal = refused;
      refused = undefined;
    } else {
      signal?.throwIfAborted();
      let refusal = attempt();
      if (refusal instanceof Promise) refusal = await refusal;
      if (refusal === undefined) return;
      lastRefusal = refusal;
    }
    if (retryTimes !== undefined && attempts >= retryTimes) throw fail("Reached retry times limit");
    if (pastDeadline()) throw fail("Total time exceeded");

    let delay: number;
    if (retryDelayFn === undefined) {
      delay = retryDelay as number;
    } else {
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      let result: unknown;
      try {
        result = await retryDelayFn({
          attemptNumber: attempts - 1,
          startedAt,
          previousDelay,
          settings,
          stop,
        });
      } catch (error) {
        if (stopped) throw new RetryError("Was manually stopped", attempts, key, { cause: error });
        throw error;
      }
      if (stopped) throw fail("Was manually stopped");
      delay = validateComputedDelay(result);
    }
    previousDelay = delay;

    if (deadline !== Infinity) delay = Math.min(delay, Math.ceil(deadline - monotonicNow()));
    await wait(Math.max(0, delay));
    signal?.throwIfAborted();
    if (pastDeadline()) throw fail("Total time exceeded");
  }
}

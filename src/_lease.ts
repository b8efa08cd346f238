// Copyright 2026 the locco authors. MIT license.
// The local view of a held lock: until when it is surely ours on the
// monotonic clock, its lost-lock signal, and optional auto-extension.
// Nothing here runs (no timer, no AbortController) unless the holder asks
// for `lock.signal` or auto-extension, so a plain acquire/release pays nothing.

import { LoccoError, LockExtendError, LockLostError } from "./errors.ts";
import { monotonicNow, unrefTimer } from "./_timers.ts";

/** How much of a TTL is kept back for clock drift between this host and the backend. */
export function driftFor(ttl: number): number {
  return Math.ceil(ttl * 0.01) + 2;
}

/** Auto-extension settings after validation. */
export interface AutoExtend {
  /** Stop extending this many milliseconds after the acquire (`undefined`: no cap). */
  maxHoldTime: number | undefined;
}

/** One holding of a lock, from a successful acquire to its release or loss. */
export class Lease {
  #key: string;
  #baseTtl: number;
  #extendFn: (ttl: number) => Promise<void>;
  #validUntil: number;
  #holdUntil: number;
  #autoExtend: boolean;
  #controller: AbortController | undefined;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #renewal: ReturnType<typeof setTimeout> | undefined;
  #extending = false;
  #inFlight = 0;
  #overlapBound = Infinity;
  #releasing = false;
  #ended = false;
  #lost: LockLostError | undefined;

  constructor(
    key: string,
    ttl: number,
    sentAt: number,
    extend: (ttl: number) => Promise<void>,
    autoExtend: AutoExtend | undefined,
    controller: AbortController | undefined,
  ) {
    this.#key = key;
    this.#extendFn = extend;
    this.#validUntil = sentAt + ttl - driftFor(ttl);
    this.#baseTtl = ttl;
    this.#holdUntil = sentAt + (autoExtend?.maxHoldTime ?? Infinity);
    this.#autoExtend = autoExtend !== undefined;
    this.#controller = controller;
    if (controller !== undefined) this.#armWatchdog();
    if (this.#autoExtend) this.#scheduleRenewal();
  }

  /** The error the lease was lost with, if it was. */
  get lost(): LockLostError | undefined {
    return this.#lost;
  }

  /** The monotonic instant until which the lock is surely held. */
  get validUntil(): number {
    return this.#lost === undefined && !this.#ended ? this.#validUntil : -Infinity;
  }

  /** Loses the lease if it ran out on the local clock (for holders that never armed the watchdog). */
  checkExpired(): void {
    if (this.#ended || this.#lost !== undefined || monotonicNow() < this.#validUntil) return;
    this.lose(
      new LockLostError(
        `Lock ${JSON.stringify(this.#key)} can no longer be guaranteed: its lease ran out`,
        this.#key,
      ),
    );
  }

  /** Starts watching the local validity for `controller` (given at first access of lock.signal). */
  watch(controller: AbortController): void {
    this.#controller = controller;
    this.checkExpired();
    if (this.#lost !== undefined) controller.abort(this.#lost);
    else if (!this.#ended) this.#armWatchdog();
  }

  /**
   * Sends an extension by `ttl` (from `lock.extend()` or auto-extension) and
   * keeps the local view in step with it. The store keeps whichever of
   * several overlapping extensions it applied last, and their replies do not
   * tell which, so while one is in flight, and after it succeeds, the lease
   * is taken to end at the earliest end any overlapping extension may have
   * set. A failure after release has started is not a loss: the release may
   * simply have been applied first.
   */
  async extend(ttl: number): Promise<void> {
    const sentAt = monotonicNow();
    const bound = sentAt + ttl - driftFor(ttl);
    if (this.#inFlight === 0) this.#overlapBound = Infinity;
    this.#inFlight++;
    this.#overlapBound = Math.min(this.#overlapBound, bound);
    if (bound < this.#validUntil) this.#setValidUntil(bound);
    try {
      await this.#extendFn(ttl);
    } catch (error) {
      if (error instanceof LockExtendError && !this.#releasing) {
        this.lose(
          new LockLostError(
            `Lock ${JSON.stringify(this.#key)} was lost: it expired or another holder took it`,
            this.#key,
            { cause: error },
          ),
        );
      }
      throw error;
    } finally {
      this.#inFlight--;
    }
    this.#setValidUntil(this.#overlapBound);
  }

  /** Marks the lease lost: stops every timer and aborts the signal with `error`. */
  lose(error: LockLostError): void {
    if (this.#ended || this.#lost !== undefined) return;
    this.#lost = error;
    this.#stop();
    this.#controller?.abort(error);
  }

  /**
   * Stops auto-extension before a release is sent, so no extension follows
   * it, and marks the release as started: an extension still in flight may
   * now fail without the lock having been lost.
   */
  startRelease(): void {
    this.#releasing = true;
    this.#stopRenewal();
  }

  /** Undoes {@linkcode Lease.startRelease} when the release failed without an answer. */
  releaseFailed(): void {
    this.#releasing = false;
  }

  /** Ends the lease after a release: no timer left, the signal aborted. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop();
    if (this.#lost === undefined) {
      this.#controller?.abort(new LoccoError(`Lock ${JSON.stringify(this.#key)} was released`));
    }
  }

  #stopRenewal(): void {
    if (this.#renewal !== undefined) clearTimeout(this.#renewal);
    this.#renewal = undefined;
    this.#autoExtend = false;
  }

  #setValidUntil(validUntil: number): void {
    if (this.#ended || this.#lost !== undefined) return;
    this.#validUntil = validUntil;
    this.#armWatchdog();
  }

  #stop(): void {
    this.#stopRenewal();
    if (this.#watchdog !== undefined) clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }

  #armWatchdog(): void {
    if (this.#controller === undefined) return;
    if (this.#watchdog !== undefined) clearTimeout(this.#watchdog);
    const wait = Math.max(0, Math.ceil(this.#validUntil - monotonicNow()));
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      if (monotonicNow() < this.#validUntil) this.#armWatchdog();
      else this.checkExpired();
    }, wait);
    unrefTimer(this.#watchdog);
  }

  // Extends every third of the TTL; a backend error is retried sooner while
  // the lease is still valid, an answer of "not yours any more" loses it.
  #scheduleRenewal(delay: number = Math.max(1, Math.floor(this.#baseTtl / 3))): void {
    if (!this.#autoExtend || this.#ended || this.#lost !== undefined) return;
    this.#renewal = setTimeout(() => {
      this.#renewal = undefined;
      void this.#renew();
    }, delay);
    unrefTimer(this.#renewal);
  }

  async #renew(): Promise<void> {
    if (!this.#autoExtend || this.#extending) return;
    // Near the hold cap, extend only up to it; past it, let the lease run out.
    const ttl = Math.min(this.#baseTtl, Math.ceil(this.#holdUntil - monotonicNow()));
    if (ttl < 1) {
      this.#autoExtend = false;
      return;
    }
    this.#extending = true;
    try {
      await this.extend(ttl);
      this.#extending = false;
      this.#scheduleRenewal();
    } catch (error) {
      this.#extending = false;
      if (this.#ended || this.#releasing || this.#lost !== undefined) return;
      const left = this.#validUntil - monotonicNow();
      if (left <= 0) {
        this.lose(
          new LockLostError(
            `Lock ${JSON.stringify(this.#key)} could not be extended before its lease ran out`,
            this.#key,
            { cause: error },
          ),
        );
        return;
      }
      this.#scheduleRenewal(
        Math.max(1, Math.min(Math.floor(this.#baseTtl / 10), Math.floor(left / 2))),
      );
    }
  }
}

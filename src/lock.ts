// Copyright 2026 the locco authors. MIT license.

import type { ILockAdapter } from "./adapter.ts";
import {
  LoccoError,
  LockCreateError,
  LockLostError,
  LockReleaseError,
  ValidationError,
} from "./errors.ts";
import type { RetrySettings } from "./retry_settings.ts";
import { type AutoExtend, Lease } from "./_lease.ts";
import { multiAdapter, validateKeys } from "./_multi.ts";
import { type Refusal, retryLoop } from "./_retry.ts";
import { monotonicNow } from "./_timers.ts";
import { randomUniqueValue } from "./_token.ts";
import { inProcessLocks } from "./_wait_session.ts";
import {
  describe,
  MAX_TIMER_MS,
  validateAdapter,
  validateObject,
  validateRetrySettings,
  validateTtl,
  validateUniqueValue,
} from "./_validate.ts";

/**
 * What `new Lock()` takes. Most code gets Locks from `locker.lock()` instead.
 *
 * @example Construct a Lock directly
 * ```ts
 * import { InMemoryAdapter, Lock, type LockOptions } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const options: LockOptions = {
 *   adapter: new InMemoryAdapter(),
 *   key: "k",
 *   ttl: 1000,
 *   retrySettings: { retryDelay: 10, retryTimes: 3 },
 * };
 * assert.equal(new Lock(options).key, "k");
 * ```
 */
export interface LockOptions {
  /** The backend adapter. */
  adapter: ILockAdapter;
  /**
   * The resource key: a non-empty, well-formed string (no unpaired
   * surrogates); or an array of them to lock all at once (a multi-resource
   * lock: see `locker.lock()`).
   */
  key: string | readonly string[];
  /** Time to live in milliseconds: an integer from 1 to 2147483647. */
  ttl: number;
  /** How `acquire()` retries; copied, never kept by reference. */
  retrySettings: RetrySettings;
  /**
   * The holder's unique value (owner id): a non-empty, well-formed string.
   * Generated (32 hex characters from 16 random bytes) when not given. Pass one only to act on a lock acquired
   * elsewhere with that value.
   */
  uniqueValue?: string | undefined;
}

/**
 * Options of {@linkcode Lock.acquire}.
 *
 * @example Give up waiting after 2 seconds
 * ```ts
 * import { type AcquireOptions, InMemoryAdapter, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 10, retryTimes: 1000 },
 * });
 * const options: AcquireOptions = { signal: AbortSignal.timeout(2000) };
 * const lock = await locker.lock("k", 1000).acquire(undefined, options);
 * assert.equal(await lock.isLocked(), true);
 * await lock.release();
 * ```
 */
export interface AcquireOptions {
  /**
   * Aborts the wait: no attempt starts after the abort, a sleep between
   * attempts ends at once, and `acquire()` rejects with `signal.reason`.
   * `AbortSignal.timeout(ms)` makes an acquire timeout.
   */
  signal?: AbortSignal | undefined;
  /**
   * Keep the lock while it is held: extend it by its ttl every third of the
   * ttl until it is released. `true`, or `{ maxHoldTime }` to stop extending
   * that many milliseconds after the acquire (the lock then expires at that
   * time unless released). If an extension finds the lock gone, or cannot
   * reach the backend before the lease runs out, `lock.signal` aborts with
   * `LockLostError`, and `acquire(cb)` rejects with it once `cb` settles.
   *
   * @default {false}
   */
  autoExtend?: boolean | AutoExtendOptions | undefined;
}

/**
 * Options of auto-extension (see {@linkcode AcquireOptions.autoExtend}).
 *
 * @example Keep a lock for at most a minute
 * ```ts
 * import { type AutoExtendOptions, InMemoryAdapter, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 10, retryTimes: 3 },
 * });
 * const autoExtend: AutoExtendOptions = { maxHoldTime: 60_000 };
 * const done = await locker.lock("report", 1000).acquire(() => "done", { autoExtend });
 * assert.equal(done, "done");
 * ```
 */
export interface AutoExtendOptions {
  /**
   * Stop extending this many milliseconds after the acquire: an integer from
   * 1 to 2147483647. Without it, extension goes on until release.
   */
  maxHoldTime?: number | undefined;
}

/**
 * Options of {@linkcode Lock.release}.
 *
 * @example Throw when the lock was lost
 * ```ts
 * import { InMemoryAdapter, Locker, type ReleaseOptions } from "@kontsedal/locco";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 10, retryTimes: 3 },
 * });
 * const lock = await locker.lock("k", 1000).acquire();
 * const options: ReleaseOptions = { throwOnFail: true };
 * await lock.release(options);
 * ```
 */
export interface ReleaseOptions {
  /**
   * Reject with `LockReleaseError` when the lock is no longer ours (it
   * expired or another holder owns the key), and with `LoccoError` on a
   * second release. Backend failures reject in either mode.
   *
   * @default {false}
   */
  throwOnFail?: boolean | undefined;
}

type State = "idle" | "acquiring" | "held" | "released";

function validateAcquireOptions(
  options: unknown,
): { signal: AbortSignal | undefined; autoExtend: AutoExtend | undefined } {
  if (options === undefined || options === null) {
    return { signal: undefined, autoExtend: undefined };
  }
  const { signal, autoExtend } = validateObject(options, "options");
  const candidate = signal as Partial<AbortSignal> | null | undefined;
  if (
    signal !== undefined &&
    (typeof candidate !== "object" || candidate === null ||
      typeof candidate.aborted !== "boolean" || typeof candidate.addEventListener !== "function" ||
      typeof candidate.removeEventListener !== "function" ||
      typeof candidate.throwIfAborted !== "function")
  ) {
    throw new ValidationError(
      `options.signal should be an AbortSignal: got ${describe(signal)}`,
      "options.signal",
    );
  }
  return { signal: signal as AbortSignal | undefined, autoExtend: validateAutoExtend(autoExtend) };
}

function validateAutoExtend(autoExtend: unknown): AutoExtend | undefined {
  if (autoExtend === undefined || autoExtend === false) return undefined;
  if (autoExtend === true) return { maxHoldTime: undefined };
  if (typeof autoExtend !== "object" || autoExtend === null) {
    throw new ValidationError(
      `options.autoExtend should be a boolean or { maxHoldTime }: got ${describe(autoExtend)}`,
      "options.autoExtend",
    );
  }
  const { maxHoldTime } = autoExtend as { maxHoldTime?: unknown };
  if (
    maxHoldTime !== undefined &&
    (typeof maxHoldTime !== "number" || !Number.isInteger(maxHoldTime) || maxHoldTime < 1 ||
      maxHoldTime > MAX_TIMER_MS)
  ) {
    throw new ValidationError(
      `options.autoExtend.maxHoldTime should be an integer from 1 to ${MAX_TIMER_MS} milliseconds: got ${
        describe(maxHoldTime)
      }`,
      "options.autoExtend.maxHoldTime",
    );
  }
  return { maxHoldTime: maxHoldTime as number | undefined };
}

/**
 * One lock on one resource, created by {@linkcode Locker.lock}. A Lock is
 * single-use: once acquired, it can be extended and released, but not
 * acquired again; ask the Locker for a new one.
 *
 * @example Acquire, extend and release
 * ```ts
 * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 50, retryTimes: 5 },
 * });
 * const lock = await locker.lock("user:123", 3000).acquire();
 * try {
 *   await lock.extend(2000);
 *   assert.equal(await lock.isLocked(), true);
 * } finally {
 *   await lock.release();
 * }
 * assert.equal(await lock.isLocked(), false);
 * ```
 */
export class Lock {
  /**
   * The resource key; for a lock on several keys, their names joined by
   * `" + "` (for messages: act on {@linkcode Lock.keys}).
   */
  readonly key: string;
  /** The keys this lock holds: `[key]`, or the distinct keys of a multi-resource lock. */
  readonly keys: readonly string[];
  /** The TTL given at creation, in milliseconds (`extend` does not change it). */
  readonly ttl: number;
  /** The holder's unique value (owner id): only this value can release or extend the lock. */
  readonly uniqueValue: string;
  /** The retry settings `acquire()` uses (a frozen copy). */
  readonly retrySettings: Readonly<RetrySettings>;
  /** The adapter given; `#adapter` is the one acting, on all keys. */
  #base: ILockAdapter;
  #adapter: ILockAdapter;
  #state: State = "idle";
  #lease: Lease | undefined;
  #controller: AbortController | undefined;
  #fence: number | undefined;
  #fences: Map<string, number> | undefined;
  #grantFences: unknown;

  /**
   * Creates a Lock without touching storage. Validates the retry settings,
   * the ttl, the key, the unique value and the adapter, in that order.
   *
   * @param options The adapter, key, ttl, retry settings and optional unique value.
   * @throws {ValidationError} When an option is invalid.
   * @example Construct a Lock
   * ```ts
   * import { InMemoryAdapter, Lock } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock({
   *   adapter: new InMemoryAdapter(),
   *   key: "k",
   *   ttl: 1000,
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * assert.match(lock.uniqueValue, /^[0-9a-f]{32}$/);
   * ```
   */
  constructor(options: LockOptions) {
    validateObject(options, "options");
    const { adapter, key, ttl, retrySettings, uniqueValue } = options;
    this.retrySettings = validateRetrySettings(retrySettings);
    this.ttl = validateTtl(ttl);
    const keys = validateKeys(key);
    this.keys = Object.freeze(keys);
    this.key = keys.join(" + ");
    this.uniqueValue = uniqueValue === undefined || uniqueValue === null
      ? randomUniqueValue()
      : validateUniqueValue(uniqueValue);
    this.#base = validateAdapter(adapter);
    this.#adapter = keys.length === 1 ? this.#base : multiAdapter(this.#base, keys);
  }

  /**
   * Acquires the lock, retrying as the retry settings allow, and resolves to
   * this Lock, which you must release (in a `finally`, or with `await using`).
   *
   * @param cb Leave out (or pass `undefined`) for this form.
   * @param options `signal` to abort the wait.
   * @returns This Lock, now held.
   * @throws {RetryError} When the retry settings are exhausted.
   * @throws {LoccoError} When this Lock was already acquired, or is being acquired.
   * @throws {ValidationError} When `options` is invalid.
   * @example Acquire and release
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 200, retryTimes: 10 },
   * });
   * const lock = await locker.lock("user:123", 3000).acquire();
   * try {
   *   assert.equal(await lock.isLocked(), true);
   * } finally {
   *   await lock.release();
   * }
   * ```
   */
  acquire(cb?: undefined | null, options?: AcquireOptions): Promise<Lock>;
  /**
   * Acquires the lock, retrying as the retry settings allow, runs `cb(lock)`
   * while holding it, releases it when the callback settles, and resolves to
   * the callback's result. If the
   * callback throws, the lock is released and its error is rethrown. If the
   * lock turns out to have been lost by then (its lease ran out, an
   * extension or the release found it expired or taken), the call rejects
   * with `LockLostError` instead of reporting success.
   *
   * @typeParam T The callback's result.
   * @param cb The critical section.
   * @param options `signal` to abort the wait.
   * @returns The callback's result.
   * @throws {RetryError} When the retry settings are exhausted.
   * @throws {LoccoError} When this Lock was already acquired, or is being acquired.
   * @throws {LockLostError} When the lock was lost before the callback settled.
   * @throws {ValidationError} When `cb` or `options` is invalid.
   * @example Run a critical section
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 200, retryTimes: 10 },
   * });
   * const result = await locker.lock("user:123", 3000).acquire(async (lock) => {
   *   await lock.extend(2000);
   *   return { success: true };
   * });
   * assert.deepEqual(result, { success: true });
   * ```
   */
  acquire<T>(cb: (lock: Lock) => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>>;
  async acquire<T>(
    cb?: ((lock: Lock) => T | PromiseLike<T>) | null,
    options?: AcquireOptions,
  ): Promise<Lock | Awaited<T>> {
    if (cb !== undefined && cb !== null && typeof cb !== "function") {
      throw new ValidationError(`cb should be a function: got ${describe(cb)}`, "cb");
    }
    const { signal, autoExtend } = validateAcquireOptions(options);
    this.#start();
    const adapter = this.#adapter;
    const lease = { key: this.key, uniqueValue: this.uniqueValue, ttl: this.ttl };
    const fast = inProcessLocks(adapter);
    let sentAt = 0;
    let grant: unknown;
    // One attempt: undefined when it took the key, else why it was refused;
    // at once on the in-process fast path, else through a promise.
    const attempt = fast !== undefined
      ? (): Refusal | undefined => {
        sentAt = monotonicNow();
        const result = fast.tryCreate(lease, sentAt);
        if (typeof result === "string") return result;
        grant = result;
        return undefined;
      }
      : async (): Promise<Refusal | undefined> => {
        sentAt = monotonicNow();
        try {
          grant = await adapter.createLock(lease);
          return undefined;
        } catch (error) {
          if (error instanceof LockCreateError) return error;
          throw error;
        }
      };
    try {
      // The first attempt is made here: an uncontended acquire (the hot
      // path) succeeds without the retry loop's promise hops.
      signal?.throwIfAborted();
      // Only retryDelayFn is told when the acquire started.
      const startedAt = this.retrySettings.retryDelayFn === undefined ? 0 : Date.now();
      let refusal = attempt();
      if (refusal instanceof Promise) refusal = await refusal;
      if (refusal !== undefined) {
        await retryLoop({
          key: this.key,
          settings: this.retrySettings,
          signal,
          attempt,
          adapter,
          identity: lease,
          first: { refusal, startedAt, monotonicStart: sentAt },
        });
      }
    } catch (error) {
      this.#state = "idle";
      throw error;
    }
    const held = this.#hold(sentAt, grant, autoExtend);
    if (typeof cb !== "function") return this;

    let result: Awaited<T>;
    try {
      result = await cb(this);
    } catch (error) {
      if (this.#state === "held") await this.release().catch(() => {});
      throw error;
    }
    // A lease that ran out on the local clock, or a release that finds the
    // lock gone, means the callback may have run without its lock.
    held.checkExpired();
    if (this.#state === "held") await this.release();
    const lost = held.lost;
    if (lost !== undefined) throw lost;
    return result;
  }

  /**
   * Makes one attempt to take the key, without retrying or waiting: resolves
   * to this Lock, now held, or to `undefined` when another lock holds the
   * key. Made for "skip this run if another instance is busy". A backend
   * failure still rejects with the backend's error (it is never taken for a
   * busy key). After `undefined`, the Lock may try again.
   *
   * @param options `autoExtend`; `signal` only stops an attempt that has not
   * started (an aborted signal rejects with its reason, before any I/O).
   * @returns This Lock, now held, or `undefined` when the key is held.
   * @throws {LoccoError} When this Lock was already acquired, or is being acquired.
   * @throws {ValidationError} When `options` is invalid.
   * @example Skip a cron run while another instance has the job
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 50, retryTimes: 5 },
   * });
   * const first = await locker.lock("nightly-report", 60_000).tryAcquire();
   * assert.ok(first);
   * // another instance, same key: busy, so it skips at once
   * assert.equal(await locker.lock("nightly-report", 60_000).tryAcquire(), undefined);
   * await first.release();
   * ```
   */
  async tryAcquire(options?: AcquireOptions): Promise<Lock | undefined> {
    const { signal, autoExtend } = validateAcquireOptions(options);
    signal?.throwIfAborted();
    this.#start();
    const sentAt = monotonicNow();
    const lease = { key: this.key, uniqueValue: this.uniqueValue, ttl: this.ttl };
    const fast = inProcessLocks(this.#adapter);
    let grant: unknown;
    try {
      grant = fast === undefined
        ? await this.#adapter.createLock(lease)
        : fast.tryCreate(lease, sentAt);
    } catch (error) {
      this.#state = "idle";
      if (error instanceof LockCreateError) return undefined;
      throw error;
    }
    if (typeof grant === "string") {
      this.#state = "idle";
      return undefined;
    }
    this.#hold(sentAt, grant, autoExtend);
    return this;
  }

  #start(): void {
    if (this.#state === "acquiring") throw new LoccoError("Lock is already being acquired");
    if (this.#state !== "idle") throw new LoccoError("Lock is already acquired");
    this.#state = "acquiring";
  }

  #hold(sentAt: number, grant: unknown, autoExtend: AutoExtend | undefined): Lease {
    this.#state = "held";
    const { fence, fences } = (grant ?? {}) as { fence?: unknown; fences?: unknown };
    this.#fence = Number.isSafeInteger(fence) ? fence as number : undefined;
    // Kept as the adapter gave them; `fences` builds its map when first read,
    // so an acquire allocates nothing for it.
    this.#grantFences = this.keys.length === 1 ? undefined : fences;
    this.#fences = undefined;
    return this.#lease = new Lease(
      this.key,
      this.ttl,
      sentAt,
      (ttl) => this.#adapter.extendLock({ key: this.key, uniqueValue: this.uniqueValue, ttl }),
      autoExtend,
      this.#controller,
    );
  }

  /**
   * Releases the lock.
   *
   * By default a lock that is no longer ours (it expired, or another holder
   * owns the key now) and a second release resolve quietly, as the 0.1.0
   * README promises; `{ throwOnFail: true }` turns them into
   * `LockReleaseError` and `LoccoError`. A backend failure (a connection
   * error, say) always rejects with the backend's error: it is never
   * mistaken for a successful release.
   *
   * @param options `throwOnFail`.
   * @returns A promise that resolves once the lock is released.
   * @throws {LockReleaseError} With `throwOnFail`, when the lock is no longer ours.
   * @throws {LoccoError} With `throwOnFail`, on a second release; always, while `acquire()` is in progress.
   * @throws {ValidationError} When `options` is invalid.
   * @example Release quietly or strictly
   * ```ts
   * import { InMemoryAdapter, Locker, LockReleaseError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * let now = 0;
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter({ now: () => now }),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = await locker.lock("k", 1000).acquire();
   * now = 1000; // the lock expired
   * await lock.release();
   * await assert.rejects(lock.release({ throwOnFail: true }), LockReleaseError);
   * ```
   */
  async release(options?: ReleaseOptions | null): Promise<void> {
    let throwOnFail = false;
    if (options !== undefined && options !== null) {
      const value = validateObject(options, "options").throwOnFail;
      if (value !== undefined && typeof value !== "boolean") {
        throw new ValidationError(
          `options.throwOnFail should be a boolean: got ${describe(value)}`,
          "options.throwOnFail",
        );
      }
      throwOnFail = value ?? false;
    }
    if (this.#state === "acquiring") {
      throw new LoccoError(
        "Cannot release a lock while acquire() is in progress: abort it instead",
      );
    }
    if (this.#state === "released") {
      if (throwOnFail) throw new LoccoError("Locco:::Lock:::release Can't release resource twice");
      return;
    }
    this.#lease?.startRelease();
    try {
      await this.#adapter.releaseLock({ key: this.key, uniqueValue: this.uniqueValue });
    } catch (error) {
      if (error instanceof LockReleaseError) {
        this.#lease?.lose(this.#lostError("it expired or another holder took it", error));
        if (!throwOnFail) return;
      } else {
        this.#lease?.releaseFailed();
      }
      throw error;
    }
    this.#state = "released";
    this.#lease?.end();
  }

  /**
   * Sets the lock's expiry to now + `ttl`. A smaller `ttl` than the time
   * left shortens the lock.
   *
   * @param ttl The new time to live in milliseconds: an integer from 1 to 2147483647.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} When the lock expired or another holder owns the key.
   * @throws {LoccoError} Before a successful acquire, or after release.
   * @throws {ValidationError} When `ttl` is invalid.
   * @example Extend a held lock
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * let now = 0;
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter({ now: () => now }),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = await locker.lock("k", 1000).acquire();
   * now = 900;
   * await lock.extend(5000);
   * now = 5000;
   * assert.equal(await lock.isLocked(), true);
   * await lock.release();
   * ```
   */
  async extend(ttl: number): Promise<void> {
    if (this.#state === "idle" || this.#state === "acquiring") {
      throw new LoccoError("Locco:::Lock:::extend Can't extend a lock before a lock success");
    }
    if (this.#state === "released") {
      throw new LoccoError("Locco:::Lock:::extend Can't extend a released lock");
    }
    const checkedTtl = validateTtl(ttl);
    await this.#lease!.extend(checkedTtl);
  }

  /**
   * The fencing token of this acquisition: a number that grows with every
   * acquisition of the key, whoever acquires it. Pass it to the resource you
   * protect and let it reject writes whose token is not newer than the last
   * one it accepted (see {@linkcode checkFence}): a holder that paused past
   * its TTL is then refused instead of overwriting the new holder's work.
   * `undefined` before acquire, and with custom adapters that issue none.
   *
   * @example Tokens grow with every acquisition
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const first = await locker.lock("k", 1000).acquire();
   * await first.release();
   * const second = await locker.lock("k", 1000).acquire();
   * assert.ok(second.fence! > first.fence!);
   * await second.release();
   * ```
   */
  get fence(): number | undefined {
    return this.#fence;
  }

  /**
   * The fencing token of this acquisition for each of {@linkcode Lock.keys}
   * that got one: what a multi-resource lock passes to each resource it
   * protects (its {@linkcode Lock.fence} is `undefined`). For a lock on one
   * key, the map holds its `fence`. `undefined` before acquire.
   *
   * @example One token per account
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = await locker.lock(["account:1", "account:2"], 1000).acquire();
   * assert.ok(lock.fences!.get("account:1")! > 0);
   * assert.ok(lock.fences!.get("account:2")! > 0);
   * await lock.release();
   * ```
   */
  get fences(): ReadonlyMap<string, number> | undefined {
    if (this.#state === "idle" || this.#state === "acquiring") return this.#fences;
    if (this.#fences === undefined) {
      const tokens = this.keys.length === 1
        ? [this.#fence]
        : Array.isArray(this.#grantFences)
        ? this.#grantFences
        : [];
      this.#fences = new Map();
      this.keys.forEach((key, i) => {
        if (Number.isSafeInteger(tokens[i])) this.#fences!.set(key, tokens[i]);
      });
    }
    return this.#fences;
  }

  /**
   * An `AbortSignal` that aborts when this lock stops being held: with a
   * `LockLostError` when an extension finds it gone or its lease runs out on
   * the local monotonic clock (before the backend's TTL lapses, thanks to a
   * drift margin), or with a `LoccoError` when it is released. Pass it to the
   * work you do under the lock so that work stops when the lock does. Its
   * timer does not keep the process alive on its own.
   *
   * @example Stop work when the lock is lost
   * ```ts
   * import { InMemoryAdapter, Locker, LockLostError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = await locker.lock("k", 50).acquire();
   * const work = new Promise((resolve) => setTimeout(resolve, 100)); // outlives the lease
   * let stopped = false;
   * lock.signal.addEventListener("abort", () => stopped = true);
   * await work;
   * assert.equal(stopped, true);
   * assert.ok(lock.signal.reason instanceof LockLostError);
   * ```
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      this.#lease?.watch(this.#controller);
    }
    return this.#controller.signal;
  }

  /**
   * How many milliseconds this lock is surely still held, measured on the
   * local monotonic clock from when the acquire (or the last extension) was
   * sent, minus a drift margin (1 % of the ttl + 2 ms). While extensions
   * overlap, the earliest end any of them may have set counts. 0 when not held.
   *
   * @returns Milliseconds of guaranteed validity left.
   * @example Decide whether there is time for one more step
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = await locker.lock("k", 10_000).acquire();
   * assert.ok(lock.remainingTtl() > 9000 && lock.remainingTtl() <= 10_000);
   * await lock.release();
   * assert.equal(lock.remainingTtl(), 0);
   * ```
   */
  remainingTtl(): number {
    if (this.#state !== "held" || this.#lease === undefined) return 0;
    return Math.max(0, this.#lease.validUntil - monotonicNow());
  }

  /**
   * The instant, in epoch milliseconds, until which this lock is surely held
   * (see {@linkcode Lock.remainingTtl}); `undefined` when not held.
   *
   * @example When to be done
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = await locker.lock("k", 10_000).acquire();
   * assert.ok(lock.expiresAt! > Date.now() + 9000);
   * await lock.release();
   * assert.equal(lock.expiresAt, undefined);
   * ```
   */
  get expiresAt(): number | undefined {
    if (this.#state !== "held" || this.#lease === undefined) return undefined;
    const validUntil = this.#lease.validUntil;
    return Number.isFinite(validUntil)
      ? Math.floor(performance.timeOrigin + validUntil)
      : undefined;
  }

  #lostError(why: string, cause: unknown): LockLostError {
    return new LockLostError(`Lock ${JSON.stringify(this.key)} was lost: ${why}`, this.key, {
      cause,
    });
  }

  /**
   * Tells whether storage still holds this lock: this unique value, under
   * this key, unexpired. It asks the backend every time. (Whether anyone
   * holds a key is `locker.inspect(key)`.)
   *
   * @returns Whether this lock is still held.
   * @example Check before a long step
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * const lock = locker.lock("k", 1000);
   * assert.equal(await lock.isLocked(), false);
   * await lock.acquire();
   * assert.equal(await lock.isLocked(), true);
   * await lock.release();
   * ```
   */
  isLocked(): Promise<boolean> {
    return this.#adapter.isValidLock({ key: this.key, uniqueValue: this.uniqueValue });
  }

  /**
   * Returns a new, unacquired Lock on the same key and ttl with other retry
   * settings. The new Lock gets its own unique value, so neither Lock can
   * release or extend the other's lock.
   *
   * @param settings The retry settings for the new Lock.
   * @returns A new Lock.
   * @throws {LoccoError} When this Lock was already acquired.
   * @throws {ValidationError} When `settings` is invalid.
   * @example Retry longer for one lock
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 200, retryTimes: 10 },
   * });
   * const lock = await locker
   *   .lock("key", 3000)
   *   .setRetrySettings({ retryDelay: 100, retryTimes: 50 })
   *   .acquire();
   * assert.equal(lock.retrySettings.retryTimes, 50);
   * await lock.release();
   * ```
   */
  setRetrySettings(settings: RetrySettings): Lock {
    if (this.#state === "held" || this.#state === "released") {
      throw new LoccoError(
        "Locco:::setRetrySettings Can't change retry settings after lock success",
      );
    }
    return new Lock({
      adapter: this.#base,
      key: this.keys,
      ttl: this.ttl,
      retrySettings: validateRetrySettings(settings),
    });
  }

  /**
   * Releases the lock if it is held, so that `await using` frees it at the
   * end of the scope. Like `release()`, it rejects only on a backend failure.
   *
   * @returns A promise that resolves once the lock is released.
   * @example Release at scope exit
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const locker = new Locker({
   *   adapter: new InMemoryAdapter(),
   *   retrySettings: { retryDelay: 10, retryTimes: 3 },
   * });
   * let outer;
   * {
   *   await using lock = await locker.lock("k", 1000).acquire();
   *   outer = lock;
   *   assert.equal(await lock.isLocked(), true);
   * }
   * assert.equal(await outer.isLocked(), false);
   * ```
   * @example Release when the scope throws
   * ```ts
   * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   *
   * const adapter = new InMemoryAdapter();
   * const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } });
   * async function failingJob(): Promise<void> {
   *   await using _lock = await locker.lock("job", 1000).acquire();
   *   throw new Error("job failed");
   * }
   * await assert.rejects(failingJob(), /job failed/);
   * const next = await locker.lock("job", 1000).acquire(); // free again
   * await next.release();
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === "held") await this.release();
  }
}

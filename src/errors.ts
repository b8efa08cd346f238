// Copyright 2026 the locco authors. MIT license.

const BRAND: symbol = Symbol.for("@kontsedal/locco.error");

/**
 * The `code` of every error class locco throws.
 *
 * @example Narrow a caught error by code
 * ```ts
 * import { isLoccoError, type LoccoErrorCode, RetryError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const error: unknown = new RetryError("Reached retry times limit", 3, "k");
 * const code: LoccoErrorCode | undefined = isLoccoError(error) ? error.code : undefined;
 * assert.equal(code, "RETRY_FAILED");
 * ```
 */
export type LoccoErrorCode =
  | "LOCCO_ERROR"
  | "LOCK_CREATE_FAILED"
  | "LOCK_RELEASE_FAILED"
  | "LOCK_EXTEND_FAILED"
  | "RETRY_FAILED"
  | "VALIDATION_FAILED"
  | "LOCK_LOST"
  | "STALE_FENCE"
  | "UNSUPPORTED";

/**
 * Base class of every error locco throws. Also thrown directly when a Lock is
 * used in a state that does not allow the call (acquiring twice, extending a
 * released lock, ...).
 *
 * `instanceof` does not work across two copies of the library (the ESM and the
 * CJS build loaded in one process); {@linkcode isLoccoError} does.
 *
 * @example Branch on the error code
 * ```ts
 * import { InMemoryAdapter, Locker, LoccoError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 10, retryTimes: 1 },
 * });
 * const lock = await locker.lock("report", 1000).acquire();
 * await assert.rejects(lock.acquire(), (error: unknown) => {
 *   assert.ok(error instanceof LoccoError);
 *   assert.equal(error.code, "LOCCO_ERROR");
 *   return true;
 * });
 * await lock.release();
 * ```
 */
export class LoccoError extends Error {
  /** A stable, machine-readable code for this error class. */
  readonly code: LoccoErrorCode = "LOCCO_ERROR";

  /**
   * Creates a LoccoError.
   *
   * @param message What went wrong.
   * @param options Standard error options; `cause` is the underlying error.
   * @example Create one
   * ```ts
   * import { LoccoError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new LoccoError("boom").message, "boom");
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LoccoError";
    Object.setPrototypeOf(this, new.target.prototype);
    // No Error.captureStackTrace: V8 and JavaScriptCore already start the
    // stack at the caller of `new`, and a second capture doubled the cost of
    // every refused attempt (each one is a LockCreateError).
  }
}

// On the prototype, so that instances carry no extra own property.
Object.defineProperty(LoccoError.prototype, BRAND, { value: true });

/**
 * The backend reports that the key is held by someone else. This is the error
 * that `acquire()` retries on; any other error ends the retry loop at once.
 *
 * @example Thrown by an adapter on contention
 * ```ts
 * import { InMemoryAdapter, LockCreateError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const adapter = new InMemoryAdapter();
 * await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 });
 * await assert.rejects(
 *   adapter.createLock({ key: "k", uniqueValue: "b", ttl: 1000 }),
 *   LockCreateError,
 * );
 * ```
 */
export class LockCreateError extends LoccoError {
  /** Always `"LOCK_CREATE_FAILED"`. */
  override readonly code: "LOCK_CREATE_FAILED" = "LOCK_CREATE_FAILED";

  /**
   * Creates a LockCreateError.
   *
   * @param message What went wrong.
   * @param options Standard error options.
   * @example Create one
   * ```ts
   * import { LockCreateError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new LockCreateError().code, "LOCK_CREATE_FAILED");
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockCreateError";
  }
}

/**
 * The lock could not be released because it is no longer ours: it expired, or
 * another holder owns the key now. Backend failures are never reported as this
 * error; they surface unchanged.
 *
 * @example Released by someone who does not own it
 * ```ts
 * import { InMemoryAdapter, LockReleaseError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const adapter = new InMemoryAdapter();
 * await adapter.createLock({ key: "k", uniqueValue: "owner", ttl: 1000 });
 * await assert.rejects(
 *   adapter.releaseLock({ key: "k", uniqueValue: "intruder" }),
 *   LockReleaseError,
 * );
 * ```
 */
export class LockReleaseError extends LoccoError {
  /** Always `"LOCK_RELEASE_FAILED"`. */
  override readonly code: "LOCK_RELEASE_FAILED" = "LOCK_RELEASE_FAILED";

  /**
   * Creates a LockReleaseError.
   *
   * @param message What went wrong.
   * @param options Standard error options.
   * @example Create one
   * ```ts
   * import { LockReleaseError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new LockReleaseError().code, "LOCK_RELEASE_FAILED");
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockReleaseError";
  }
}

/**
 * The lock could not be extended because it is no longer ours: it expired, or
 * another holder owns the key now.
 *
 * @example Extending an expired lock
 * ```ts
 * import { InMemoryAdapter, LockExtendError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * const adapter = new InMemoryAdapter({ now: () => now });
 * await adapter.createLock({ key: "k", uniqueValue: "me", ttl: 100 });
 * now = 100;
 * await assert.rejects(
 *   adapter.extendLock({ key: "k", uniqueValue: "me", ttl: 100 }),
 *   LockExtendError,
 * );
 * ```
 */
export class LockExtendError extends LoccoError {
  /** Always `"LOCK_EXTEND_FAILED"`. */
  override readonly code: "LOCK_EXTEND_FAILED" = "LOCK_EXTEND_FAILED";

  /**
   * Creates a LockExtendError.
   *
   * @param message What went wrong.
   * @param options Standard error options.
   * @example Create one
   * ```ts
   * import { LockExtendError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new LockExtendError().code, "LOCK_EXTEND_FAILED");
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockExtendError";
  }
}

/**
 * `acquire()` gave up: the retry limit, the total time or a `stop()` call from
 * `retryDelayFn` ended the loop. `cause` is the last {@linkcode LockCreateError}
 * and `attempts` the number of attempts made.
 *
 * @example Giving up on a held key
 * ```ts
 * import { InMemoryAdapter, Locker, LockCreateError, RetryError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 5, retryTimes: 3 },
 * });
 * const holder = await locker.lock("k", 1000).acquire();
 * const error = await locker.lock("k", 1000).acquire().catch((e) => e);
 * assert.ok(error instanceof RetryError);
 * assert.equal(error.message, "Reached retry times limit");
 * assert.equal(error.attempts, 3);
 * assert.ok(error.cause instanceof LockCreateError);
 * await holder.release();
 * ```
 */
export class RetryError extends LoccoError {
  /** Always `"RETRY_FAILED"`. */
  override readonly code: "RETRY_FAILED" = "RETRY_FAILED";
  /** How many times the lock was tried before giving up. */
  readonly attempts: number;
  /** The key that could not be locked, when known. */
  readonly key: string | undefined;

  /**
   * Creates a RetryError.
   *
   * @param message Why the loop ended.
   * @param attempts How many attempts were made.
   * @param key The key that could not be locked.
   * @param options Standard error options; `cause` is the last LockCreateError.
   * @example Create one
   * ```ts
   * import { RetryError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * const error = new RetryError("Reached retry times limit", 3, "k");
   * assert.equal(error.attempts, 3);
   * ```
   */
  constructor(message?: string, attempts = 0, key?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RetryError";
    this.attempts = attempts;
    this.key = key;
  }
}

/**
 * An argument to a public method is invalid. Thrown (or, from methods that
 * return a promise, rejected) before any I/O. `parameter` names the argument.
 *
 * @example A non-positive ttl
 * ```ts
 * import { InMemoryAdapter, Locker, ValidationError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 10, retryTimes: 3 },
 * });
 * assert.throws(() => locker.lock("k", 0), (error: unknown) => {
 *   assert.ok(error instanceof ValidationError);
 *   assert.equal(error.parameter, "ttl");
 *   return true;
 * });
 * ```
 */
export class ValidationError extends LoccoError {
  /** Always `"VALIDATION_FAILED"`. */
  override readonly code: "VALIDATION_FAILED" = "VALIDATION_FAILED";
  /** The name of the invalid parameter, when known (e.g. `"ttl"`, `"retrySettings.retryDelay"`). */
  readonly parameter: string | undefined;

  /**
   * Creates a ValidationError.
   *
   * @param message What is wrong with the argument.
   * @param parameter The name of the invalid parameter.
   * @param options Standard error options.
   * @example Create one
   * ```ts
   * import { ValidationError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new ValidationError("bad", "key").parameter, "key");
   * ```
   */
  constructor(message?: string, parameter?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ValidationError";
    this.parameter = parameter;
  }
}

/**
 * A held lock was lost: an extension found it expired or taken, or its lease
 * ran out on the local monotonic clock before it could be renewed. This is
 * the reason `lock.signal` aborts with, and what `acquire(cb)` rejects with
 * when the callback ran (partly) without its lock.
 *
 * @example The signal says why
 * ```ts
 * import { InMemoryAdapter, Locker, LockLostError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const adapter = new InMemoryAdapter();
 * const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } });
 * const lock = await locker.lock("k", 1000).acquire();
 * await adapter.releaseLock({ key: "k", uniqueValue: lock.uniqueValue }); // someone else frees it
 * await lock.extend(1000).catch(() => {});
 * assert.ok(lock.signal.reason instanceof LockLostError);
 * ```
 */
export class LockLostError extends LoccoError {
  /** Always `"LOCK_LOST"`. */
  override readonly code: "LOCK_LOST" = "LOCK_LOST";
  /** The key of the lost lock, when known. */
  readonly key: string | undefined;

  /**
   * Creates a LockLostError.
   *
   * @param message How the lock was lost.
   * @param key The key of the lost lock.
   * @param options Standard error options; `cause` is the error that revealed the loss.
   * @example Create one
   * ```ts
   * import { LockLostError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new LockLostError("gone", "k").key, "k");
   * ```
   */
  constructor(message?: string, key?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockLostError";
    this.key = key;
  }
}

/**
 * A write carried a fencing token that is not newer than one the resource has
 * already seen: it comes from a holder whose lock was lost meanwhile. Thrown
 * by {@linkcode checkFence}.
 *
 * @example A stale token
 * ```ts
 * import { checkFence, StaleFenceError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 * assert.throws(() => checkFence(42, 41), StaleFenceError);
 * ```
 */
export class StaleFenceError extends LoccoError {
  /** Always `"STALE_FENCE"`. */
  override readonly code: "STALE_FENCE" = "STALE_FENCE";
  /** The rejected token. */
  readonly fence: number | undefined;
  /** The newest token the resource had seen. */
  readonly latest: number | undefined;

  /**
   * Creates a StaleFenceError.
   *
   * @param message What was rejected.
   * @param fence The rejected token.
   * @param latest The newest token seen before.
   * @param options Standard error options.
   * @example Create one
   * ```ts
   * import { StaleFenceError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new StaleFenceError("stale", 1, 2).latest, 2);
   * ```
   */
  constructor(message?: string, fence?: number, latest?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "StaleFenceError";
    this.fence = fence;
    this.latest = latest;
  }
}

/**
 * The adapter lacks an optional method that the call needs, such as
 * `inspectLock` for `locker.inspect()`: a custom adapter that does not
 * implement a feature gets this error, naming the method, instead of a
 * `TypeError`. Thrown before any I/O.
 *
 * @example A custom adapter without inspectLock
 * ```ts
 * import { InMemoryAdapter, type ILockAdapter, Locker, UnsupportedError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const memory = new InMemoryAdapter();
 * const adapter: ILockAdapter = {
 *   createLock: (lease) => memory.createLock(lease),
 *   releaseLock: (identity) => memory.releaseLock(identity),
 *   extendLock: (lease) => memory.extendLock(lease),
 *   isValidLock: (identity) => memory.isValidLock(identity),
 * };
 * const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } });
 * await assert.rejects(locker.inspect("k"), UnsupportedError);
 * ```
 */
export class UnsupportedError extends LoccoError {
  /** Always `"UNSUPPORTED"`. */
  override readonly code: "UNSUPPORTED" = "UNSUPPORTED";
  /** The adapter method that is missing, e.g. `"inspectLock"`. */
  readonly method: string | undefined;

  /**
   * Creates an UnsupportedError.
   *
   * @param message What is not supported.
   * @param method The missing adapter method.
   * @param options Standard error options.
   * @example Create one
   * ```ts
   * import { UnsupportedError } from "@kontsedal/locco";
   * import assert from "node:assert/strict";
   * assert.equal(new UnsupportedError("no", "inspectLock").method, "inspectLock");
   * ```
   */
  constructor(message?: string, method?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedError";
    this.method = method;
  }
}

/**
 * Tells whether `value` is an error thrown by locco, optionally of one `code`.
 * Unlike `instanceof`, it also works when two copies of the library are loaded
 * (for example its ESM and CJS builds in one Node process).
 *
 * @param value Anything, typically a caught error.
 * @param code When given, `value` must also carry this code.
 * @returns Whether `value` is a locco error (with that code).
 * @example Recognise contention after retries
 * ```ts
 * import { InMemoryAdapter, isLoccoError, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 5, retryTimes: 2 },
 * });
 * const holder = await locker.lock("k", 1000).acquire();
 * const error = await locker.lock("k", 1000).acquire().catch((e) => e);
 * assert.equal(isLoccoError(error, "RETRY_FAILED"), true);
 * assert.equal(isLoccoError(new Error("x")), false);
 * await holder.release();
 * ```
 */
export function isLoccoError(value: unknown, code?: LoccoErrorCode): value is LoccoError {
  if (typeof value !== "object" || value === null) return false;
  if ((value as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (value as { code?: unknown }).code === code;
}

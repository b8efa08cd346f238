// Copyright 2026 the locco authors. MIT license.
// Argument checks shared by the core and the adapters. Each throws
// ValidationError naming the parameter; callers in async methods let it
// become a rejection.

import type { ILockAdapter, LockIdentity, LockLease } from "./adapter.ts";
import { ValidationError } from "./errors.ts";
import type { RetrySettings } from "./retry_settings.ts";

/** The largest delay a JavaScript timer can wait, and locco's largest TTL. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Describes a value for an error message: short, never the value's own toString. */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  return `an object`;
}

function isInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value);
}

// Messages that 0.1.0 users could observe (and match on) are kept exactly;
// range errors that 0.1.0 did not raise get their own, detailed message.
export function validateTtl(ttl: unknown, parameter = "ttl"): number {
  if (!isInteger(ttl)) throw new ValidationError("Ttl should be a positive integer", parameter);
  if (ttl < 1 || ttl > MAX_TIMER_MS) {
    throw new ValidationError(
      `Ttl should be a positive integer from 1 to ${MAX_TIMER_MS} milliseconds: got ${ttl}`,
      parameter,
    );
  }
  return ttl;
}

/** `options.clockDriftMargin`: an integer number of milliseconds from 0 to MAX_TIMER_MS. */
export function validateDriftMargin(margin: unknown): number {
  if (!isInteger(margin) || margin < 0 || margin > MAX_TIMER_MS) {
    throw new ValidationError(
      `options.clockDriftMargin should be an integer from 0 to ${MAX_TIMER_MS} milliseconds: got ${
        describe(margin)
      }`,
      "options.clockDriftMargin",
    );
  }
  return margin;
}

export function validateLimit(limit: unknown, parameter = "limit"): number {
  if (!isInteger(limit) || limit < 1 || limit > MAX_TIMER_MS) {
    throw new ValidationError(
      `${parameter} should be an integer from 1 to ${MAX_TIMER_MS}: got ${describe(limit)}`,
      parameter,
    );
  }
  return limit;
}

export function validateMode(mode: unknown, parameter = "mode"): "read" | "write" {
  if (mode !== "read" && mode !== "write") {
    throw new ValidationError(
      `${parameter} should be "read" or "write": got ${describe(mode)}`,
      parameter,
    );
  }
  return mode;
}

// In a `u` regular expression a surrogate pair is one code point, so only an
// unpaired surrogate falls in this range: the fallback for runtimes without
// String.prototype.isWellFormed (ES2024), which is several times faster and
// runs several times per acquire.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const NATIVE_WELL_FORMED = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed ===
  "function";

/**
 * Whether `value` is well-formed UTF-16. Stores encode strings as UTF-8, which
 * turns every unpaired surrogate into the same replacement bytes: two
 * different keys would then name one lock.
 */
export function isWellFormed(value: string): boolean {
  return NATIVE_WELL_FORMED
    ? (value as string & { isWellFormed(): boolean }).isWellFormed()
    : !LONE_SURROGATE.test(value);
}

export function validateKey(key: unknown, parameter = "key"): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new ValidationError(
      `Key should be a string with at least one character: got ${describe(key)}`,
      parameter,
    );
  }
  if (!isWellFormed(key)) {
    throw new ValidationError(
      `Key should be a well-formed string without unpaired surrogates: got ${describe(key)}`,
      parameter,
    );
  }
  return key;
}

export function validateUniqueValue(value: unknown, parameter = "uniqueValue"): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new ValidationError(
      "uniqueValue should be a string with at least one character",
      parameter,
    );
  }
  if (!isWellFormed(value)) {
    throw new ValidationError(
      `uniqueValue should be a well-formed string without unpaired surrogates: got ${
        describe(value)
      }`,
      parameter,
    );
  }
  return value;
}

/** Checks that an options-like argument is a plain object (not null, not an array). */
export function validateObject(value: unknown, parameter: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(
      `${parameter} should be an object: got ${describe(value)}`,
      parameter,
    );
  }
  return value as Record<string, unknown>;
}

/** Validates the `{ key, uniqueValue }` argument of an adapter method. */
export function validateIdentity(identity: unknown): LockIdentity {
  const { key, uniqueValue } = validateObject(identity, "lock");
  return { key: validateKey(key), uniqueValue: validateUniqueValue(uniqueValue) };
}

/** Validates the `{ key, uniqueValue, ttl }` argument of an adapter method (ttl first, as 0.1.0). */
export function validateLease(lease: unknown): LockLease {
  const { key, uniqueValue, ttl } = validateObject(lease, "lock");
  const checkedTtl = validateTtl(ttl);
  return { key: validateKey(key), uniqueValue: validateUniqueValue(uniqueValue), ttl: checkedTtl };
}

const ADAPTER_METHODS = ["createLock", "releaseLock", "extendLock", "isValidLock"] as const;

export function validateAdapter(adapter: unknown): ILockAdapter {
  if (typeof adapter !== "object" || adapter === null) {
    throw new ValidationError("Adapter is required", "adapter");
  }
  for (const method of ADAPTER_METHODS) {
    if (typeof (adapter as Record<string, unknown>)[method] !== "function") {
      throw new ValidationError("Adapter is invalid", "adapter");
    }
  }
  return adapter as ILockAdapter;
}

function checkIntegerSetting(
  settings: Record<string, unknown>,
  name: "retryDelay" | "retryTimes" | "totalTime",
  min: number,
  max: number,
): number | undefined {
  const value = settings[name];
  if (value === undefined) return undefined;
  const parameter = `retrySettings.${name}`;
  if (!isInteger(value)) {
    throw new ValidationError(`${name} should be an integer`, parameter);
  }
  if (value < min || value > max) {
    throw new ValidationError(
      `${name} should be an integer from ${min} to ${max}: got ${describe(value)}`,
      parameter,
    );
  }
  return value;
}

// Frozen copies made here; passing one back in (Locker -> Lock) skips the work.
const VALIDATED = new WeakSet<object>();

/**
 * Validates retry settings and returns a frozen copy holding only the known
 * fields, so later changes to the caller's object have no effect.
 */
export function validateRetrySettings(settings: unknown): Readonly<RetrySettings> {
  if (VALIDATED.has(settings as object)) return settings as Readonly<RetrySettings>;
  const input = validateObject(settings, "retrySettings");
  const retryDelay = checkIntegerSetting(input, "retryDelay", 1, MAX_TIMER_MS);
  const retryTimes = checkIntegerSetting(input, "retryTimes", 1, Number.MAX_SAFE_INTEGER);
  const totalTime = checkIntegerSetting(input, "totalTime", 1, Number.MAX_SAFE_INTEGER);
  const retryDelayFn = input.retryDelayFn;
  if (retryDelayFn !== undefined && typeof retryDelayFn !== "function") {
    throw new ValidationError("retryDelayFn should be a function", "retrySettings.retryDelayFn");
  }
  if (retryDelayFn !== undefined && retryDelay !== undefined) {
    throw new ValidationError(
      "Can't have both retryDelayFn and retryDelay",
      "retrySettings.retryDelay",
    );
  }
  if (retryDelayFn === undefined && (retryTimes === undefined || retryDelay === undefined)) {
    throw new ValidationError(
      "retryTimes and retryDelay should be specified if retryDelayFn is not provided",
      retryTimes === undefined ? "retrySettings.retryTimes" : "retrySettings.retryDelay",
    );
  }
  const copy: RetrySettings = {};
  if (retryDelay !== undefined) copy.retryDelay = retryDelay;
  if (retryTimes !== undefined) copy.retryTimes = retryTimes;
  if (totalTime !== undefined) copy.totalTime = totalTime;
  if (retryDelayFn !== undefined) {
    copy.retryDelayFn = retryDelayFn as NonNullable<RetrySettings["retryDelayFn"]>;
  }
  Object.freeze(copy);
  VALIDATED.add(copy);
  return copy;
}

/** Validates a delay returned by `retryDelayFn` and rounds it up to whole milliseconds. */
export function validateComputedDelay(delay: unknown): number {
  if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 || delay > MAX_TIMER_MS) {
    throw new ValidationError(
      `retryDelayFn should return a number of milliseconds from 0 to ${MAX_TIMER_MS}: got ${
        describe(delay)
      }`,
      "retrySettings.retryDelayFn",
    );
  }
  return Math.ceil(delay);
}

/** The arguments of `waitForUnlock`: an identity, a delay of 0 or more ms and an AbortSignal. */
export function validateWait(
  identity: unknown,
  maxWaitMs: unknown,
  signal: unknown,
): LockIdentity {
  const valid = validateIdentity(identity);
  if (typeof maxWaitMs !== "number" || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
    throw new ValidationError(
      `maxWaitMs should be a number of milliseconds, 0 or more: got ${describe(maxWaitMs)}`,
      "maxWaitMs",
    );
  }
  const candidate = signal as Partial<AbortSignal> | null | undefined;
  if (
    typeof candidate !== "object" || candidate === null ||
    typeof candidate.aborted !== "boolean" || typeof candidate.addEventListener !== "function" ||
    typeof candidate.removeEventListener !== "function"
  ) {
    throw new ValidationError(`signal should be an AbortSignal: got ${describe(signal)}`, "signal");
  }
  return valid;
}

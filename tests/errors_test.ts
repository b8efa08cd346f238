// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import {
  errors,
  isLoccoError,
  LoccoError,
  LockCreateError,
  LockExtendError,
  LockLostError,
  LockReleaseError,
  RetryError,
  StaleFenceError,
  UnsupportedError,
  ValidationError,
} from "@kontsedal/locco";

const CLASSES = [
  [LoccoError, "LoccoError", "LOCCO_ERROR"],
  [LockCreateError, "LockCreateError", "LOCK_CREATE_FAILED"],
  [LockReleaseError, "LockReleaseError", "LOCK_RELEASE_FAILED"],
  [LockExtendError, "LockExtendError", "LOCK_EXTEND_FAILED"],
  [RetryError, "RetryError", "RETRY_FAILED"],
  [ValidationError, "ValidationError", "VALIDATION_FAILED"],
  [LockLostError, "LockLostError", "LOCK_LOST"],
  [StaleFenceError, "StaleFenceError", "STALE_FENCE"],
  [UnsupportedError, "UnsupportedError", "UNSUPPORTED"],
] as const;

Deno.test("LoccoError subclasses are Error and LoccoError, with their class name and code", async (t) => {
  for (const [Class, name, code] of CLASSES) {
    await t.step(name, () => {
      const error = new Class();
      assert.ok(error instanceof Error);
      assert.ok(error instanceof LoccoError);
      assert.ok(error instanceof Class);
      assert.equal(error.name, name);
      assert.equal(error.code, code);
      assert.equal(error.message, "");
      assert.ok(typeof error.stack === "string");
    });
  }
});

Deno.test("LoccoError keeps the cause passed in ErrorOptions", () => {
  const cause = new Error("driver down");
  assert.equal(new LockCreateError("x", { cause }).cause, cause);
  assert.equal(new ValidationError("x", "ttl", { cause }).cause, cause);
  assert.equal(new RetryError("x", 3, "k", { cause }).cause, cause);
});

Deno.test("RetryError carries attempts and key; ValidationError carries parameter", () => {
  const retry = new RetryError("Reached retry times limit", 4, "orders:1");
  assert.equal(retry.attempts, 4);
  assert.equal(retry.key, "orders:1");
  assert.equal(
    new ValidationError("bad", "retrySettings.retryDelay").parameter,
    "retrySettings.retryDelay",
  );
});

Deno.test("errors namespace holds the very root classes", () => {
  assert.equal(errors.LoccoError, LoccoError);
  assert.equal(errors.LockCreateError, LockCreateError);
  assert.equal(errors.LockReleaseError, LockReleaseError);
  assert.equal(errors.LockExtendError, LockExtendError);
  assert.equal(errors.RetryError, RetryError);
  assert.equal(errors.ValidationError, ValidationError);
  assert.ok(Object.isFrozen(errors));
});

Deno.test("isLoccoError() recognises locco errors by brand and optional code", () => {
  assert.equal(isLoccoError(new RetryError()), true);
  assert.equal(isLoccoError(new RetryError(), "RETRY_FAILED"), true);
  assert.equal(isLoccoError(new RetryError(), "VALIDATION_FAILED"), false);
  assert.equal(isLoccoError(new Error("x")), false);
  assert.equal(isLoccoError({ code: "RETRY_FAILED", name: "RetryError" }), false);
  assert.equal(isLoccoError(null), false);
  assert.equal(isLoccoError("RetryError"), false);
  const foreign = Object.create({ [Symbol.for("@kontsedal/locco.error")]: true });
  foreign.code = "LOCK_CREATE_FAILED";
  assert.equal(isLoccoError(foreign, "LOCK_CREATE_FAILED"), true);
});

Deno.test("LoccoError instances carry the brand on the prototype, not as an own property", () => {
  assert.deepEqual(Object.getOwnPropertySymbols(new LoccoError("x")), []);
  assert.deepEqual(Object.keys(new LoccoError("x")).sort(), ["code", "name"]);
});

// Copyright 2026 the locco authors. MIT license.

import {
  LoccoError,
  LockCreateError,
  LockExtendError,
  LockReleaseError,
  RetryError,
  ValidationError,
} from "./errors.ts";

/**
 * The error classes under the name 0.1.0 exported them (`errors.RetryError`),
 * for code written against 0.1.0. They are the very classes exported from
 * the package root.
 *
 * @example The same classes as the root exports
 * ```ts
 * import { errors, RetryError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 * assert.equal(errors.RetryError, RetryError);
 * ```
 */
export const errors: {
  readonly LoccoError: typeof LoccoError;
  readonly LockCreateError: typeof LockCreateError;
  readonly LockReleaseError: typeof LockReleaseError;
  readonly LockExtendError: typeof LockExtendError;
  readonly RetryError: typeof RetryError;
  readonly ValidationError: typeof ValidationError;
} = Object.freeze({
  LoccoError,
  LockCreateError,
  LockReleaseError,
  LockExtendError,
  RetryError,
  ValidationError,
});

// Copyright 2026 the locco authors. MIT license.
// What the MongoDB adapter's lock and semaphore code share.

import { LoccoError } from "../errors.ts";

/** The server's duplicate key error code. */
export const DUPLICATE_KEY = 11000;
/** The adapter's own reads must see its writes: a secondary may lag behind. */
export const PRIMARY = "primary";

/**
 * Whether `error` is E11000 from the unique index on `key`. A server that
 * names the index's key pattern (mongod does, the test stand-in does not) can
 * show that another unique index raised it; that is not contention.
 */
export function isKeyConflict(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, keyPattern } = error as { code?: unknown; keyPattern?: unknown };
  if (code !== DUPLICATE_KEY) return false;
  if (keyPattern === undefined || keyPattern === null) return true;
  return typeof keyPattern === "object" && Object.keys(keyPattern).join(",") === "key";
}

/** Throws unless the write was acknowledged (write concern w: 0 is not). */
export function checkAcknowledged(result: { acknowledged?: boolean }): void {
  if (result?.acknowledged === false) {
    throw new LoccoError(
      "MongoAdapter needs acknowledged writes: the collection's write concern is w: 0",
    );
  }
}

// Copyright 2026 the locco authors. MIT license.

import { StaleFenceError, ValidationError } from "./errors.ts";
import { describe } from "./_validate.ts";

/**
 * The check a protected resource makes before it applies a write: the
 * write's fencing token (`lock.fence`) must be greater than the newest token
 * the resource has already accepted. A holder that paused past its TTL (a GC
 * pause, a stopped VM) still carries its old token, which a newer holder has
 * since surpassed, so its late write is rejected instead of applied.
 *
 * Resources in a database make the same comparison inside their conditional
 * write, e.g. `UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND
 * fence < $2`.
 *
 * @param latest The newest token the resource has accepted, or `undefined`/`null` if none yet.
 * @param fence The token the write carries.
 * @returns Nothing; it returns only when `fence` is newer.
 * @throws {StaleFenceError} When `fence` is not greater than `latest`.
 * @throws {ValidationError} When `fence` or `latest` is not a safe integer.
 * @example A store that rejects late writers
 * ```ts
 * import { checkFence, InMemoryAdapter, Locker, StaleFenceError } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const record = { value: 0, fence: undefined as number | undefined };
 * function write(value: number, fence: number): void {
 *   checkFence(record.fence, fence);
 *   record.value = value;
 *   record.fence = fence;
 * }
 *
 * let now = 0;
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter({ now: () => now }),
 *   retrySettings: { retryDelay: 10, retryTimes: 3 },
 * });
 * const slow = await locker.lock("record", 1000).acquire();
 * now = 1000; // slow's lease lapses while it is paused
 * const fast = await locker.lock("record", 1000).acquire();
 * write(1, fast.fence!);
 * assert.throws(() => write(2, slow.fence!), StaleFenceError);
 * assert.equal(record.value, 1);
 * ```
 */
export function checkFence(latest: number | undefined | null, fence: number): void {
  if (!Number.isSafeInteger(fence)) {
    throw new ValidationError(`fence should be a safe integer: got ${describe(fence)}`, "fence");
  }
  if (latest === undefined || latest === null) return;
  if (!Number.isSafeInteger(latest)) {
    throw new ValidationError(`latest should be a safe integer: got ${describe(latest)}`, "latest");
  }
  if (fence <= latest) {
    throw new StaleFenceError(
      `Stale fencing token ${fence}: the resource has already accepted ${latest}`,
      fence,
      latest,
    );
  }
}

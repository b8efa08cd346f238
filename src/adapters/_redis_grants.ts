// Copyright 2026 the locco authors. MIT license.
// What the Redis lock logic shares beyond the transport: the grants an adapter
// remembers, the unique-value check and the error for a reply it cannot read.

import type { LockIdentity } from "../adapter.ts";
import { LoccoError, ValidationError } from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import { describe } from "../_validate.ts";
import { HANDOFF_MARKER } from "./_redis_scripts.ts";

// Swept of ended grants when they reach this many, or twice as many as after
// the last sweep.
const SWEEP_SIZE = 1024;

/**
 * The leases an adapter was granted, by a name of the lease, until their ttl
 * ends on this host's monotonic clock: a reply to an acquire by an owner
 * without a live grant is taken for a resend, anything else for a second
 * acquire.
 */
export class Grants {
  #until: Map<string, number> = new Map();
  #sweepAt = SWEEP_SIZE;

  /** The end of a live or ended grant of `grant`, if it is remembered. */
  get(grant: string): number | undefined {
    return this.#until.get(grant);
  }

  delete(grant: string): void {
    this.#until.delete(grant);
  }

  remember(grant: string, until: number): void {
    this.#until.set(grant, until);
    if (this.#until.size >= this.#sweepAt) {
      const now = monotonicNow();
      for (const [granted, end] of this.#until) if (end <= now) this.#until.delete(granted);
      this.#sweepAt = Math.max(SWEEP_SIZE, this.#until.size * 2);
    }
  }
}

/**
 * Rejects a unique value that starts like a hand-off marker, which could
 * claim, release or extend a key handed off to another waiter.
 */
export function checkUniqueValue<T extends LockIdentity>(identity: T): T {
  if (identity.uniqueValue.startsWith(HANDOFF_MARKER)) {
    throw new ValidationError(
      `uniqueValue should not start with the hand-off marker "\\0locco-handoff\\0": got ${
        describe(identity.uniqueValue)
      }`,
      "uniqueValue",
    );
  }
  return identity;
}

/** The error for a reply of Redis to `what` that it should never give. */
export function unexpectedReply(what: string, reply: unknown): LoccoError {
  return new LoccoError(`Unexpected reply from Redis to ${what}: ${describe(reply)}`);
}

// Copyright 2026 the locco authors. MIT license.
// Multi-key locks on Redis, shared by every Redis adapter: all keys taken
// or none in one script, released, extended and checked in one script each.
// The scripts run the single-key scripts once per key (see
// _redis_scripts.ts), so each key keeps its single-key semantics: its fence
// counter, its waiter queue and hand-offs. A multi-key waiter waits in the
// queue of one key, the one its last attempt found held, through the
// adapter's hand-off machinery; an attempt that fails passes on any key
// handed off to it, so it never holds a key while it waits for another.

import type { ILockAdapter, LockIdentity, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError, ValidationError } from "../errors.ts";
import { type MultiGrant, validateKeys } from "../_multi.ts";
import { monotonicNow } from "../_timers.ts";
import { describe, validateIdentity, validateLease, validateWait } from "../_validate.ts";
import { checkUniqueValue, Grants, unexpectedReply } from "./_redis_grants.ts";
import type { RedisCore, Script } from "./_redis_core.ts";
import type { RedisHandoff } from "./_redis_handoff.ts";
import {
  MULTI_ACQUIRE_SCRIPT,
  MULTI_ACQUIRE_SCRIPT_SHA,
  MULTI_EXTEND_SCRIPT,
  MULTI_EXTEND_SCRIPT_SHA,
  MULTI_RELEASE_SCRIPT,
  MULTI_RELEASE_SCRIPT_SHA,
  MULTI_VALID_SCRIPT,
  MULTI_VALID_SCRIPT_SHA,
  SCRIPT_DONE,
  SCRIPT_MISSING,
  SCRIPT_RELEASED_BEFORE,
  SCRIPT_TAKEN,
} from "./_redis_scripts.ts";
import { numberReply } from "./_redis_transport.ts";

const ACQUIRE: Script = Object.freeze({
  source: MULTI_ACQUIRE_SCRIPT,
  sha: MULTI_ACQUIRE_SCRIPT_SHA,
});
const RELEASE: Script = Object.freeze({
  source: MULTI_RELEASE_SCRIPT,
  sha: MULTI_RELEASE_SCRIPT_SHA,
});
const EXTEND: Script = Object.freeze({ source: MULTI_EXTEND_SCRIPT, sha: MULTI_EXTEND_SCRIPT_SHA });
const VALID: Script = Object.freeze({ source: MULTI_VALID_SCRIPT, sha: MULTI_VALID_SCRIPT_SHA });

/**
 * The hash tag of a full key: what Redis Cluster hashes instead of the
 * whole key (the part between the first `{` and the next `}`, when not
 * empty), else undefined.
 */
function hashTag(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open < 0) return undefined;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The integers of an array reply, or undefined when it is not one. */
function integers(reply: unknown): number[] | undefined {
  if (!Array.isArray(reply)) return undefined;
  const values = reply.map(numberReply);
  return values.every((v) => typeof v === "number" && Number.isSafeInteger(v))
    ? values as number[]
    : undefined;
}

/** The multi-key locks of one Redis adapter: what its multi-key views share. */
export class RedisMultiLocks {
  readonly core: RedisCore;
  readonly handoff: RedisHandoff;
  /** Locks granted, `JSON.stringify(sent keys) + "\n" + unique value`, until their ttl ends. */
  readonly grants: Grants = new Grants();

  constructor(core: RedisCore, handoff: RedisHandoff) {
    this.core = core;
    this.handoff = handoff;
  }

  /**
   * The adapter of a lock on all of `keys`. Validates them before any I/O:
   * distinct valid keys, and on Redis Cluster one hash tag for them all.
   */
  lock(keys: unknown): ILockAdapter {
    if (!Array.isArray(keys)) {
      throw new ValidationError(`key should be an array of keys: got ${describe(keys)}`, "key");
    }
    const valid = validateKeys(keys);
    if (valid.length !== keys.length) {
      throw new ValidationError("key should hold distinct keys: got a key twice", "key");
    }
    const sent = valid.map((key) => this.core.key(key));
    if (this.core.cluster) {
      const tags = sent.map((key) => hashTag(this.core.clientPrefix + key));
      if (tags.some((tag) => tag === undefined || tag !== tags[0])) {
        throw new ValidationError(
          "On Redis Cluster, all keys of a multi-key lock must share a hash tag, " +
            'such as "{order:42}:a" and "{order:42}:b", so that they live in one slot ' +
            "(counting the adapter prefix and the client's keyPrefix): got " +
            valid.map((key) => describe(key)).join(", "),
          "key",
        );
      }
    }
    return new RedisMultiLock(this, valid, sent);
  }
}

/** The wait of one waiting acquire(), on the key its last attempt found held. */
interface Session {
  /** The acquire()'s own session signal. */
  readonly outer: AbortSignal;
  /** The index of the key waited for. */
  readonly index: number;
  /** The session on that key in the hand-off machinery: aborted to leave its queue. */
  readonly controller: AbortController;
  readonly onAbort: () => void;
}

/** A lock on several keys of one Redis adapter, taken atomically. */
class RedisMultiLock implements ILockAdapter {
  #locks: RedisMultiLocks;
  #keys: readonly string[];
  #sent: readonly string[];
  #id: string;
  /** The index of the key the last attempt found held, per unique value. */
  #busy: Map<string, number> = new Map();
  #sessions: Map<string, Session> = new Map();

  constructor(locks: RedisMultiLocks, keys: readonly string[], sent: readonly string[]) {
    this.#locks = locks;
    this.#keys = keys;
    this.#sent = sent;
    this.#id = JSON.stringify(sent);
  }

  async createLock(lease: LockLease): Promise<MultiGrant> {
    const { uniqueValue, ttl } = checkUniqueValue(validateLease(lease));
    const { core, handoff } = this.#locks;
    const sentAt = monotonicNow();
    let waited = 0;
    let entry = "";
    let refresh = "";
    const session = this.#sessions.get(uniqueValue);
    if (session !== undefined) {
      [entry, refresh] = handoff.queueArgs(this.#sent[session.index]!, uniqueValue);
      if (entry !== "") waited = session.index + 1;
    }
    const grant = `${this.#id}\n${uniqueValue}`;
    const until = this.#locks.grants.get(grant);
    const ours = until === undefined || sentAt >= until ? "1" : "";
    const reply = await core.eval(
      ACQUIRE,
      this.#sent.flatMap((sent) => [
        sent,
        core.companion(sent, ":fence"),
        core.companion(sent, ":waiters"),
      ]),
      [uniqueValue, ttl, waited, entry, refresh, ours, handoff.exactCounts],
    );
    const values = integers(reply);
    const n = this.#sent.length;
    if (values?.[0] === 1 && values.length === n + 1) {
      const fences = values.slice(1);
      // A key that already held this unique value and whose counter is gone
      // gives no token: refused, as the single-key acquire refuses it.
      if (fences.every((fence) => fence > 0)) {
        for (const sent of this.#sent) handoff.took(sent, uniqueValue);
        this.#busy.delete(uniqueValue);
        this.#locks.grants.remember(grant, sentAt + ttl);
        return { fences };
      }
      throw new LockCreateError(`Keys ${describe(this.#keys.join(" + "))} are already locked`);
    }
    if (values?.[0] === 0 && values.length === 3 && values[1]! >= 1 && values[1]! <= n) {
      const index = values[1]! - 1;
      this.#busy.set(uniqueValue, index);
      handoff.sawHeld(this.#sent[index]!, uniqueValue, values[2]!);
      throw new LockCreateError(`Key ${describe(this.#keys[index])} is already locked`);
    }
    if (values?.[0] === 2 && values.length === 1) {
      throw new LockCreateError(`Keys ${describe(this.#keys.join(" + "))} are already locked`);
    }
    throw unexpectedReply("the multi-key acquire script", reply);
  }

  async releaseLock(identity: LockIdentity): Promise<void> {
    const { uniqueValue } = checkUniqueValue(validateIdentity(identity));
    const { core, handoff } = this.#locks;
    this.#locks.grants.delete(`${this.#id}\n${uniqueValue}`);
    const reply = await core.eval(
      RELEASE,
      this.#sent.flatMap((sent) => [
        sent,
        core.companion(sent, ":waiters"),
        core.companion(sent, ":released"),
      ]),
      [uniqueValue, handoff.exactCounts],
    );
    const codes = this.#codes(reply, "the multi-key release script", true);
    const failed = codes.filter((code) => code !== SCRIPT_DONE && code !== SCRIPT_RELEASED_BEFORE);
    if (failed.length === 0) return;
    throw new LockReleaseError(this.#lost(failed));
  }

  async extendLock(lease: LockLease): Promise<void> {
    const { uniqueValue, ttl } = checkUniqueValue(validateLease(lease));
    const sentAt = monotonicNow();
    const reply = await this.#locks.core.eval(EXTEND, [...this.#sent], [uniqueValue, ttl]);
    const codes = this.#codes(reply, "the multi-key extend script", false);
    const failed = codes.filter((code) => code !== SCRIPT_DONE);
    if (failed.length === 0) {
      // The owner's lease now runs to at least sentAt + ttl: a createLock() of
      // it before then is the owner asking twice, not a resend.
      this.#locks.grants.remember(`${this.#id}\n${uniqueValue}`, sentAt + ttl);
      return;
    }
    throw new LockExtendError(this.#lost(failed));
  }

  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { uniqueValue } = checkUniqueValue(validateIdentity(identity));
    const reply = await this.#locks.core.eval(VALID, [...this.#sent], [uniqueValue]);
    const valid = numberReply(reply);
    if (valid === 1 || valid === 0) return valid === 1;
    throw unexpectedReply("the multi-key check script", reply);
  }

  /**
   * Waits in the queue of the key the last attempt found held, through the
   * adapter's hand-off machinery, for up to `maxWaitMs`. The place in that
   * queue is kept from wait to wait while attempts find the same key held,
   * and left when they find another (or the acquire ends), so that a waiter
   * never holds up a queue it is not waiting in.
   */
  async waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { uniqueValue } = checkUniqueValue(validateWait(identity, maxWaitMs, signal));
    let session = this.#sessions.get(uniqueValue);
    if (signal.aborted) {
      if (session?.outer === signal) this.#end(uniqueValue, session);
      return;
    }
    const index = this.#busy.get(uniqueValue) ?? 0;
    if (session !== undefined && (session.outer !== signal || session.index !== index)) {
      this.#end(uniqueValue, session);
      session = undefined;
    }
    if (session === undefined) {
      const onAbort = () => {
        const current = this.#sessions.get(uniqueValue);
        if (current !== undefined && current.outer === signal) this.#end(uniqueValue, current);
      };
      session = { outer: signal, index, controller: new AbortController(), onAbort };
      this.#sessions.set(uniqueValue, session);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    await this.#locks.handoff.wait(
      { key: this.#keys[index]!, uniqueValue },
      maxWaitMs,
      session.controller.signal,
    );
  }

  #end(uniqueValue: string, session: Session): void {
    session.outer.removeEventListener("abort", session.onAbort);
    this.#sessions.delete(uniqueValue);
    if (session.outer.aborted) this.#busy.delete(uniqueValue);
    session.controller.abort();
  }

  #codes(reply: unknown, script: string, release: boolean): number[] {
    const codes = integers(reply);
    if (
      codes !== undefined && codes.length === this.#sent.length &&
      codes.every((code) =>
        code === SCRIPT_DONE || code === SCRIPT_MISSING || code === SCRIPT_TAKEN ||
        (release && code === SCRIPT_RELEASED_BEFORE)
      )
    ) {
      return codes;
    }
    throw unexpectedReply(script, reply);
  }

  #lost(failed: number[]): string {
    const what = failed.includes(SCRIPT_MISSING) ? "already expired" : "already taken";
    return `Lock is ${what} on ${failed.length} of its ${this.#sent.length} keys`;
  }
}

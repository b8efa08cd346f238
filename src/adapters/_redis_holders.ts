// Copyright 2026 the locco authors. MIT license.
// Semaphores and read-write locks of the Redis adapters: the holders of a
// key in a sorted set (each with its own lease on the server clock and its
// own fence), next to a queue of waiters, all in the key's Cluster slot and
// apart from lock keys (see the HOLDERS scripts in _redis_scripts.ts).
//
// Waiting is first come first served without polling: a waiting acquire()
// queues itself in Redis (a reader only registers to be woken), with a
// deadline it renews while it waits, so the place of a waiter whose process
// died lapses. A newcomer is refused the slots earlier waiters are entitled
// to, and a waiting writer holds new readers back. Whatever frees a place
// (a release, an expiry found by any script, a waiter leaving) publishes
// the waiters' tokens on their adapters' channels, which wakes them at once
// through the adapter's subscriber; a waiter still asks Redis again within
// its retry delay, and when the soonest lease it saw ends.

import type { ILockAdapter, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError } from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import {
  describe,
  validateIdentity,
  validateKey,
  validateLease,
  validateWait,
} from "../_validate.ts";
import { Grants, unexpectedReply } from "./_redis_grants.ts";
import type { RedisCore, Script } from "./_redis_core.ts";
import type { RedisHandoff } from "./_redis_handoff.ts";
import {
  FENCE_COUNTER_TTL_MS,
  HOLDERS_ACQUIRE_SCRIPT,
  HOLDERS_ACQUIRE_SCRIPT_SHA,
  HOLDERS_CHECK_SCRIPT,
  HOLDERS_CHECK_SCRIPT_SHA,
  HOLDERS_EXTEND_SCRIPT,
  HOLDERS_EXTEND_SCRIPT_SHA,
  HOLDERS_INSPECT_SCRIPT,
  HOLDERS_INSPECT_SCRIPT_SHA,
  HOLDERS_LEAVE_SCRIPT,
  HOLDERS_RELEASE_SCRIPT,
  HOLDERS_RELEASE_SCRIPT_SHA,
  HOLDERS_WAIT_SCRIPT,
  HOLDERS_WAIT_SCRIPT_SHA,
} from "./_redis_scripts.ts";
import { decodeReply, numberReply } from "./_redis_transport.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";

function script(source: string, sha: string): Script {
  return Object.freeze({ source, sha });
}
const ACQUIRE = script(HOLDERS_ACQUIRE_SCRIPT, HOLDERS_ACQUIRE_SCRIPT_SHA);
const RELEASE = script(HOLDERS_RELEASE_SCRIPT, HOLDERS_RELEASE_SCRIPT_SHA);
const EXTEND = script(HOLDERS_EXTEND_SCRIPT, HOLDERS_EXTEND_SCRIPT_SHA);
const WAIT = script(HOLDERS_WAIT_SCRIPT, HOLDERS_WAIT_SCRIPT_SHA);
const CHECK = script(HOLDERS_CHECK_SCRIPT, HOLDERS_CHECK_SCRIPT_SHA);
const INSPECT = script(HOLDERS_INSPECT_SCRIPT, HOLDERS_INSPECT_SCRIPT_SHA);

/**
 * A waiter renews its place at least this often, in ms, and its place lasts
 * PLACE_GRACE_MS longer than that: the place of a waiter whose process died
 * lapses within 12 s, however long its retry delay.
 */
const PLACE_MS = 10_000;
const PLACE_GRACE_MS = 2_000;

/** The reasons the acquire script gives for a refusal. */
const REFUSALS: ReadonlySet<string> = new Set([
  "self",
  "full",
  "write-locked",
  "read-locked",
  "awaited by a writer",
  "promised to an earlier waiter",
]);

/** What a place is: a semaphore slot (`"s"`), or a read-write lock's read or write side. */
type Side = "s" | "r" | "w";

/** The kind of holders a key has, with the suffix of its companion keys. */
interface Kind {
  /** `":semaphore"` or `":rw"`: apart from lock keys and their companions. */
  suffix: string;
  side: Side;
  /** The semaphore's limit; 1 for a read-write lock (its writers' limit). */
  limit: number;
  /** Which lease `inspectLock` reports: a semaphore's soonest, a read-write lock's latest. */
  expiry: "first" | "last";
}

interface HolderWaiter extends Waiter {
  /** Its session signal: every waiter of this adapter joins with one. */
  readonly signal: AbortSignal;
  readonly keys: string[];
  readonly kind: Kind;
  readonly token: string;
  /** Its place may be in Redis (so leaving must remove it). */
  placed: boolean;
  /** A message said it may go (or messages were lost): attempt at once. */
  woken: boolean;
}

/** The semaphores and read-write locks of one Redis adapter. */
export class RedisHolders {
  #core: RedisCore;
  #handoff: RedisHandoff;
  /** Places this adapter granted, `holders key + "\n" + member`, until their ttl ends. */
  #grants: Grants = new Grants();
  #tokens: Map<string, HolderWaiter> = new Map();
  #nextToken = 0;
  /** Bumped whenever messages may have been missed. */
  #epoch = 0;
  #closed = false;
  #leaving: Set<Promise<void>> = new Set();
  #waiters: WaitQueue<HolderWaiter> = new WaitQueue((waiter) => this.#depart(waiter));

  constructor(core: RedisCore, handoff: RedisHandoff) {
    this.#core = core;
    this.#handoff = handoff;
    handoff.share({
      onMessage: (token) => this.#onMessage(token),
      onLost: () => {
        this.#epoch++;
        for (const waiter of this.#waiters.all()) {
          waiter.woken = true;
          this.#waiters.wake(waiter);
        }
      },
    });
  }

  /** The adapter whose locks are the slots of semaphores of `limit` holders (validated). */
  semaphore(limit: number): ILockAdapter {
    return this.#view({ suffix: ":semaphore", side: "s", limit, expiry: "first" });
  }

  /** The adapter whose locks are the `mode` side of read-write locks (validated). */
  readWrite(mode: "read" | "write"): ILockAdapter {
    const side = mode === "read" ? "r" : "w";
    return this.#view({ suffix: ":rw", side, limit: 1, expiry: "last" });
  }

  /** Takes this adapter's waiters out of the queues, and waits for that. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#tokens.values()) if (waiter.placed) this.#leave(waiter);
    while (this.#leaving.size > 0) await Promise.allSettled([...this.#leaving]);
  }

  #view(kind: Kind): ILockAdapter {
    return {
      createLock: (lease) => this.#create(kind, lease),
      releaseLock: (identity) => this.#release(kind, identity),
      extendLock: (lease) => this.#extend(kind, lease),
      isValidLock: (identity) => this.#isValid(kind, identity),
      waitForUnlock: (identity, maxWaitMs, signal) => this.#wait(kind, identity, maxWaitMs, signal),
      inspectLock: (key) => this.#inspect(kind, key),
    };
  }

  /** The six keys of `key`'s holders, in one Cluster slot (see HOLDERS_LUA). */
  #keys(kind: Kind, key: string): string[] {
    const core = this.#core;
    const sent = core.key(key);
    const base = kind.suffix;
    return [
      core.companion(sent, base),
      core.companion(sent, `${base}:fences`),
      core.companion(sent, `${base}:fence`),
      core.companion(sent, `${base}:queue`),
      core.companion(sent, `${base}:deadlines`),
      core.companion(sent, `${base}:wakeups`),
    ];
  }

  #args(kind: Kind, uniqueValue: string, ...more: (string | number)[]): (string | number)[] {
    return [kind.side, uniqueValue, kind.limit, this.#handoff.exactCounts, ...more];
  }

  async #create(kind: Kind, lease: LockLease): Promise<{ fence: number }> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const keys = this.#keys(kind, key);
    const grant = `${keys[0]}\n${kind.side}:${uniqueValue}`;
    const sentAt = monotonicNow();
    const until = this.#grants.get(grant);
    const ours = until === undefined || sentAt >= until ? "1" : "";
    const reply = await this.#core.eval(
      ACQUIRE,
      keys,
      this.#args(kind, uniqueValue, ttl, FENCE_COUNTER_TTL_MS, ours),
    );
    const fence = numberReply(reply);
    if (typeof fence === "number" && Number.isSafeInteger(fence) && fence > 0) {
      this.#grants.remember(grant, sentAt + ttl);
      // The script took the waiter's place out of the queue.
      const waiter = this.#waiters.find(`${kind.side}\n${keys[0]}`, uniqueValue);
      if (waiter !== undefined) waiter.placed = false;
      return { fence };
    }
    const refusal = decodeReply(reply);
    if (typeof refusal === "string" && REFUSALS.has(refusal)) {
      const what = kind.side === "s" ? "Semaphore" : "Read-write lock";
      throw new LockCreateError(
        refusal === "self"
          ? `Key ${describe(key)} is already locked by this unique value`
          : `${what} ${describe(key)} is ${refusal}`,
      );
    }
    throw unexpectedReply("the holders acquire script", reply);
  }

  async #release(kind: Kind, identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const keys = this.#keys(kind, key);
    this.#grants.delete(`${keys[0]}\n${kind.side}:${uniqueValue}`);
    const reply = numberReply(
      await this.#core.eval(RELEASE, keys, this.#args(kind, uniqueValue)),
    );
    if (reply === 1) return;
    if (reply === 0) throw new LockReleaseError("Lock is already expired");
    throw unexpectedReply("the holders release script", reply);
  }

  async #extend(kind: Kind, lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const keys = this.#keys(kind, key);
    const sentAt = monotonicNow();
    const reply = numberReply(
      await this.#core.eval(EXTEND, keys, this.#args(kind, uniqueValue, ttl)),
    );
    if (reply === 1) {
      this.#grants.remember(`${keys[0]}\n${kind.side}:${uniqueValue}`, sentAt + ttl);
      return;
    }
    if (reply === 0) throw new LockExtendError("Lock is already expired");
    throw unexpectedReply("the holders extend script", reply);
  }

  async #isValid(kind: Kind, identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    const holders = this.#keys(kind, key)[0]!;
    const reply = numberReply(await this.#core.eval(CHECK, [holders], [kind.side, uniqueValue]));
    if (reply === 0 || reply === 1) return reply === 1;
    throw unexpectedReply("the holders check script", reply);
  }

  async #inspect(kind: Kind, key: string): Promise<LockInfo | undefined> {
    const keys = this.#keys(kind, validateKey(key));
    const reply = await this.#core.eval(INSPECT, [keys[0]!, keys[1]!], [kind.expiry]);
    if (numberReply(reply) === 0) return undefined;
    if (Array.isArray(reply) && reply.length === 2) {
      const expiresIn = Number(numberReply(reply[0]));
      const fence = Number(numberReply(reply[1]));
      if (Number.isSafeInteger(expiresIn) && expiresIn > 0) {
        return Number.isSafeInteger(fence) && fence > 0 ? { expiresIn, fence } : { expiresIn };
      }
    }
    throw unexpectedReply("the holders inspect script", reply);
  }

  /**
   * Waits for this waiter's turn: queues it in Redis (renewing its place
   * every PLACE_MS), and resolves when a message says it may go, when the
   * soonest lease it saw ends, at `maxWaitMs` (even while Redis does not
   * answer), or when the session ends.
   */
  async #wait(
    kind: Kind,
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { key, uniqueValue } = validateWait(identity, maxWaitMs, signal);
    if (signal.aborted) return;
    const until = monotonicNow() + maxWaitMs;
    const keys = this.#keys(kind, key);
    const queue = `${kind.side}\n${keys[0]}`;
    const waiter = this.#waiters.join(queue, signal, () => {
      const made: HolderWaiter = {
        key: queue,
        uniqueValue,
        signal,
        keys,
        kind,
        token: `*${(this.#nextToken++).toString(36)}`,
        placed: false,
        woken: false,
      };
      this.#tokens.set(made.token, made);
      return made;
    });
    for (;;) {
      if (waiter.woken) {
        waiter.woken = false;
        return;
      }
      const epoch = this.#epoch;
      const lease = Math.max(0, Math.min(until - monotonicNow(), PLACE_MS));
      let reply: number | undefined;
      let replied = false;
      let pausing = true;
      this.#place(waiter, lease).then((placed) => {
        reply = placed;
        replied = true;
        if (pausing) this.#waiters.wake(waiter);
      });
      await this.#waiters.pause(waiter, until - monotonicNow());
      pausing = false;
      if (waiter.woken) {
        waiter.woken = false;
        return;
      }
      // Redis did not answer within the wait, or the session ended.
      if (!replied || signal.aborted) return;
      const now = monotonicNow();
      // A backend failure: the next attempt reports it.
      if (reply === undefined) {
        await this.#waiters.pause(waiter, until - now);
        return;
      }
      if (reply === 0 || epoch !== this.#epoch) return;
      const renewAt = now + lease;
      const end = Math.min(until, renewAt, reply > 0 ? now + reply + 1 : Infinity);
      await this.#waiters.pause(waiter, end - now);
      if (waiter.woken) {
        waiter.woken = false;
        return;
      }
      // Only a place that lapses before the wait ends is renewed.
      if (signal.aborted || end < renewAt || monotonicNow() >= until) return;
    }
  }

  /**
   * Runs the wait script for `waiter`, its place lasting `lease` ms (plus
   * the grace): resolves 0 (it may go now), the ms until the soonest lease
   * ends (-1: none), or undefined when Redis failed.
   */
  async #place(waiter: HolderWaiter, lease: number): Promise<number | undefined> {
    const listening = await this.#handoff.listen() && !this.#closed;
    if (waiter.signal.aborted) return undefined;
    const wakeup = listening ? `${this.#handoff.channel}\n${waiter.token}` : "";
    waiter.placed = true;
    let reply: unknown;
    try {
      reply = numberReply(
        await this.#core.eval(
          WAIT,
          waiter.keys,
          this.#args(waiter.kind, waiter.uniqueValue, Math.ceil(lease) + PLACE_GRACE_MS, wakeup),
        ),
      );
    } catch {
      return undefined;
    }
    // The session ended while the script was on its way: leave again.
    if (waiter.signal.aborted) this.#leave(waiter);
    return typeof reply === "number" && Number.isSafeInteger(reply) ? reply : undefined;
  }

  #onMessage(token: string): void {
    const waiter = this.#tokens.get(token);
    if (waiter === undefined) return;
    if (waiter.signal.aborted) {
      // It left, and its leave failed or is late: give up its place now.
      this.#leave(waiter);
      return;
    }
    waiter.woken = true;
    this.#waiters.wake(waiter);
  }

  // The session of `waiter` ended: its place, if it may have one, is given up.
  #depart(waiter: HolderWaiter): void {
    if (waiter.placed) this.#leave(waiter);
    else this.#tokens.delete(waiter.token);
  }

  // EVAL, so that it is one command, written before a QUIT the caller may send next.
  #leave(waiter: HolderWaiter): void {
    const leaving: Promise<void> = this.#core.transport.eval(
      HOLDERS_LEAVE_SCRIPT,
      waiter.keys,
      this.#args(waiter.kind, waiter.uniqueValue),
    ).then(
      () => {
        waiter.placed = false;
      },
      () => {
        // Redis failed: the place lapses at its deadline, within seconds.
      },
    ).finally(() => {
      this.#tokens.delete(waiter.token);
      this.#leaving.delete(leaving);
    });
    this.#leaving.add(leaving);
  }
}

// Copyright 2026 the locco authors. MIT license.

/**
 * The Redis adapter, for an [ioredis](https://github.com/redis/ioredis) client
 * (version 5 or 6) that you create, own and close. A lock is one Redis string
 * key, `prefix + key`, holding the holder's unique value with a
 * millisecond expiry. Acquire, release and extend are one atomic Lua script
 * each (EVALSHA, with an EVAL fallback); acquire also issues a monotonic
 * fencing token (`lock.fence`) from a counter key in the same Cluster slot.
 * `isLocked()` is one `GET`. An uncontended acquire and release is two round
 * trips. Locks live on one Redis primary: see
 * {@linkcode IoRedisAdapter} for what a failover or a restart without
 * persistence does to them.
 *
 * ```ts
 * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `new Redis(url)` from "ioredis".
 * async function updateUser(client: IoRedisLikeClient): Promise<void> {
 *   const locker = new Locker({
 *     adapter: new IoRedisAdapter({ client, prefix: "locks:" }),
 *     retrySettings: { retryDelay: 200, retryTimes: 10 },
 *   });
 *   await locker.lock("user:123", 3000).acquire(async (lock) => {
 *     // critical section: the key "locks:user:123" is ours until release
 *     await lock.extend(2000);
 *   });
 * }
 * ```
 *
 * @module
 */

import type { ILockAdapter, LockIdentity, LockLease } from "../adapter.ts";
import {
  LoccoError,
  LockCreateError,
  LockExtendError,
  LockReleaseError,
  ValidationError,
} from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import { describe, validateIdentity, validateLease, validateObject } from "../_validate.ts";
import {
  ACQUIRE_SCRIPT,
  ACQUIRE_SCRIPT_SHA,
  ENQUEUE_SCRIPT,
  ENQUEUE_SCRIPT_SHA,
  EXTEND_SCRIPT,
  EXTEND_SCRIPT_SHA,
  LEAVE_SCRIPT,
  LEAVE_SCRIPT_SHA,
  RELEASE_SCRIPT,
  RELEASE_SCRIPT_SHA,
  SCRIPT_DONE,
  SCRIPT_MISSING,
  SCRIPT_TAKEN,
} from "./_redis_scripts.ts";

/**
 * The three methods {@linkcode IoRedisAdapter} calls on its client, with the
 * argument shapes it uses. An ioredis 5 or 6 `Redis` (or `Cluster`) instance
 * fits as it is; locco never imports ioredis. Each method returns a promise
 * that rejects with the driver's error, which the adapter passes on unchanged.
 *
 * @example A client typed structurally
 * ```ts
 * import type { IoRedisLikeClient } from "@kontsedal/locco/redis";
 *
 * // Any `new Redis()` from "ioredis" is assignable to IoRedisLikeClient.
 * async function ping(client: IoRedisLikeClient): Promise<boolean> {
 *   return (await client.get("locco:ping")) !== null;
 * }
 * ```
 */
export interface IoRedisLikeClient {
  /**
   * `GET key`.
   *
   * @param key The full key, prefix included.
   * @returns The value, or `null` when the key does not exist.
   */
  get(key: string): Promise<string | null>;
  /**
   * `EVALSHA sha1 numkeys ...keysAndArgs`: runs a cached script. Rejects with
   * an error whose message starts with `NOSCRIPT` when the server does not
   * have the script.
   *
   * @param sha1 The SHA-1 of the script, in lowercase hex.
   * @param numkeys How many of the following arguments are keys.
   * @param keysAndArgs The keys, then the arguments.
   * @returns The script's reply.
   */
  evalsha(sha1: string, numkeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  /**
   * `EVAL script numkeys ...keysAndArgs`: runs a script and caches it on the
   * server, so the next EVALSHA finds it.
   *
   * @param script The Lua source.
   * @param numkeys How many of the following arguments are keys.
   * @param keysAndArgs The keys, then the arguments.
   * @returns The script's reply.
   */
  eval(script: string, numkeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  /**
   * Optional: a new connection with the same options (ioredis `duplicate()`),
   * which the adapter uses, once, to subscribe to release notifications.
   * Without it, waiters poll.
   *
   * @returns The new connection.
   */
  duplicate?(): IoRedisLikeSubscriber;
}

/**
 * The connection on which {@linkcode IoRedisAdapter} listens for releases:
 * what `duplicate()` of an ioredis client returns. The adapter owns it and
 * closes it in {@linkcode IoRedisAdapter.close}.
 *
 * @example The subscriber is an ioredis client
 * ```ts
 * import type { IoRedisLikeSubscriber } from "@kontsedal/locco/redis";
 *
 * // `client.duplicate()` of a `new Redis()` from "ioredis" fits.
 * async function listen(subscriber: IoRedisLikeSubscriber): Promise<void> {
 *   subscriber.on("message", (channel: string, message: string) => {
 *     console.assert(typeof channel === "string" && typeof message === "string");
 *   });
 *   await subscriber.subscribe("locco:handoff:example");
 *   await subscriber.quit();
 * }
 * ```
 */
export interface IoRedisLikeSubscriber {
  /**
   * `SUBSCRIBE channel`.
   *
   * @param channel The channel.
   * @returns A promise that resolves once subscribed.
   */
  subscribe(channel: string): Promise<unknown>;
  /**
   * Adds an event listener: the adapter listens to `"message"` and `"close"`.
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns Anything.
   */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  /**
   * Closes the connection gracefully (`QUIT`).
   *
   * @returns A promise that resolves once closed.
   */
  quit(): Promise<unknown>;
  /** Closes the connection at once. */
  disconnect(): void;
}

/**
 * Options of {@linkcode IoRedisAdapter}.
 *
 * @example A prefix that keeps lock keys apart from application data
 * ```ts
 * import {
 *   IoRedisAdapter,
 *   type IoRedisAdapterOptions,
 *   type IoRedisLikeClient,
 * } from "@kontsedal/locco/redis";
 *
 * function makeAdapter(client: IoRedisLikeClient): IoRedisAdapter {
 *   const options: IoRedisAdapterOptions = { client, prefix: "locks:" };
 *   return new IoRedisAdapter(options);
 * }
 * ```
 */
export interface IoRedisAdapterOptions {
  /**
   * The ioredis client (ioredis 5 or 6 `Redis`, or `Cluster`). The adapter
   * only calls `get`, `evalsha` and `eval` on it and never adds,
   * changes or removes any of its properties. You connect and close it.
   */
  client: IoRedisLikeClient;
  /**
   * Prepended to every lock key: lock `"user:1"` is the Redis key
   * `prefix + "user:1"`. On Redis Cluster, a hash tag in the prefix
   * (`"{locks}:"`) puts every lock in one slot; without one, each lock key
   * hashes on its own, which is also fine, since every script touches a
   * single key.
   *
   * @default {""}
   */
  prefix?: string | undefined;
  /**
   * How `acquire()` waits while the key is held. `"notify"`: waiters are
   * woken by the release (through one subscriber connection per adapter,
   * `client.duplicate()`, opened when something first waits and closed by
   * {@linkcode IoRedisAdapter.close}), queue first come first served, and
   * poll at most every retry delay as a fallback. `"poll"`: retry every
   * retry delay, like 0.1.0. `"notify"` needs `client.duplicate`; without it
   * the adapter polls.
   *
   * @default {"notify"}
   */
  waitStrategy?: "notify" | "poll" | undefined;
}

const CLIENT_METHODS = ["get", "evalsha", "eval"] as const;

interface Script {
  readonly source: string;
  readonly sha: string;
}

// Defined once for the whole module: nothing is registered per adapter, per
// client or per call.
const ACQUIRE: Script = Object.freeze({ source: ACQUIRE_SCRIPT, sha: ACQUIRE_SCRIPT_SHA });
const ENQUEUE: Script = Object.freeze({ source: ENQUEUE_SCRIPT, sha: ENQUEUE_SCRIPT_SHA });
const LEAVE: Script = Object.freeze({ source: LEAVE_SCRIPT, sha: LEAVE_SCRIPT_SHA });
const RELEASE: Script = Object.freeze({ source: RELEASE_SCRIPT, sha: RELEASE_SCRIPT_SHA });
const EXTEND: Script = Object.freeze({ source: EXTEND_SCRIPT, sha: EXTEND_SCRIPT_SHA });

function validateClient(client: unknown): IoRedisLikeClient {
  if ((typeof client !== "object" && typeof client !== "function") || client === null) {
    throw new ValidationError(
      `client should be an ioredis client (get, evalsha and eval methods): got ${describe(client)}`,
      "client",
    );
  }
  for (const method of CLIENT_METHODS) {
    if (typeof (client as Record<string, unknown>)[method] !== "function") {
      throw new ValidationError(
        `client should be an ioredis client (get, evalsha and eval methods): "${method}" is not a function`,
        "client",
      );
    }
  }
  return client as IoRedisLikeClient;
}

/** How long a released key waits for the waiter it was handed to, in ms. */
const HANDOFF_MS = 500;

/** How long a waiter queue lives after its last enqueue: 1 hour, in ms. */
const QUEUE_TTL_MS = 60 * 60 * 1000;

/**
 * The prefix of the channels that announce hand-offs: each adapter listens on
 * its own, `HANDOFF_CHANNEL_PREFIX + channel id`, for every key its waiters
 * wait for, so a hand-off reaches the waiter's process and no other.
 */
const HANDOFF_CHANNEL_PREFIX = "locco:handoff:";

/** A waiting acquire() of this process (one wait session). */
interface RedisWaiter {
  readonly uniqueValue: string;
  readonly signal: AbortSignal;
  /** Ends the current wait early. */
  wake: (() => void) | undefined;
  /** Enqueued in Redis (only the local head is). */
  queued: boolean;
  /** Was enqueued in this session: its entry may still be in the queue. */
  everQueued: boolean;
  /** The key was handed off to this waiter: attempt at once. */
  handedOff: boolean;
}

/** What this process knows about a key some waiter waits for. */
interface KeyState {
  /** Local waiters, first come first served; only the first one talks to Redis. */
  readonly waiters: RedisWaiter[];
  /** Monotonic time until which the key is surely held (no attempt can succeed). */
  heldUntil: number;
  /** Bumped by every hand-off message for the key. */
  epoch: number;
}

/** How long a fence counter key lives after the last acquire of its lock: 7 days, in ms. */
const FENCE_COUNTER_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The key of a companion of `fullKey` (its fence counter, say), in the same
 * Redis Cluster slot: `fullKey + suffix` when `fullKey` has a hash tag (a
 * `{...}` with something inside: Cluster then hashes only that part), else
 * `"{" + fullKey + "}" + suffix`, whose tag is the whole of `fullKey`. A key
 * that contains `}` but no valid tag cannot be wrapped like that: its
 * companion lands in another slot, which only Redis Cluster minds (it answers
 * CROSSSLOT, passed on unchanged).
 */
function companionKey(fullKey: string, suffix: string): string {
  const open = fullKey.indexOf("{");
  if (open >= 0) {
    const close = fullKey.indexOf("}", open + 1);
    if (close > open + 1) return fullKey + suffix;
  }
  return `{${fullKey}}${suffix}`;
}

function isNoScriptError(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message.startsWith("NOSCRIPT");
}

function unexpectedReply(command: string, reply: unknown): LoccoError {
  return new LoccoError(`Unexpected reply from Redis to ${command}: ${describe(reply)}`);
}

/**
 * Keeps locks in Redis through an ioredis client you provide.
 *
 * - **Keys.** Lock `key` is the Redis string `prefix + key` holding the
 *   holder's unique value, with a `PX` expiry set by Redis itself, so expiry
 *   follows the Redis server's clock, not the application's.
 * - **Acquire** is one script: `SET key value PX ttl NX`, and when that took
 *   the key, the next fencing token, which resolves as `{ fence }`. When the
 *   key is held, it rejects with `LockCreateError` (the only error retried).
 * - **Fencing tokens.** The token is `max(counter + 1, server time in µs)`,
 *   where the counter is the companion key `prefix + key + ":fence"` (when the
 *   key has a Cluster hash tag) or `"{" + prefix + key + "}:fence"`, which
 *   keeps the last token for 7 days after the last acquire. So tokens of a key
 *   strictly increase across releases, expiries, a deleted or evicted
 *   counter and a restart without persistence (the `TIME` floor), as long as
 *   the Redis server's clock does not step back while the counter is gone.
 *   On Redis Cluster, a key that contains `}` without a valid hash tag (such
 *   as `"a{}b"`) cannot have its counter in its own slot: its acquire fails
 *   with Cluster's `CROSSSLOT` error; add a hash tag (`"{a}b"`) to such keys.
 * - **Release / extend** are one Lua script each, which compares the stored
 *   value with the unique value and then `DEL`s the key or `PEXPIRE`s it to
 *   now + ttl. Extend never re-creates a key that is gone.
 * - **isValidLock** is one `GET` compared with the unique value.
 * - **Scripts.** The seed README describes the scripts as two commands
 *   (`releaseLock`, `extendLock`) registered on the client at construction.
 *   This adapter keeps the intent (the scripts and their SHA-1 digests are
 *   prepared once, never redefined per call, and run by digest) but does not
 *   touch your client: it sends `EVALSHA` itself and, only when Redis answers
 *   `NOSCRIPT` (after a restart, a failover or `SCRIPT FLUSH`), one `EVAL`,
 *   which caches the script again. `defineCommand` would add properties to
 *   your client and overwrite any existing `releaseLock` command. So an
 *   uncontended acquire plus release costs two round trips: `EVALSHA` each.
 * - **Errors.** Connection and server errors (`Connection is closed.`,
 *   `WRONGTYPE ...`, `READONLY ...`) reject unchanged, so `acquire()` does not
 *   retry them as if the key were busy; configure ioredis
 *   (`enableOfflineQueue: false`, `maxRetriesPerRequest`) to make them fail
 *   fast instead of waiting for a reconnect.
 * - **Limits.** Locks live on one Redis primary. Replication is asynchronous:
 *   after a failover, or a restart without persistence, a lock can vanish and
 *   a second holder can take the key. Have the protected resource check the
 *   fencing token when that matters: the new holder's token is larger.
 *
 * @example Lock with an ioredis client
 * ```ts
 * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `new Redis()` from "ioredis".
 * async function withLock(client: IoRedisLikeClient): Promise<void> {
 *   const adapter = new IoRedisAdapter({ client });
 *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 10 } });
 *   const lock = await locker.lock("user:123", 3000).acquire();
 *   try {
 *     await lock.extend(2000);
 *   } finally {
 *     await lock.release();
 *   }
 * }
 * ```
 */
export class IoRedisAdapter implements ILockAdapter {
  #client: IoRedisLikeClient;
  #prefix: string;
  #notify: boolean;
  #keys: Map<string, KeyState> = new Map();
  #subscriber: IoRedisLikeSubscriber | undefined;
  #subscribed: Promise<boolean> | undefined;
  #closed = false;
  /** This adapter's hand-off channel id; queue entries are `id + "\n" + uniqueValue`. */
  #channelId: string = crypto.randomUUID();

  /**
   * Wraps an ioredis client. Does no I/O and does not modify the client.
   *
   * @param options `client`, and optionally the key `prefix`.
   * @throws {ValidationError} When `client` lacks `get`, `evalsha` or `eval`, or `prefix` is not a string.
   * @example Wrap a client
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   * import assert from "node:assert/strict";
   *
   * function makeAdapter(client: IoRedisLikeClient): IoRedisAdapter {
   *   return new IoRedisAdapter({ client, prefix: "locks:" });
   * }
   * assert.throws(() => makeAdapter({} as IoRedisLikeClient), /client/);
   * ```
   */
  constructor(options: IoRedisAdapterOptions) {
    validateObject(options, "options");
    const { client, prefix = "", waitStrategy = "notify" } = options;
    this.#client = validateClient(client);
    if (typeof prefix !== "string") {
      throw new ValidationError(`prefix should be a string: got ${describe(prefix)}`, "prefix");
    }
    this.#prefix = prefix;
    if (waitStrategy !== "notify" && waitStrategy !== "poll") {
      throw new ValidationError(
        `waitStrategy should be "notify" or "poll": got ${describe(waitStrategy)}`,
        "waitStrategy",
      );
    }
    this.#notify = waitStrategy === "notify" && typeof client.duplicate === "function";
  }

  /**
   * Runs the acquire script: `SET prefix+key uniqueValue PX ttl NX` and, when
   * that took the key, the next fencing token for the key.
   *
   * @param lease The key, unique value and ttl in milliseconds.
   * @returns The fencing token: a safe integer larger than every token this
   * Redis issued for the key before.
   * @throws {LockCreateError} When the key exists (an unexpired lock, ours or another's).
   * @throws {ValidationError} When an argument is invalid.
   * @example Take a key
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function take(client: IoRedisLikeClient): Promise<number> {
   *   const adapter = new IoRedisAdapter({ client });
   *   const { fence } = await adapter.createLock({ key: "orders:42", uniqueValue: "me", ttl: 5000 });
   *   return fence;
   * }
   * ```
   */
  async createLock(lease: LockLease): Promise<{ fence: number }> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const fullKey = this.#prefix + key;
    const state = this.#keys.get(fullKey);
    const head = state?.waiters[0];
    // Known contention answers without I/O: a waiter of this process is
    // ahead, or the key is surely held and nothing was handed to us.
    if (
      state !== undefined && (
        (head !== undefined && head.uniqueValue !== uniqueValue) ||
        (monotonicNow() < state.heldUntil && !head?.handedOff)
      )
    ) {
      throw new LockCreateError(`Key ${describe(key)} is already locked`);
    }
    const waiting = head !== undefined && head.uniqueValue === uniqueValue;
    const handedOff = waiting && head.handedOff;
    const epoch = state?.epoch;
    const sentAt = monotonicNow();
    if (waiting) head.handedOff = false;
    const reply = await this.#eval(ACQUIRE, [
      fullKey,
      companionKey(fullKey, ":fence"),
      companionKey(fullKey, ":waiters"),
    ], [
      uniqueValue,
      ttl,
      FENCE_COUNTER_TTL_MS,
      waiting ? this.#entry(uniqueValue) : "",
      handedOff ? "1" : "",
    ]);
    // ioredis with `stringNumbers` answers "123" instead of 123.
    const code = typeof reply === "string" ? Number(reply) : reply;
    if (typeof code === "number" && Number.isSafeInteger(code) && code !== 0) {
      if (code > 0) {
        if (waiting) this.#dequeue(fullKey, head);
        return { fence: code };
      }
      this.#learnHeld(fullKey, epoch, sentAt, -1 - code);
      throw new LockCreateError(`Key ${describe(key)} is already locked`);
    }
    throw unexpectedReply("the acquire script", reply);
  }

  /**
   * Deletes the key if it holds this unique value, in one atomic script.
   *
   * @param identity The key and unique value.
   * @returns A promise that resolves once the key is deleted.
   * @throws {LockReleaseError} "Lock is already expired" (no key) or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid.
   * @example Release by the owner
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function takeAndRelease(client: IoRedisLikeClient): Promise<void> {
   *   const adapter = new IoRedisAdapter({ client });
   *   await adapter.createLock({ key: "orders:42", uniqueValue: "me", ttl: 5000 });
   *   await adapter.releaseLock({ key: "orders:42", uniqueValue: "me" });
   * }
   * ```
   */
  async releaseLock(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    const fullKey = this.#prefix + key;
    const reply = await this.#runScript(RELEASE, [fullKey, companionKey(fullKey, ":waiters")], [
      uniqueValue,
      HANDOFF_CHANNEL_PREFIX,
      HANDOFF_MS,
    ]);
    if (reply === SCRIPT_DONE) {
      const state = this.#keys.get(fullKey);
      if (state !== undefined) state.heldUntil = 0;
      return;
    }
    if (reply === SCRIPT_MISSING) throw new LockReleaseError("Lock is already expired");
    throw new LockReleaseError("Lock is already taken");
  }

  /**
   * Sets the key's expiry to now + `ttl` if it holds this unique value, in one
   * atomic script. Never re-creates a key that is gone.
   *
   * @param lease The key, unique value and new ttl in milliseconds.
   * @returns A promise that resolves once the expiry is updated.
   * @throws {LockExtendError} "Lock is already expired" (no key) or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid.
   * @example Extend by the owner
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function takeAndExtend(client: IoRedisLikeClient): Promise<void> {
   *   const adapter = new IoRedisAdapter({ client });
   *   await adapter.createLock({ key: "orders:42", uniqueValue: "me", ttl: 1000 });
   *   await adapter.extendLock({ key: "orders:42", uniqueValue: "me", ttl: 5000 });
   * }
   * ```
   */
  async extendLock(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = validateLease(lease);
    const reply = await this.#runScript(EXTEND, [this.#prefix + key], [uniqueValue, ttl]);
    if (reply === SCRIPT_DONE) return;
    if (reply === SCRIPT_MISSING) throw new LockExtendError("Lock is already expired");
    throw new LockExtendError("Lock is already taken");
  }

  /**
   * Sends `GET prefix+key` and compares the value with the unique value.
   *
   * @param identity The key and unique value.
   * @returns Whether this unique value holds the key (Redis drops expired keys).
   * @throws {ValidationError} When an argument is invalid.
   * @example Check a lock
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function held(client: IoRedisLikeClient): Promise<boolean> {
   *   const adapter = new IoRedisAdapter({ client });
   *   return await adapter.isValidLock({ key: "orders:42", uniqueValue: "me" });
   * }
   * ```
   */
  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = validateIdentity(identity);
    return (await this.#client.get(this.#prefix + key)) === uniqueValue;
  }

  /**
   * Waits until this waiter may take the key: with `waitStrategy: "notify"`
   * (the default), waiters of one key in this process queue first come first
   * served and only the first one enqueues itself in Redis, in a list next to
   * the key; a release hands the key to the first waiter of that list (for
   * 500 ms only that waiter can take it) and publishes it on the adapter's
   * subscriber connection, which wakes that waiter at once. The wait also
   * ends after `maxWaitMs` (the retry delay), whatever happens, so a lost
   * message only delays a waiter; an expired lock (no release) is noticed
   * that way too. With `waitStrategy: "poll"` it just sleeps `maxWaitMs`.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @example Called by acquire(), not by hand
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * async function waitForIt(client: IoRedisLikeClient): Promise<void> {
   *   const adapter = new IoRedisAdapter({ client });
   *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 30 } });
   *   try {
   *     // woken by the holder's release, not after up to 1 s
   *     await locker.lock("report", 10_000).acquire(async () => {});
   *   } finally {
   *     await adapter.close();
   *   }
   * }
   * ```
   */
  async waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { key, uniqueValue } = validateIdentity(identity);
    if (signal.aborted) return;
    if (!this.#notify || this.#closed) return await this.#pause(undefined, maxWaitMs, signal);
    const fullKey = this.#prefix + key;
    let state = this.#keys.get(fullKey);
    if (state === undefined) {
      state = { waiters: [], heldUntil: 0, epoch: 0 };
      this.#keys.set(fullKey, state);
    }
    let waiter = state.waiters.find((w) => w.signal === signal);
    if (waiter === undefined) {
      const joined: RedisWaiter = {
        uniqueValue,
        signal,
        wake: undefined,
        queued: false,
        everQueued: false,
        handedOff: false,
      };
      waiter = joined;
      state.waiters.push(joined);
      signal.addEventListener("abort", () => this.#leave(fullKey, joined), { once: true });
    }
    const startedAt = monotonicNow();
    if (state.waiters[0] === waiter && !waiter.handedOff) {
      if (!(await this.#subscribe())) return await this.#pause(waiter, maxWaitMs, signal);
      if (!waiter.queued && !signal.aborted && !this.#closed) {
        const epoch = state.epoch;
        // The attempt that failed just before usually told how long the key
        // is held: ask for the PTTL only when it did not.
        const askPttl = state.heldUntil <= startedAt;
        let reply: unknown;
        try {
          reply = await this.#eval(ENQUEUE, [fullKey, companionKey(fullKey, ":waiters")], [
            uniqueValue,
            QUEUE_TTL_MS,
            this.#entry(uniqueValue),
            waiter.everQueued ? "1" : "0",
            askPttl ? "1" : "0",
          ]);
        } catch {
          return; // the next attempt reports the backend's error
        }
        const pttl = typeof reply === "string" ? Number(reply) : reply;
        if (pttl === 0) {
          state.heldUntil = 0;
          return; // free, or handed to us: attempt now
        }
        waiter.queued = true;
        waiter.everQueued = true;
        if (typeof pttl === "number" && pttl > 0) this.#learnHeld(fullKey, epoch, startedAt, pttl);
      }
    }
    if (waiter.handedOff || signal.aborted) return;
    await this.#pause(waiter, maxWaitMs - (monotonicNow() - startedAt), signal);
  }

  /**
   * Closes the subscriber connection that `waitStrategy: "notify"` opened
   * (if any) and wakes every waiter, which then polls. Does not touch your
   * client. Call it before you close the client; the adapter also closes
   * the subscriber when the client emits `"end"`. Locking keeps working
   * afterwards, with polling.
   *
   * @returns A promise that resolves once the subscriber is closed.
   * @example Close the adapter, then the client
   * ```ts
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function shutdown(client: IoRedisLikeClient & { quit(): Promise<unknown> }) {
   *   const adapter = new IoRedisAdapter({ client });
   *   await adapter.close();
   *   await client.quit();
   * }
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#dropSubscriber();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscribed = undefined;
    if (subscriber === undefined) return;
    try {
      await subscriber.quit();
    } catch {
      subscriber.disconnect();
    }
  }

  // Subscribes once per adapter; resolves false when notifications are off.
  #subscribe(): Promise<boolean> {
    if (this.#subscribed !== undefined) return this.#subscribed;
    const subscriber = this.#subscriber ??= this.#openSubscriber();
    if (subscriber === undefined) return Promise.resolve(false);
    const subscribed: Promise<boolean> = subscriber.subscribe(this.#channel()).then(
      (): boolean => !this.#closed && this.#subscribed === subscribed,
      () => {
        if (this.#subscribed === subscribed) this.#subscribed = undefined;
        return false;
      },
    );
    this.#subscribed = subscribed;
    return subscribed;
  }

  #openSubscriber(): IoRedisLikeSubscriber | undefined {
    let subscriber: IoRedisLikeSubscriber;
    try {
      subscriber = this.#client.duplicate!();
    } catch {
      this.#notify = false;
      return undefined;
    }
    subscriber.on("message", (channel: unknown, message: unknown) => {
      if (channel === this.#channel() && typeof message === "string") this.#onHandoff(message);
    });
    subscriber.on("error", () => {}); // surfaced as "close"; the next waits poll
    subscriber.on("close", () => {
      // Messages may have been missed: forget what we knew and wake the heads.
      this.#subscribed = undefined;
      this.#dropSubscriber();
    });
    const client = this.#client as { on?: unknown };
    if (typeof client.on === "function") {
      (client as IoRedisLikeSubscriber).on("end", () => void this.close());
    }
    return subscriber;
  }

  #dropSubscriber(): void {
    for (const state of this.#keys.values()) {
      state.heldUntil = 0;
      state.epoch++;
      for (const waiter of state.waiters) waiter.queued = false;
      state.waiters[0]?.wake?.();
    }
  }

  // "fullKey\nwaiter": the key was handed to `waiter`.
  #onHandoff(message: string): void {
    for (let at = message.indexOf("\n"); at >= 0; at = message.indexOf("\n", at + 1)) {
      const state = this.#keys.get(message.slice(0, at));
      if (state === undefined) continue;
      const target = message.slice(at + 1);
      state.epoch++;
      const head = state.waiters[0];
      if (head !== undefined && head.uniqueValue === target) {
        head.handedOff = true;
        head.queued = false;
        state.heldUntil = 0;
        head.wake?.();
      } else {
        // Held for another waiter at most HANDOFF_MS, then by it: look again then.
        state.heldUntil = Math.min(state.heldUntil, monotonicNow() + HANDOFF_MS);
      }
      return;
    }
  }

  // The key was seen held with `pttl` ms to live by a command sent at `sentAt`.
  #learnHeld(fullKey: string, epoch: number | undefined, sentAt: number, pttl: number): void {
    const state = this.#keys.get(fullKey);
    if (state === undefined || state.epoch !== epoch || this.#subscribed === undefined) return;
    if (pttl <= 0) return;
    // 1% for clock rate differences; a release before then wakes us anyway.
    state.heldUntil = sentAt + pttl - Math.ceil(pttl / 100) - 1;
  }

  #dequeue(fullKey: string, waiter: RedisWaiter): void {
    const state = this.#keys.get(fullKey);
    const index = state?.waiters.indexOf(waiter) ?? -1;
    if (state === undefined || index < 0) return;
    state.waiters.splice(index, 1);
    waiter.queued = false;
    if (state.waiters.length === 0) this.#keys.delete(fullKey);
    else if (index === 0) state.waiters[0]!.wake?.(); // the new head enqueues itself
  }

  #leave(fullKey: string, waiter: RedisWaiter): void {
    const wasQueued = waiter.queued || waiter.handedOff;
    this.#dequeue(fullKey, waiter);
    waiter.wake?.();
    if (!wasQueued || this.#closed) return;
    // Leave the Redis queue, and pass on a hand-off meant for us.
    this.#eval(LEAVE, [fullKey, companionKey(fullKey, ":waiters")], [
      waiter.uniqueValue,
      HANDOFF_CHANNEL_PREFIX,
      HANDOFF_MS,
      this.#entry(waiter.uniqueValue),
    ]).catch(() => {});
  }

  #channel(): string {
    return HANDOFF_CHANNEL_PREFIX + this.#channelId;
  }

  // A waiter's entry in a Redis queue: where to announce its hand-off, and who.
  #entry(uniqueValue: string): string {
    return `${this.#channelId}\n${uniqueValue}`;
  }

  // Sleeps up to `ms`, ended early by `waiter.wake()` or the session's abort.
  #pause(waiter: RedisWaiter | undefined, ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        if (waiter !== undefined && waiter.wake === done) waiter.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      if (waiter !== undefined) waiter.wake = done;
    });
  }

  // EVALSHA first; EVAL only when the server lost the script cache. Every key
  // a script touches is in KEYS, so Redis Cluster routes it to their slot.
  async #eval(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScriptError(error)) throw error;
      return await this.#client.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  async #runScript(script: Script, keys: string[], args: (string | number)[]): Promise<number> {
    const reply = await this.#eval(script, keys, args);
    // ioredis with `stringNumbers` answers "1" instead of 1.
    const code = typeof reply === "string" ? Number(reply) : reply;
    if (code === SCRIPT_DONE || code === SCRIPT_MISSING || code === SCRIPT_TAKEN) return code;
    throw unexpectedReply(script === RELEASE ? "the release script" : "the extend script", reply);
  }
}

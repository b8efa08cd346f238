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
import { describe, validateIdentity, validateLease } from "../_validate.ts";
import {
  ACQUIRE_SCRIPT,
  ACQUIRE_SCRIPT_SHA,
  EXTEND_SCRIPT,
  EXTEND_SCRIPT_SHA,
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
}

const CLIENT_METHODS = ["get", "evalsha", "eval"] as const;

interface Script {
  readonly source: string;
  readonly sha: string;
}

// Defined once for the whole module: nothing is registered per adapter, per
// client or per call.
const ACQUIRE: Script = Object.freeze({ source: ACQUIRE_SCRIPT, sha: ACQUIRE_SCRIPT_SHA });
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
    if (typeof options !== "object" || options === null) {
      throw new ValidationError(`options should be an object: got ${describe(options)}`, "options");
    }
    const { client, prefix = "" } = options;
    this.#client = validateClient(client);
    if (typeof prefix !== "string") {
      throw new ValidationError(`prefix should be a string: got ${describe(prefix)}`, "prefix");
    }
    this.#prefix = prefix;
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
    const reply = await this.#eval(ACQUIRE, [fullKey, companionKey(fullKey, ":fence")], [
      uniqueValue,
      ttl,
      FENCE_COUNTER_TTL_MS,
    ]);
    // ioredis with `stringNumbers` answers "123" instead of 123.
    const code = typeof reply === "string" ? Number(reply) : reply;
    if (typeof code === "number" && Number.isSafeInteger(code) && code !== 0) {
      if (code > 0) return { fence: code };
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
    const reply = await this.#runScript(RELEASE, key, [uniqueValue]);
    if (reply === SCRIPT_DONE) return;
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
    const reply = await this.#runScript(EXTEND, key, [uniqueValue, ttl]);
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

  async #runScript(script: Script, key: string, args: (string | number)[]): Promise<number> {
    const reply = await this.#eval(script, [this.#prefix + key], args);
    // ioredis with `stringNumbers` answers "1" instead of 1.
    const code = typeof reply === "string" ? Number(reply) : reply;
    if (code === SCRIPT_DONE || code === SCRIPT_MISSING || code === SCRIPT_TAKEN) return code;
    throw unexpectedReply(script === RELEASE ? "the release script" : "the extend script", reply);
  }
}

// Copyright 2026 the locco authors. MIT license.

/**
 * The Redis adapter for a [Valkey GLIDE](https://github.com/valkey-io/valkey-glide)
 * client (`@valkey/valkey-glide`; version 2.5 is tested): a standalone
 * `GlideClient`, which you create, own and close. It keeps locks exactly as
 * {@linkcode IoRedisAdapter} does (same keys, scripts, fencing tokens and
 * waiting), so adapters over different clients can share keys. Exported
 * from `@kontsedal/locco/redis` and the root.
 *
 * ```ts
 * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `await GlideClient.createClient({ addresses: [{ host, port }] })`.
 * async function updateUser(client: GlideLikeClient): Promise<void> {
 *   const adapter = new GlideAdapter({ client, prefix: "locks:" });
 *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 10 } });
 *   await locker.lock("user:123", 3000).acquire(async (lock) => {
 *     await lock.extend(2000);
 *   });
 *   await adapter.close();
 * }
 * ```
 *
 * @module
 */

import type { ILockAdapter, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { validateLimit, validateMode } from "../_validate.ts";
import { glideTransport } from "./_glide_transport.ts";
import { openRedisLocks, type RedisLocks } from "./_redis_locks.ts";
// deno-lint-ignore no-unused-vars
import type { IoRedisAdapter } from "./redis.ts";

/**
 * The methods {@linkcode GlideAdapter} calls on its client. A GLIDE
 * `GlideClient` or `GlideClusterClient` fits as it is; locco never imports GLIDE. Each method
 * returns a promise that rejects with the driver's error, which the adapter
 * passes on unchanged.
 *
 * @example A client typed structurally
 * ```ts
 * import type { GlideLikeClient } from "@kontsedal/locco/redis";
 *
 * // Any `GlideClient` from "@valkey/valkey-glide" is assignable to GlideLikeClient.
 * async function ping(client: GlideLikeClient): Promise<boolean> {
 *   return (await client.get("locco:ping")) !== null;
 * }
 * ```
 */
export interface GlideLikeClient {
  /**
   * `GET key`.
   *
   * @param key The key.
   * @returns The value (a string, or bytes under `Decoder.Bytes`), or null.
   */
  get(key: string): Promise<unknown>;
  /**
   * Sends a raw command: the adapter sends `EVALSHA` and `EVAL` this way.
   * Rejects with an error whose message contains `NoScriptError` when the
   * server does not have the script.
   *
   * @param args The command and its arguments.
   * @returns The reply.
   */
  customCommand(args: string[]): Promise<unknown>;
}

/**
 * The subscriber client the adapter creates for waiting by notification:
 * `client.constructor.createClient(config)` with the user's client's own
 * configuration and a message callback. A `GlideClient` fits as it is.
 *
 * @example The calls made on the subscriber
 * ```ts
 * import type { GlideLikeSubscriber } from "@kontsedal/locco/redis";
 *
 * async function listen(subscriber: GlideLikeSubscriber): Promise<void> {
 *   await subscriber.subscribe(new Set(["locco:handoff:1"]), 5000);
 *   await subscriber.unsubscribe(new Set(["locco:handoff:1"]), 5000);
 *   subscriber.close();
 * }
 * ```
 */
export interface GlideLikeSubscriber {
  /**
   * `SUBSCRIBE`, waiting for the server's confirmation.
   *
   * @param channels The channels.
   * @param timeoutMs The longest wait for the confirmation.
   * @returns A promise that resolves once subscribed.
   */
  subscribe(channels: Iterable<string>, timeoutMs: number): Promise<unknown>;
  /**
   * `UNSUBSCRIBE`, waiting for the server's confirmation.
   *
   * @param channels The channels, or null for every channel.
   * @param timeoutMs The longest wait for the confirmation.
   * @returns A promise that resolves once unsubscribed.
   */
  unsubscribe(channels: Iterable<string> | null, timeoutMs: number): Promise<unknown>;
  /**
   * Closes the client.
   *
   * @returns Anything.
   */
  close(): unknown;
}

/**
 * Options of {@linkcode GlideAdapter}.
 *
 * @example A prefix that keeps lock keys apart from application data
 * ```ts
 * import { GlideAdapter, type GlideAdapterOptions, type GlideLikeClient } from "@kontsedal/locco/redis";
 *
 * function makeAdapter(client: GlideLikeClient): GlideAdapter {
 *   const options: GlideAdapterOptions = { client, prefix: "locks:" };
 *   return new GlideAdapter(options);
 * }
 * ```
 */
export interface GlideAdapterOptions {
  /**
   * The GLIDE client (`GlideClient` or `GlideClusterClient`), created by you. The adapter
   * calls `get` and `customCommand` on it, and for waiting by notification
   * creates one subscriber client with `client.constructor.createClient`
   * from the configuration GLIDE keeps on the client (`client.config`); it
   * never adds, changes or removes any of its properties. You close it.
   */
  client: GlideLikeClient;
  /**
   * Prepended to every lock key: lock `"user:1"` is the Redis key
   * `prefix + "user:1"`.
   *
   * @default {""}
   */
  prefix?: string | undefined;
  /**
   * How `acquire()` waits while the key is held: `"notify"` (woken by the
   * release through one subscriber client, shared by every adapter over the
   * client, created when something first waits and closed with the last of
   * those adapters; first come first served; polls at most every retry
   * delay as a fallback) or `"poll"` (retry every retry delay). Without
   * `client.config` and `client.constructor.createClient` the adapter polls.
   *
   * @default {"notify"}
   */
  waitStrategy?: "notify" | "poll" | undefined;
}

const CLIENT_METHODS = ["get", "customCommand"] as const;

/**
 * Keeps locks in Redis or Valkey through a GLIDE client you provide,
 * exactly as {@linkcode IoRedisAdapter} does through ioredis: one string key
 * per lock, `prefix + key`, with a server-side `PX` expiry; acquire, release
 * and extend are one Lua script each (`EVALSHA` through `customCommand`,
 * and `EVAL` once after `NoScriptError`); acquire issues a fencing token
 * that strictly increases per key; waiters queue first come first served
 * and are woken through one subscriber client, asking the server again
 * within their retry delay whatever happens to notifications.
 *
 * - **Replies.** Clients with `Decoder.String` (the default) and
 *   `Decoder.Bytes` alike.
 * - **Reconnects.** GLIDE reconnects and subscribes again without telling,
 *   so a notification sent while the subscriber was away is lost without a
 *   sign: the waiter it was for asks the server again within its retry
 *   delay, never later.
 * - **Closing.** GLIDE clients do not tell when they close: close the
 *   adapter before you close the client.
 * - **Cluster.** A `GlideClusterClient` routes each script to the primary
 *   that owns its first key (GLIDE reads the keys of `EVALSHA` and `EVAL`);
 *   every other key a script touches shares that key's slot. The
 *   subscriber client is a Cluster client too.
 * - **Errors.** Connection and server errors reject unchanged, so
 *   `acquire()` does not retry them as if the key were busy.
 * - **Limits.** As for {@linkcode IoRedisAdapter}: locks live on one
 *   primary, and a failover or a restart without persistence can lose one;
 *   the fencing token tells the protected resource which holder is newer.
 *
 * @example Lock with a GLIDE client
 * ```ts
 * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `await GlideClient.createClient({ addresses: [{ host, port }] })`.
 * async function withLock(client: GlideLikeClient): Promise<void> {
 *   const adapter = new GlideAdapter({ client });
 *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 200, retryTimes: 10 } });
 *   const lock = await locker.lock("user:123", 3000).acquire();
 *   try {
 *     await lock.extend(2000);
 *   } finally {
 *     await lock.release();
 *     await adapter.close();
 *   }
 * }
 * ```
 */
export class GlideAdapter implements ILockAdapter {
  #locks: RedisLocks;

  /**
   * Wraps a GLIDE client. Does no I/O and does not modify the client.
   *
   * @param options `client`, and optionally the key `prefix` and `waitStrategy`.
   * @throws {ValidationError} When `client` lacks `get` or `customCommand`, or `prefix` is not a well-formed string.
   * @example Wrap a client
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   * import assert from "node:assert/strict";
   *
   * function makeAdapter(client: GlideLikeClient): GlideAdapter {
   *   return new GlideAdapter({ client, prefix: "locks:" });
   * }
   * assert.throws(() => makeAdapter({} as GlideLikeClient), /client/);
   * ```
   */
  constructor(options: GlideAdapterOptions) {
    this.#locks = openRedisLocks(
      options,
      CLIENT_METHODS,
      "a GLIDE client (get and customCommand methods)",
      glideTransport,
    );
  }

  /**
   * Runs the acquire script: `SET prefix+key uniqueValue PX ttl NX` and, when
   * that took the key, the next fencing token for the key.
   *
   * @param lease The key, unique value and ttl in milliseconds.
   * @returns The fencing token: a safe integer larger than every token this
   * server issued for the key before.
   * @throws {LockCreateError} When the key exists (an unexpired lock, ours or another's).
   * @throws {ValidationError} When an argument is invalid.
   * @example Take a key
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   *
   * async function take(client: GlideLikeClient): Promise<number> {
   *   const adapter = new GlideAdapter({ client });
   *   const { fence } = await adapter.createLock({ key: "orders:42", uniqueValue: "me", ttl: 5000 });
   *   return fence;
   * }
   * ```
   */
  createLock(lease: LockLease): Promise<{ fence: number }> {
    return this.#locks.createLock(lease);
  }

  /**
   * Deletes the key if it holds this unique value, in one atomic script, or
   * hands it to the first waiter queued for it.
   *
   * @param identity The key and unique value.
   * @returns A promise that resolves once the key is deleted.
   * @throws {LockReleaseError} "Lock is already expired" (no key) or "Lock is already taken".
   * @throws {ValidationError} When an argument is invalid.
   * @example Release by the owner
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   *
   * async function takeAndRelease(client: GlideLikeClient): Promise<void> {
   *   const adapter = new GlideAdapter({ client });
   *   await adapter.createLock({ key: "orders:42", uniqueValue: "me", ttl: 5000 });
   *   await adapter.releaseLock({ key: "orders:42", uniqueValue: "me" });
   * }
   * ```
   */
  releaseLock(identity: LockIdentity): Promise<void> {
    return this.#locks.releaseLock(identity);
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
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   *
   * async function takeAndExtend(client: GlideLikeClient): Promise<void> {
   *   const adapter = new GlideAdapter({ client });
   *   await adapter.createLock({ key: "orders:42", uniqueValue: "me", ttl: 1000 });
   *   await adapter.extendLock({ key: "orders:42", uniqueValue: "me", ttl: 5000 });
   * }
   * ```
   */
  extendLock(lease: LockLease): Promise<void> {
    return this.#locks.extendLock(lease);
  }

  /**
   * Sends `GET prefix+key` and compares the value with the unique value.
   *
   * @param identity The key and unique value.
   * @returns Whether this unique value holds the key (the server drops expired keys).
   * @throws {ValidationError} When an argument is invalid.
   * @example Check a lock
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   *
   * async function held(client: GlideLikeClient): Promise<boolean> {
   *   return await new GlideAdapter({ client }).isValidLock({ key: "orders:42", uniqueValue: "me" });
   * }
   * ```
   */
  isValidLock(identity: LockIdentity): Promise<boolean> {
    return this.#locks.isValidLock(identity);
  }

  /**
   * Reports whether a lock holds the key, with its `PTTL` and fencing token,
   * in one script, without taking it or revealing its unique value, exactly
   * as {@linkcode IoRedisAdapter.inspectLock} does.
   *
   * @param key The resource key.
   * @returns `undefined` when the key is free, else its {@linkcode LockInfo}.
   * @throws {ValidationError} When the key is invalid.
   * @example Inspect a key
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   *
   * async function busyFor(client: GlideLikeClient): Promise<number> {
   *   const info = await new GlideAdapter({ client }).inspectLock("orders:42");
   *   return info?.expiresIn ?? 0;
   * }
   * ```
   */
  async inspectLock(key: string): Promise<LockInfo | undefined> {
    return await this.#locks.inspectLock(key);
  }

  /**
   * The adapter of counting semaphores of `limit` holders on this Redis:
   * each holder has its own lease (on the server clock) and its own fencing
   * token, issued in the same script as the slot, growing with every slot
   * taken on the key. A semaphore's holders live in a sorted set next to its
   * fence counter and waiter queue, all in the Cluster slot of the key (a
   * hash tag in the key or prefix is honoured) and apart from lock keys.
   * Waiters queue first come first served: a newcomer is refused the slots
   * earlier waiters are entitled to, and a release (or an expiry any script
   * finds) wakes the entitled waiters at once through the adapter's
   * subscriber, as for locks (`waitStrategy: "poll"`: they poll at the retry
   * delay). A waiter's place lapses within seconds when its process dies.
   * `locker.semaphore()` uses it.
   *
   * @param limit The most holders at once: an integer from 1 to 2147483647.
   * @returns The adapter of the slots.
   * @throws {ValidationError} When `limit` is invalid.
   * @example Two slots
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * // `client` is a `GlideClient` from "@valkey/valkey-glide".
   * async function encode(client: GlideLikeClient): Promise<void> {
   *   const adapter = new GlideAdapter({ client });
   *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 60 } });
   *   try {
   *     await locker.semaphore("encoder", 2, 60_000).acquire(async () => {
   *       // at most two of these run at once, across processes
   *     });
   *   } finally {
   *     await adapter.close();
   *   }
   * }
   * ```
   */
  semaphore(limit: number): ILockAdapter {
    return this.#locks.semaphore(validateLimit(limit));
  }

  /**
   * The adapter of one side of read-write locks on this Redis: many readers
   * at once or one writer alone, each holder with its own lease and fencing
   * token, stored like semaphores (apart from lock and semaphore keys, in
   * the key's Cluster slot). Writer-preferring: a waiting writer holds new
   * readers back, and writers go first come first served; releases wake
   * the waiters that may go at once. `locker.readWrite()` uses it.
   *
   * @param mode `"read"` or `"write"`.
   * @returns The adapter of that side.
   * @throws {ValidationError} When `mode` is neither.
   * @example Readers and a writer
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * // `client` is a `GlideClient` from "@valkey/valkey-glide".
   * async function refresh(client: GlideLikeClient): Promise<void> {
   *   const adapter = new GlideAdapter({ client });
   *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 30 } });
   *   const catalog = locker.readWrite("catalog", 30_000);
   *   try {
   *     await catalog.write().acquire(async () => {
   *       // no reader holds "catalog" meanwhile
   *     });
   *   } finally {
   *     await adapter.close();
   *   }
   * }
   * ```
   */
  readWrite(mode: "read" | "write"): ILockAdapter {
    return this.#locks.readWrite(validateMode(mode));
  }

  /**
   * Waits until this waiter may take the key, exactly as
   * {@linkcode IoRedisAdapter.waitForUnlock} does: queued first come first
   * served, woken by the release through the subscriber client, and asking
   * the server again within `maxWaitMs` whatever happens to notifications.
   * With `waitStrategy: "poll"` it just sleeps `maxWaitMs`.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @throws {ValidationError} When an argument is invalid.
   * @example Called by acquire(), not by hand
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * async function waitForIt(client: GlideLikeClient): Promise<void> {
   *   const adapter = new GlideAdapter({ client });
   *   const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 30 } });
   *   try {
   *     await locker.lock("report", 10_000).acquire(async () => {});
   *   } finally {
   *     await adapter.close();
   *   }
   * }
   * ```
   */
  waitForUnlock(identity: LockIdentity, maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.#locks.waitForUnlock(identity, maxWaitMs, signal);
  }

  /**
   * An adapter whose locks hold all of `keys` at once, which
   * `locker.lock([k1, k2], ttl)` uses: one script takes every key or none
   * (each key as {@linkcode GlideAdapter.createLock} takes it: the unique value
   * with a `PX` expiry, a fencing token per key, and no barging past a key
   * handed off to a waiter), and resolves to `{ fences }`, one token per key
   * in `keys` order. Release, extend and `isValidLock` are one script each
   * over every key; release hands each key to its first waiter, as a
   * single-key release does. A waiting acquire waits in the queue of the key
   * its last attempt found held. On Redis Cluster every key (with the
   * adapter prefix and the client's key prefix) must share one hash tag, such
   * as `"{order:42}:a"` and `"{order:42}:b"`, so that they live in one slot.
   *
   * @param keys Distinct, valid keys.
   * @returns The adapter of the multi-key lock (its methods ignore the `key` they get).
   * @throws {ValidationError} When a key is invalid or repeated, or on Redis
   * Cluster when the keys do not share a hash tag (before any I/O).
   * @example Lock two accounts at once
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * // One token per key, for the resources to check (see `checkFence`).
   * async function transfer(client: GlideLikeClient): Promise<number[]> {
   *   const locker = new Locker({
   *     adapter: new GlideAdapter({ client }),
   *     retrySettings: { retryDelay: 200, retryTimes: 10 },
   *   });
   *   // Cluster-safe keys: one hash tag; on a single Redis any keys will do.
   *   const keys = ["{bank}:account:1", "{bank}:account:2"];
   *   return await locker.lock(keys, 3000).acquire((lock) => {
   *     return keys.map((key) => lock.fences!.get(key)!);
   *   });
   * }
   * ```
   */
  multi(keys: string[]): ILockAdapter {
    return this.#locks.multi(keys);
  }

  /**
   * Takes this adapter's waiters out of the server's queues (they poll from
   * then on), waits for every queue command it sent, and closes the
   * subscriber client it created (if any). Does not touch your client.
   * Call it before you close the client: GLIDE does not tell when a client
   * closes.
   *
   * @returns A promise that resolves once the subscriber is closed.
   * @example Close the adapter, then the client
   * ```ts
   * import { GlideAdapter, type GlideLikeClient } from "@kontsedal/locco/redis";
   *
   * async function shutdown(client: GlideLikeClient & { close(): void }) {
   *   const adapter = new GlideAdapter({ client });
   *   await adapter.close();
   *   client.close();
   * }
   * ```
   */
  close(): Promise<void> {
    return this.#locks.close();
  }
}

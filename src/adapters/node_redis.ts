// Copyright 2026 the locco authors. MIT license.

/**
 * The Redis adapter for a [node-redis](https://github.com/redis/node-redis)
 * client (`redis` on npm; versions 4 and 6 are tested): `createClient()`,
 * `createCluster()` or `createSentinel()`, which you create, connect, own
 * and close. It keeps locks exactly as {@linkcode IoRedisAdapter} does (same
 * keys, scripts, fencing tokens and waiting), so adapters over both clients
 * can share keys. Exported from `@kontsedal/locco/redis` and the root.
 *
 * ```ts
 * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `await createClient({ url }).connect()` from "redis".
 * async function updateUser(client: NodeRedisLikeClient): Promise<void> {
 *   const adapter = new NodeRedisAdapter({ client, prefix: "locks:" });
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
import { ValidationError } from "../errors.ts";
import { nodeRedisTransport } from "./_node_redis_transport.ts";
import { openRedisLocks, type RedisLocks } from "./_redis_locks.ts";
// deno-lint-ignore no-unused-vars
import type { IoRedisAdapter } from "./redis.ts";

/**
 * The methods {@linkcode NodeRedisAdapter} calls on its client. A node-redis
 * 4 or 6 client, Cluster client or Sentinel client fits as it is; locco
 * never imports node-redis. Each method returns a promise that rejects with
 * the driver's error, which the adapter passes on unchanged.
 *
 * @example A client typed structurally
 * ```ts
 * import type { NodeRedisLikeClient } from "@kontsedal/locco/redis";
 *
 * // Any connected `createClient()` from "redis" is assignable to NodeRedisLikeClient.
 * async function ping(client: NodeRedisLikeClient): Promise<boolean> {
 *   return (await client.get("locco:ping")) !== null;
 * }
 * ```
 */
export interface NodeRedisLikeClient {
  /**
   * `GET key`.
   *
   * @param key The full key, prefix included.
   * @returns The value, or `null` when the key does not exist.
   */
  get(key: string): Promise<unknown>;
  /**
   * `EVALSHA sha1 numkeys ...keys ...arguments`: runs a cached script.
   * Rejects with an error whose message starts with `NOSCRIPT` when the
   * server does not have the script.
   *
   * @param sha1 The SHA-1 of the script, in lowercase hex.
   * @param options The keys and the arguments, all strings.
   * @returns The script's reply.
   */
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /**
   * `EVAL script numkeys ...keys ...arguments`: runs a script and caches it
   * on the server, so the next EVALSHA finds it.
   *
   * @param script The Lua source.
   * @param options The keys and the arguments, all strings.
   * @returns The script's reply.
   */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /**
   * On a Cluster client: sends a raw command to the node that owns
   * `firstKey` (the adapter sends its scripts this way). Unused on a single
   * client or a Sentinel client.
   *
   * @param firstKey The key that picks the node.
   * @param isReadonly Whether the command only reads.
   * @param args The command and its arguments.
   * @returns The raw reply.
   */
  // deno-lint-ignore no-explicit-any
  sendCommand?(firstKey: any, isReadonly: any, args: any): Promise<unknown>;
  /**
   * Optional: a new, unconnected client with the same options (node-redis
   * `duplicate()`), which the adapter connects, once, to subscribe to
   * release notifications, and closes in {@linkcode NodeRedisAdapter.close}.
   * Without it, waiters poll.
   *
   * @returns The new client.
   */
  duplicate?(): NodeRedisLikeSubscriber;
}

/**
 * The connection on which {@linkcode NodeRedisAdapter} listens for releases:
 * what `duplicate()` of a node-redis client returns. The adapter connects
 * it, owns it and closes it in {@linkcode NodeRedisAdapter.close}.
 *
 * @example The subscriber is a node-redis client
 * ```ts
 * import type { NodeRedisLikeSubscriber } from "@kontsedal/locco/redis";
 *
 * // `client.duplicate()` of a `createClient()` from "redis" fits.
 * async function listen(subscriber: NodeRedisLikeSubscriber): Promise<void> {
 *   await subscriber.connect();
 *   await subscriber.subscribe("locco:handoff:example", (message: string) => {
 *     console.assert(typeof message === "string");
 *   });
 *   await subscriber.close?.();
 * }
 * ```
 */
export interface NodeRedisLikeSubscriber {
  /** Whether the connection is open (connecting, connected or reconnecting). */
  readonly isOpen: boolean;
  /** Whether the connection is ready for commands. */
  readonly isReady?: boolean;
  /**
   * Connects.
   *
   * @returns A promise that resolves once connected.
   */
  connect(): Promise<unknown>;
  /**
   * `SUBSCRIBE channel`, with the listener that gets its messages.
   *
   * @param channel The channel.
   * @param listener Called with each message and its channel.
   * @returns A promise that resolves once subscribed.
   */
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  /**
   * Optional: `UNSUBSCRIBE channel` for that listener, when one of the
   * adapters sharing the connection closes.
   *
   * @param channel The channel.
   * @param listener The listener given to `subscribe`.
   * @returns A promise that resolves once unsubscribed.
   */
  unsubscribe?(
    channel: string,
    // deno-lint-ignore no-explicit-any
    listener: (message: any, channel: any) => void,
  ): Promise<unknown>;
  /**
   * Adds an event listener: the adapter listens to `"error"`, `"reconnecting"`
   * and `"end"` (and a Cluster's `"node-reconnecting"` and `"node-disconnect"`).
   *
   * @param event The event name.
   * @param listener The listener.
   * @returns Anything.
   */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  /**
   * Closes the connection gracefully (node-redis 6).
   *
   * @returns A promise that resolves once closed.
   */
  close?(): Promise<unknown>;
  /**
   * Closes the connection gracefully (node-redis 4).
   *
   * @returns A promise that resolves once closed.
   */
  quit?(): Promise<unknown>;
  /**
   * Closes the connection at once (node-redis 6).
   *
   * @returns Anything.
   */
  destroy?(): unknown;
  /**
   * Closes the connection at once (node-redis 4).
   *
   * @returns Anything.
   */
  disconnect?(): unknown;
}

/**
 * Options of {@linkcode NodeRedisAdapter}.
 *
 * @example A prefix that keeps lock keys apart from application data
 * ```ts
 * import {
 *   NodeRedisAdapter,
 *   type NodeRedisAdapterOptions,
 *   type NodeRedisLikeClient,
 * } from "@kontsedal/locco/redis";
 *
 * function makeAdapter(client: NodeRedisLikeClient): NodeRedisAdapter {
 *   const options: NodeRedisAdapterOptions = { client, prefix: "locks:" };
 *   return new NodeRedisAdapter(options);
 * }
 * ```
 */
export interface NodeRedisAdapterOptions {
  /**
   * The node-redis client (`createClient()`, `createCluster()` or
   * `createSentinel()` of node-redis 4 or 6), connected by you. The
   * adapter calls `get`, `evalSha` and `eval` on it, `duplicate()` once for
   * waiting by notification, listens for its `"end"` (a Cluster's
   * `"disconnect"`) and reads its `masters` and `slots` to tell a Cluster;
   * it never adds, changes or removes any of its properties. You connect and
   * close it.
   */
  client: NodeRedisLikeClient;
  /**
   * Prepended to every lock key: lock `"user:1"` is the Redis key
   * `prefix + "user:1"`. On Redis Cluster, a hash tag in the prefix
   * (`"{locks}:"`) puts every lock in one slot.
   *
   * @default {""}
   */
  prefix?: string | undefined;
  /**
   * How `acquire()` waits while the key is held: `"notify"` (woken by the
   * release through one subscriber connection per adapter,
   * `client.duplicate()` shared by every adapter over the client, connected
   * when something first waits and closed with the last of those adapters;
   * first come first served; polls at
   * most every retry delay as a fallback) or `"poll"` (retry every retry
   * delay). `"notify"` needs `client.duplicate`; without it the adapter polls.
   *
   * @default {"notify"}
   */
  waitStrategy?: "notify" | "poll" | undefined;
}

const CLIENT_METHODS = ["get", "evalSha", "eval"] as const;

// A node-redis 4 client in legacyMode has callback-style methods under the
// usual names and the promise API under `client.v4`.
function rejectLegacyMode(options: NodeRedisAdapterOptions): void {
  const client = (options as { client?: unknown } | null)?.client;
  if ((typeof client !== "object" && typeof client !== "function") || client === null) return;
  let legacy: unknown;
  try {
    legacy = (client as { v4?: unknown }).v4;
  } catch {
    return; // node-redis 4 throws here when the client is not in legacyMode
  }
  if (typeof legacy === "object" && legacy !== null) {
    throw new ValidationError(
      "client should be a node-redis client with promise methods: this one is in legacyMode, pass client.v4 instead",
      "client",
    );
  }
}

/**
 * Keeps locks in Redis through a node-redis client you provide, exactly as
 * {@linkcode IoRedisAdapter} does through ioredis: one string key per lock,
 * `prefix + key`, with a server-side `PX` expiry; acquire, release and
 * extend are one Lua script each (`EVALSHA`, and `EVAL` once after
 * `NOSCRIPT`); acquire issues a fencing token that strictly increases per
 * key; waiters queue first come first served and are woken through one
 * subscriber connection (`client.duplicate()`), asking Redis again within
 * their retry delay whatever happens to notifications.
 *
 * - **Replies.** RESP2 and RESP3 clients (`RESP: 3`) alike; numbers that a
 *   type mapping turns into strings, bigints or buffers are read back.
 * - **Cluster.** On a `createCluster()` client each script is sent with
 *   `sendCommand(firstKey, ...)`, so it runs on the node that owns its first
 *   key (`evalSha` of a node-redis 4 Cluster does not route by key); every
 *   other key a script touches shares that key's slot.
 * - **Errors.** Connection and server errors (`The client is closed`,
 *   `Socket closed unexpectedly`, `WRONGTYPE ...`) reject unchanged, so
 *   `acquire()` does not retry them as if the key were busy. node-redis
 *   queues commands while it reconnects (set `disableOfflineQueue: true` to
 *   make them fail fast) and does not resend a command whose connection
 *   dropped before the reply: that command rejects.
 * - **Limits.** As for {@linkcode IoRedisAdapter}: locks live on one Redis
 *   primary, and a failover or a restart without persistence can lose one;
 *   the fencing token tells the protected resource which holder is newer.
 *
 * @example Lock with a node-redis client
 * ```ts
 * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
 * import { Locker } from "@kontsedal/locco";
 *
 * // `client` is `await createClient().connect()` from "redis".
 * async function withLock(client: NodeRedisLikeClient): Promise<void> {
 *   const adapter = new NodeRedisAdapter({ client });
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
export class NodeRedisAdapter implements ILockAdapter {
  #locks: RedisLocks;

  /**
   * Wraps a node-redis client. Does no I/O and does not modify the client.
   *
   * @param options `client`, and optionally the key `prefix` and `waitStrategy`.
   * @throws {ValidationError} When `client` lacks `get`, `evalSha` or `eval`, is a node-redis 4 client in `legacyMode` (pass `client.v4`), or `prefix` is not a well-formed string.
   * @example Wrap a client
   * ```ts
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   * import assert from "node:assert/strict";
   *
   * function makeAdapter(client: NodeRedisLikeClient): NodeRedisAdapter {
   *   return new NodeRedisAdapter({ client, prefix: "locks:" });
   * }
   * assert.throws(() => makeAdapter({} as NodeRedisLikeClient), /client/);
   * ```
   */
  constructor(options: NodeRedisAdapterOptions) {
    rejectLegacyMode(options);
    this.#locks = openRedisLocks(
      options,
      CLIENT_METHODS,
      "a node-redis client (get, evalSha and eval methods)",
      nodeRedisTransport,
    );
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
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function take(client: NodeRedisLikeClient): Promise<number> {
   *   const adapter = new NodeRedisAdapter({ client });
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
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function takeAndRelease(client: NodeRedisLikeClient): Promise<void> {
   *   const adapter = new NodeRedisAdapter({ client });
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
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function takeAndExtend(client: NodeRedisLikeClient): Promise<void> {
   *   const adapter = new NodeRedisAdapter({ client });
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
   * @returns Whether this unique value holds the key (Redis drops expired keys).
   * @throws {ValidationError} When an argument is invalid.
   * @example Check a lock
   * ```ts
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function held(client: NodeRedisLikeClient): Promise<boolean> {
   *   return await new NodeRedisAdapter({ client }).isValidLock({ key: "orders:42", uniqueValue: "me" });
   * }
   * ```
   */
  isValidLock(identity: LockIdentity): Promise<boolean> {
    return this.#locks.isValidLock(identity);
  }

  /**
   * Reports whether a lock holds the key, with its `PTTL` and fencing token,
   * in one script, without taking it or revealing its unique value. A key
   * handed off to a waiter that has not claimed it yet is reported held,
   * without a token; so is a key holding another type than a string
   * (application data, which `createLock()` treats as held), with
   * `expiresIn: Infinity` when it has no expiry.
   *
   * @param key The resource key.
   * @returns `undefined` when the key is free, else its {@linkcode LockInfo}.
   * @throws {ValidationError} When the key is invalid.
   * @example Inspect a key
   * ```ts
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function busyFor(client: NodeRedisLikeClient): Promise<number> {
   *   const info = await new NodeRedisAdapter({ client }).inspectLock("orders:42");
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
   * @example Two slots, a third caller woken by a release
   * ```ts
   * import { NodeRedisAdapter } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   * import { createClient } from "redis";
   * import process from "node:process";
   * import assert from "node:assert/strict";
   *
   * const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
   * await client.connect();
   * const adapter = new NodeRedisAdapter({ client });
   * const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 60 } });
   * const key = `encoder:${crypto.randomUUID()}`;
   * try {
   *   const first = await locker.semaphore(key, 2, 60_000).acquire();
   *   const second = await locker.semaphore(key, 2, 60_000).acquire();
   *   assert.equal(await locker.semaphore(key, 2, 60_000).tryAcquire(), undefined); // both slots taken
   *   const third = locker.semaphore(key, 2, 60_000).acquire(); // queues, first come first served
   *   await first.release(); // wakes it at once, not after its 1 s retry delay
   *   const lock = await third;
   *   assert.ok(lock.fence! > second.fence! && second.fence! > first.fence!);
   *   await Promise.all([second.release(), lock.release()]);
   * } finally {
   *   await adapter.close();
   *   await client.close();
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
   * @example Readers share, a writer waits and holds new readers back
   * ```ts
   * import { NodeRedisAdapter } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   * import { createClient } from "redis";
   * import process from "node:process";
   * import assert from "node:assert/strict";
   *
   * const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
   * await client.connect();
   * const adapter = new NodeRedisAdapter({ client });
   * const locker = new Locker({ adapter, retrySettings: { retryDelay: 1000, retryTimes: 30 } });
   * const catalog = locker.readWrite(`catalog:${crypto.randomUUID()}`, 30_000);
   * try {
   *   const readers = [await catalog.read().acquire(), await catalog.read().acquire()];
   *   const writer = catalog.write().acquire(); // waits for both readers
   *   await new Promise((resolve) => setTimeout(resolve, 100));
   *   assert.equal(await catalog.read().tryAcquire(), undefined); // the waiting writer goes first
   *   await Promise.all(readers.map((reader) => reader.release()));
   *   await (await writer).release();
   * } finally {
   *   await adapter.close();
   *   await client.close();
   * }
   * ```
   */
  readWrite(mode: "read" | "write"): ILockAdapter {
    return this.#locks.readWrite(validateMode(mode));
  }

  /**
   * Waits until this waiter may take the key, exactly as
   * {@linkcode IoRedisAdapter.waitForUnlock} does: queued first come first
   * served, woken by the release through the subscriber connection, and
   * asking Redis again within `maxWaitMs` whatever happens to
   * notifications. With `waitStrategy: "poll"` it just sleeps `maxWaitMs`.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @throws {ValidationError} When an argument is invalid.
   * @example Called by acquire(), not by hand
   * ```ts
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * async function waitForIt(client: NodeRedisLikeClient): Promise<void> {
   *   const adapter = new NodeRedisAdapter({ client });
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
   * (each key as {@linkcode NodeRedisAdapter.createLock} takes it: the unique value
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
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * // One token per key, for the resources to check (see `checkFence`).
   * async function transfer(client: NodeRedisLikeClient): Promise<number[]> {
   *   const locker = new Locker({
   *     adapter: new NodeRedisAdapter({ client }),
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
   * Takes this adapter's waiters out of the Redis queues (they poll from
   * then on), waits for every queue command it sent, and closes the
   * subscriber connection it opened (if any). Does not touch your client.
   * Call it before you close the client; the adapter also closes itself
   * when the client emits `"end"` (a node-redis 6 Cluster, `"disconnect"`;
   * a node-redis 4 Cluster emits neither, so close the adapter yourself).
   *
   * @returns A promise that resolves once the subscriber is closed.
   * @example Close the adapter, then the client
   * ```ts
   * import { NodeRedisAdapter, type NodeRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function shutdown(client: NodeRedisLikeClient & { close(): Promise<unknown> }) {
   *   const adapter = new NodeRedisAdapter({ client });
   *   await adapter.close();
   *   await client.close();
   * }
   * ```
   */
  close(): Promise<void> {
    return this.#locks.close();
  }
}

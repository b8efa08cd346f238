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
 * This entry point also exports {@linkcode NodeRedisAdapter}: the same
 * locks (same keys, scripts and waiting) over a node-redis client.
 * Every Redis adapter also has counting semaphores and read-write locks
 * (`semaphore(limit)`, `readWrite(mode)`, for `locker.semaphore()` and
 * `locker.readWrite()`), each holder with its own lease and fencing token.
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

import type { ILockAdapter, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { validateLimit, validateMode } from "../_validate.ts";
import { ioRedisTransport } from "./_ioredis_transport.ts";
import { openRedisLocks, type RedisLocks } from "./_redis_locks.ts";

export {
  NodeRedisAdapter,
  type NodeRedisAdapterOptions,
  type NodeRedisLikeClient,
  type NodeRedisLikeSubscriber,
} from "./node_redis.ts";
export {
  GlideAdapter,
  type GlideAdapterOptions,
  type GlideLikeClient,
  type GlideLikeSubscriber,
} from "./glide.ts";

/**
 * The methods {@linkcode IoRedisAdapter} calls on its client, with the
 * argument shapes it uses (it also reads `options.keyPrefix` and
 * `isCluster` when the client has them). An ioredis 5 or 6 `Redis` (or `Cluster`) instance
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
   * which the adapter uses to subscribe to release notifications: one
   * connection for all the adapters over this client, closed with the last
   * of them. Without it, waiters poll.
   *
   * @returns The new connection.
   */
  duplicate?(): IoRedisLikeSubscriber;
  /**
   * Optional: a pipeline (ioredis `pipeline()`), in which the adapter sends
   * the scripts that several locks of this process run at the same moment,
   * in pipelines of up to 16 (one write each) instead of one write each. Not
   * used on Redis Cluster.
   *
   * @returns A new pipeline.
   */
  pipeline?(): IoRedisLikePipeline;
}

/**
 * What `pipeline()` of an ioredis client returns, as far as
 * {@linkcode IoRedisAdapter} uses it.
 *
 * @example An ioredis pipeline
 * ```ts
 * import type { IoRedisLikePipeline } from "@kontsedal/locco/redis";
 *
 * // `client.pipeline()` of a `new Redis()` from "ioredis" fits.
 * async function twoScripts(pipeline: IoRedisLikePipeline, sha: string): Promise<unknown[]> {
 *   pipeline.evalsha(sha, 1, "a", "x");
 *   pipeline.evalsha(sha, 1, "b", "y");
 *   const results = await pipeline.exec();
 *   return (results ?? []).map(([error, reply]) => error ?? reply);
 * }
 * ```
 */
export interface IoRedisLikePipeline {
  /**
   * Queues `EVALSHA sha1 numkeys ...keysAndArgs`.
   *
   * @param sha1 The SHA-1 of the script, in lowercase hex.
   * @param numkeys How many of the following arguments are keys.
   * @param keysAndArgs The keys, then the arguments.
   * @returns The pipeline.
   */
  evalsha(sha1: string, numkeys: number, ...keysAndArgs: (string | number)[]): unknown;
  /**
   * Sends the queued commands in one write.
   *
   * @returns Each command's error (or `null`) and reply, in order; `null` when
   * the pipeline was discarded.
   */
  exec(): Promise<Array<[Error | null, unknown]> | null>;
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
   * Optional: `UNSUBSCRIBE channel`, when one of the adapters sharing the
   * connection closes.
   *
   * @param channel The channel.
   * @returns A promise that resolves once unsubscribed.
   */
  unsubscribe?(channel: string): Promise<unknown>;
  /**
   * Optional: the connection's state; `"end"` means it will not reconnect,
   * and the adapter opens a new one on the next wait.
   */
  readonly status?: string;
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
   * calls `get`, `evalsha` and `eval` on it, `duplicate()` once for waiting
   * by notification, listens for its `"end"`, and reads its `keyPrefix`
   * option and `isCluster` flag; it never adds, changes or removes any of
   * its properties. You connect and close it.
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
 *   value with the unique value and then `DEL`s the key (or hands it to the
 *   first queued waiter) or `PEXPIRE`s it to now + ttl. Extend never
 *   re-creates a key that is gone. Release leaves a 10 s record of who
 *   released the key, so that a release the client resends after a
 *   reconnect succeeds as the first run did.
 * - **Keys with an ioredis `keyPrefix`.** The adapter reads the client's
 *   `keyPrefix` and names the companion keys (fence counter, waiter queue,
 *   release record) so that they share the prefixed lock key's Cluster slot.
 * - **isValidLock** is one `GET` compared with the unique value.
 * - **Scripts.** The 0.1.0 README describes the scripts as two commands
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
  #locks: RedisLocks;

  /**
   * Wraps an ioredis client. Does no I/O and does not modify the client.
   *
   * @param options `client`, and optionally the key `prefix`.
   * @throws {ValidationError} When `client` lacks `get`, `evalsha` or `eval`, or `prefix` is not a well-formed string.
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
    this.#locks = openRedisLocks(
      options,
      CLIENT_METHODS,
      "an ioredis client (get, evalsha and eval methods)",
      ioRedisTransport,
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
    return await this.#locks.createLock(lease);
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
    await this.#locks.releaseLock(identity);
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
    await this.#locks.extendLock(lease);
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
    return await this.#locks.isValidLock(identity);
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
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   *
   * async function busyFor(client: IoRedisLikeClient): Promise<number> {
   *   const info = await new IoRedisAdapter({ client }).inspectLock("orders:42");
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
   * import { IoRedisAdapter } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   * import { Redis } from "ioredis";
   * import process from "node:process";
   * import assert from "node:assert/strict";
   *
   * const client = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
   * const adapter = new IoRedisAdapter({ client });
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
   *   await client.quit();
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
   * import { IoRedisAdapter } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   * import { Redis } from "ioredis";
   * import process from "node:process";
   * import assert from "node:assert/strict";
   *
   * const client = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
   * const adapter = new IoRedisAdapter({ client });
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
   *   await client.quit();
   * }
   * ```
   */
  readWrite(mode: "read" | "write"): ILockAdapter {
    return this.#locks.readWrite(validateMode(mode));
  }

  /**
   * Waits until this waiter may take the key. With `waitStrategy: "notify"`
   * (the default), every waiting `acquire()` enqueues itself in a list next
   * to the key, first come first served across processes; a release hands
   * the key to the first waiter of that list whose adapter is listening (for
   * 500 ms, the claim window, only that waiter can take it) and publishes it
   * on that adapter's subscriber connection, which wakes the waiter at once.
   *
   * The promise: whatever a waiter learned or missed (messages lost, the
   * subscriber replaced, queue entries of dead waiters, a paused process),
   * it asks Redis again within `maxWaitMs` (its retry delay), so a key that
   * is free is taken within one retry delay plus the claim window. What the
   * waiter knows only shortens a wait (it looks again when the lock it saw
   * would expire); even a wait of 0 ms waits for a timer, so it yields to
   * timers and I/O. A waiter that leaves, however it leaves, takes its entry
   * out of the queue and passes on a hand-off meant for it. With
   * `waitStrategy: "poll"` it just sleeps `maxWaitMs`.
   *
   * @param identity The key and the waiting lock's unique value.
   * @param maxWaitMs The longest wait in milliseconds.
   * @param signal The wait session: aborting it leaves the queue.
   * @returns A promise that resolves when the next attempt should be made.
   * @throws {ValidationError} When an argument is invalid.
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
    await this.#locks.waitForUnlock(identity, maxWaitMs, signal);
  }

  /**
   * An adapter whose locks hold all of `keys` at once, which
   * `locker.lock([k1, k2], ttl)` uses: one script takes every key or none
   * (each key as {@linkcode IoRedisAdapter.createLock} takes it: the unique value
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
   * import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
   * import { Locker } from "@kontsedal/locco";
   *
   * // One token per key, for the resources to check (see `checkFence`).
   * async function transfer(client: IoRedisLikeClient): Promise<number[]> {
   *   const locker = new Locker({
   *     adapter: new IoRedisAdapter({ client }),
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
   * subscriber connection that `waitStrategy: "notify"` opened (if any).
   * Does not touch your client. Call it before you close the client; the
   * adapter also closes itself when the client emits `"end"`. Locking keeps
   * working afterwards, with polling.
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
  close(): Promise<void> {
    return this.#locks.close();
  }
}

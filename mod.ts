// Copyright 2026 the locco authors. MIT license.

/**
 * locco: distributed locks for Deno, Node and Bun, on Redis (ioredis),
 * MongoDB, PostgreSQL, Deno KV or memory, with no runtime dependencies. You bring the client;
 * adapters use small duck-typed interfaces.
 *
 * ```ts
 * import { InMemoryAdapter, Locker } from "@kontsedal/locco";
 * import assert from "node:assert/strict";
 *
 * const locker = new Locker({
 *   adapter: new InMemoryAdapter(),
 *   retrySettings: { retryDelay: 50, retryTimes: 5 },
 * });
 * const total = await locker.lock("counter", 1000).acquire(async () => {
 *   // critical section: the lock is released when this returns or throws
 *   return 42;
 * });
 * assert.equal(total, 42);
 * ```
 *
 * @module
 */

export type { ILockAdapter, LockGrant, LockIdentity, LockInfo, LockLease } from "./src/adapter.ts";
export {
  isLoccoError,
  LoccoError,
  type LoccoErrorCode,
  LockCreateError,
  LockExtendError,
  LockLostError,
  LockReleaseError,
  RetryError,
  StaleFenceError,
  UnsupportedError,
  ValidationError,
} from "./src/errors.ts";
export { checkFence } from "./src/fence.ts";
export { errors } from "./src/errors_namespace.ts";
export {
  type AcquireOptions,
  type AutoExtendOptions,
  Lock,
  type LockOptions,
  type ReleaseOptions,
} from "./src/lock.ts";
export { Locker, type LockerOptions } from "./src/locker.ts";
export { ReadWriteLock, type ReadWriteLockOptions } from "./src/read_write_lock.ts";
export type { RetryDelayContext, RetrySettings } from "./src/retry_settings.ts";
export { InMemoryAdapter, type InMemoryAdapterOptions } from "./src/adapters/memory.ts";
export {
  IoRedisAdapter,
  type IoRedisAdapterOptions,
  type IoRedisLikeClient,
} from "./src/adapters/redis.ts";
export {
  NodeRedisAdapter,
  type NodeRedisAdapterOptions,
  type NodeRedisLikeClient,
  type NodeRedisLikeSubscriber,
} from "./src/adapters/node_redis.ts";
export {
  GlideAdapter,
  type GlideAdapterOptions,
  type GlideLikeClient,
  type GlideLikeSubscriber,
} from "./src/adapters/glide.ts";
export {
  MongoAdapter,
  type MongoAdapterOptions,
  type MongoLikeClient,
  type MongoLikeCollection,
} from "./src/adapters/mongodb.ts";
export {
  migratePostgres,
  type PgLikeClient,
  type PgLikeListenConnection,
  type PgLikePool,
  PostgresAdapter,
  type PostgresAdapterOptions,
  type PostgresJsLikeSql,
  type PostgresLikeClient,
  type PostgresSchemaOptions,
  postgresSchemaSql,
} from "./src/adapters/postgres.ts";
export {
  DenoKvAdapter,
  type DenoKvAdapterOptions,
  type DenoKvLike,
  type DenoKvLikeAtomic,
  type KvKeyPart,
} from "./src/adapters/kv.ts";

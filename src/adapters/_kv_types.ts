// Copyright 2026 the locco authors. MIT license.
// The public types of DenoKvAdapter: the duck-typed KV handle it takes and its
// options (re-exported by kv.ts).

import type { KvKeyPart } from "./_kv_record.ts";
/**
 * The atomic operation {@linkcode DenoKvAdapter} builds: `Deno.AtomicOperation`
 * (and the one of `@deno/kv`) matches it.
 *
 * @example Built by the handle
 * ```ts
 * import type { DenoKvLike, DenoKvLikeAtomic } from "@kontsedal/locco/kv";
 * export function start(kv: DenoKvLike): DenoKvLikeAtomic {
 *   return kv.atomic();
 * }
 * ```
 */
export interface DenoKvLikeAtomic {
  /**
   * Makes the commit fail unless every key has this versionstamp (`null`: absent).
   *
   * @param checks The keys and versionstamps.
   * @returns The same operation.
   */
  check(...checks: { key: readonly KvKeyPart[]; versionstamp: string | null }[]): DenoKvLikeAtomic;
  /**
   * Sets a key in the commit.
   *
   * @param key The key.
   * @param value The value (the adapter stores a `Uint8Array`).
   * @param options `expireIn`: the earliest time, in ms, the store may delete the key.
   * @returns The same operation.
   */
  set(key: readonly KvKeyPart[], value: unknown, options?: { expireIn?: number }): DenoKvLikeAtomic;
  /**
   * Deletes a key in the commit.
   *
   * @param key The key.
   * @returns The same operation.
   */
  delete(key: readonly KvKeyPart[]): DenoKvLikeAtomic;
  /**
   * Commits: `{ ok: true, versionstamp }`, or `{ ok: false }` when a check failed.
   *
   * @returns The commit result.
   */
  commit(): Promise<{ ok: true; versionstamp: string } | { ok: false }>;
}

/**
 * The KV handle {@linkcode DenoKvAdapter} takes: a `Deno.Kv` from
 * `Deno.openKv()`, or the `Kv` of the `@deno/kv` npm package. The adapter
 * only calls `get`, `atomic` and (to wake waiters) `watch`; it never closes
 * or configures the handle.
 *
 * @example The handle of `Deno.openKv()`
 * ```ts
 * import { DenoKvAdapter, type DenoKvLike } from "@kontsedal/locco/kv";
 * export function adapterFor(kv: DenoKvLike): DenoKvAdapter {
 *   return new DenoKvAdapter({ kv });
 * }
 * ```
 */
export interface DenoKvLike {
  /**
   * Reads one entry (strongly consistent by default).
   *
   * @param key The key.
   * @returns The entry; `versionstamp` is `null` when it is absent.
   */
  get(key: readonly KvKeyPart[]): Promise<{ value: unknown; versionstamp: string | null }>;
  /**
   * Starts an atomic operation.
   *
   * @returns The operation.
   */
  atomic(): DenoKvLikeAtomic;
  /**
   * Optional: a stream of the entries of `keys`, a first report at once, then
   * one on every change. Without it waiters poll.
   *
   * @param keys The keys (the adapter watches one).
   * @returns The stream; the adapter cancels it.
   */
  watch?(
    keys: readonly (readonly KvKeyPart[])[],
  ): ReadableStream<readonly { value: unknown; versionstamp: string | null }[]>;
}

/**
 * Options of {@linkcode DenoKvAdapter}.
 *
 * @example Every option
 * ```ts
 * import { DenoKvAdapter, type DenoKvAdapterOptions, type DenoKvLike } from "@kontsedal/locco/kv";
 * export function adapterFor(kv: DenoKvLike): DenoKvAdapter {
 *   const options: DenoKvAdapterOptions = {
 *     kv,
 *     prefix: ["my-app", "locks"],
 *     clockDriftMargin: 250,
 *     waitStrategy: "watch",
 *   };
 *   return new DenoKvAdapter(options);
 * }
 * ```
 */
export interface DenoKvAdapterOptions {
  /** The KV handle: `await Deno.openKv()`, or `await openKv(path)` of `@deno/kv`. */
  kv: DenoKvLike;
  /**
   * The KV key prefix of the lock entries: lock `"k"` is the entry
   * `[...prefix, "k"]`. An array of key parts (well-formed strings, finite
   * numbers, bigints, booleans, `Uint8Array`s).
   *
   * @default {["locco"]}
   */
  prefix?: readonly KvKeyPart[] | undefined;
  /**
   * The largest difference, in milliseconds, between the clocks of any two
   * hosts that share the store. A lock that expired at `expiresAt` (by its
   * holder's clock) is taken over only once the taker's clock reads
   * `expiresAt + clockDriftMargin`; its holder's own view is unchanged. An
   * integer from 0 to 2147483647.
   *
   * @default {50}
   */
  clockDriftMargin?: number | undefined;
  /**
   * The wall clock, in epoch milliseconds. Replace it only with a better
   * synchronised time source, or in tests.
   *
   * @default {Date.now}
   */
  now?: (() => number) | undefined;
  /**
   * How waiters learn that a key was freed: `"watch"` (`kv.watch()` of the
   * key, plus a poll every retry delay), or `"poll"` (the retry delay only,
   * and this adapter's own releases). The default is `"watch"` for Deno's own
   * `Deno.Kv` and `"poll"` for other handles: the `@deno/kv` package (0.14)
   * on Node and Bun keeps the process alive after `close()` once a watch
   * has reported.
   */
  waitStrategy?: "watch" | "poll" | undefined;
}

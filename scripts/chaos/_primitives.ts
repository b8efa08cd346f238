// Copyright 2026 the locco authors. MIT license.
// What the chaos workers lock (--primitive), shared by the harness, the
// workers and the analysis.

/**
 * lock: one key; semaphore: a permit on one key; multi: a lock on 2 or 3
 * keys at once; rw: the read or write side of a read-write lock on one key.
 */
export type Primitive = "lock" | "semaphore" | "multi" | "rw";

/** Every primitive, in the order the usage lists them. */
export const PRIMITIVES: readonly Primitive[] = ["lock", "semaphore", "multi", "rw"];

/** Exit code of a worker whose adapter lacks the primitive (UnsupportedError). */
export const UNSUPPORTED_EXIT = 4;

// Copyright 2026 the locco authors. MIT license.
// Opens a Deno KV database for the tests on any runtime: `Deno.openKv` on
// Deno (where `deno.json` enables the unstable KV API), `openKv` of the
// `@deno/kv` npm package on Node and Bun. Bun's V8 serialization is not
// Deno's, so Bun gets serializers that refuse: the adapter stores bytes only.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { DenoKvLike } from "@kontsedal/locco/kv";

/** A KV handle the test owns: `close()` closes it. */
export type TestKv = DenoKvLike & {
  set(key: unknown[], value: unknown): Promise<unknown>;
  delete(key: unknown[]): Promise<void>;
  close(): void;
};

const versions = process.versions as Record<string, string | undefined>;
/** Whether this runtime is Deno (the test shim defines a `Deno` on Node and Bun). */
export const ON_DENO = versions.deno !== undefined;
/** Whether this runtime is Bun. */
export const ON_BUN = versions.bun !== undefined;

function refuseV8(): never {
  throw new Error("the test KV stores bytes only: no V8 serialization on Bun");
}

/**
 * Opens the database at `path`; `":memory:"` is a private in-memory one on
 * Deno only (`@deno/kv` has no shared in-memory store).
 */
export async function openTestKv(path: string): Promise<TestKv> {
  if (ON_DENO) {
    const deno = globalThis as unknown as { Deno: { openKv(path: string): Promise<TestKv> } };
    return await deno.Deno.openKv(path);
  }
  if (path === ":memory:") throw new Error("an in-memory KV is opened on Deno only");
  const { openKv } = await import("@deno/kv");
  const options = ON_BUN ? { encodeV8: refuseV8, decodeV8: refuseV8 } : {};
  return await openKv(path, options) as unknown as TestKv;
}

/** A fresh file database path in a temporary directory; `remove()` deletes the directory. */
export function tempKvPath(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "locco-kv-"));
  return {
    path: join(dir, "locks.sqlite"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

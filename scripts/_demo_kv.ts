// Copyright 2026 the locco authors. MIT license.
// The demo's Deno KV backend (`deno task demo --kv <path>`, or `--kv ""` for
// a temporary file database): each worker gets a DenoKvAdapter on its own
// handle of the database, as separate processes would, and the shared
// counter is an entry read and written in two calls.

import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { openTestKv, tempKvPath, type TestKv } from "../tests/_kv.ts";
import type { DemoBackend } from "./demo.ts";

const COUNTER = ["locco-demo", "counter"];

// A local SQLite file answers "database is locked" while another handle writes.
async function retryBusy<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt > 200 || !/database is locked/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 5));
    }
  }
}

/** Opens the database at `path`, or a temporary one when no path is given. */
export async function kvBackend(path?: string): Promise<DemoBackend> {
  const temp = path === undefined ? tempKvPath() : undefined;
  const file = path ?? temp!.path;
  const main = await openTestKv(file);
  const handles: TestKv[] = [main];
  const adapters: DenoKvAdapter[] = [];
  return {
    name: temp === undefined ? `Deno KV at ${file}` : `Deno KV in a temporary file (${file})`,
    async adapter() {
      const kv = await openTestKv(file);
      handles.push(kv);
      const adapter = new DenoKvAdapter({ kv, prefix: ["locco-demo"] });
      adapters.push(adapter);
      return adapter;
    },
    counter: {
      async get(): Promise<number> {
        const entry = await retryBusy(() => main.get(COUNTER));
        return entry.value instanceof Uint8Array
          ? Number(new TextDecoder().decode(entry.value))
          : 0;
      },
      async set(value: number): Promise<void> {
        await retryBusy(() => main.set(COUNTER, new TextEncoder().encode(String(value))));
      },
    },
    async close(): Promise<void> {
      try {
        await Promise.all(adapters.map((adapter) => adapter.close()));
        for (const kv of handles) kv.close();
      } finally {
        temp?.remove();
      }
    },
  };
}

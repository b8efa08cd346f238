// Copyright 2026 the locco authors. MIT license.
// The Redis client of a worker process (multi-process tests): ioredis 5,
// node-redis 6 or Valkey GLIDE, with the adapter around it and the plain commands the
// workers use on their own data. Runs on Deno, Node (through tsx) and Bun.

import { Redis } from "ioredis";
import { createClient } from "redis";
import { GlideClient, Logger } from "@valkey/valkey-glide";
import type { ILockAdapter } from "@kontsedal/locco";
import { GlideAdapter, IoRedisAdapter, NodeRedisAdapter } from "@kontsedal/locco/redis";

/** A worker's connection: its lock adapter, and GET/SET/INCR on its own keys. */
export interface WorkerRedis {
  adapter: ILockAdapter;
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  incr(key: string): Promise<number>;
  close(): Promise<void>;
}

/** Opens a worker's client: `family` is "ioredis", "node-redis" or "glide". */
export async function openWorkerRedis(family: string, url: string): Promise<WorkerRedis> {
  if (family === "glide") {
    Logger.setLoggerConfig("error");
    const { hostname, port } = new URL(url);
    const client = await GlideClient.createClient({
      addresses: [{ host: hostname, port: Number(port || 6379) }],
    });
    const adapter = new GlideAdapter({ client });
    return {
      adapter,
      get: async (key) => (await client.get(key))?.toString() ?? null,
      set: (key, value) => client.set(key, value),
      incr: (key) => client.incr(key),
      async close() {
        await adapter.close();
        client.close();
      },
    };
  }
  if (family === "node-redis") {
    const client = createClient({ url });
    client.on("error", () => {});
    await client.connect();
    const adapter = new NodeRedisAdapter({ client });
    return {
      adapter,
      get: async (key) => await client.get(key),
      set: (key, value) => client.set(key, value),
      incr: (key) => client.incr(key),
      async close() {
        await adapter.close();
        await client.close();
      },
    };
  }
  if (family !== "ioredis") throw new Error(`unknown Redis client family "${family}"`);
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const adapter = new IoRedisAdapter({ client });
  return {
    adapter,
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    incr: (key) => client.incr(key),
    async close() {
      await adapter.close();
      await client.quit();
    },
  };
}

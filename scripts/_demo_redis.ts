// Copyright 2026 the locco authors. MIT license.
// The demo's Redis backend (`deno task demo --redis <url> [--client node-redis]`):
// each worker gets an IoRedisAdapter on its own ioredis connection (or a
// NodeRedisAdapter on its own node-redis connection), and the shared counter
// is a plain Redis string read and written in two round trips. Clients fail
// fast if Redis goes away.

import { Redis } from "ioredis";
import { createClient } from "redis";
import type { ILockAdapter } from "@kontsedal/locco";
import { IoRedisAdapter, NodeRedisAdapter } from "@kontsedal/locco/redis";
import type { DemoBackend } from "./demo.ts";

/** The Redis client libraries the demo can lock through. */
export type DemoRedisClient = "ioredis" | "node-redis";

/** Options of {@linkcode redisBackend}. */
export interface DemoRedisOptions {
  /** Prefix of the lock keys. @default {"locco-demo:lock:"} */
  prefix?: string;
  /** Redis key of the counter; processes sharing it share the count. @default {"locco-demo:counter"} */
  counterKey?: string;
  /** The client library. @default {"ioredis"} */
  client?: DemoRedisClient;
}

/** One connection of the demo, whatever its library. */
interface Connection {
  adapter(prefix: string): ILockAdapter & { close(): Promise<void> };
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  close(): Promise<unknown>;
}

function unreachable(url: string, error: unknown, lastError: Error | undefined): Error {
  return new Error(`Cannot reach Redis at ${url}: ${(lastError ?? error as Error).message}`, {
    cause: error,
  });
}

async function connectIoRedis(url: string): Promise<Connection> {
  let lastError: Error | undefined;
  const client = new Redis(url, {
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 3 ? null : 100 * times),
  });
  client.on("error", (error: Error) => lastError = error);
  try {
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw unreachable(url, error, lastError);
  }
  return {
    adapter: (prefix) => new IoRedisAdapter({ client, prefix }),
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    close: () => client.quit(),
  };
}

async function connectNodeRedis(url: string): Promise<Connection> {
  let lastError: Error | undefined;
  const client = createClient({
    url,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries) => (retries > 3 ? false : 100 * (retries + 1)),
    },
  });
  client.on("error", (error: Error) => lastError = error);
  try {
    await client.connect();
  } catch (error) {
    client.destroy();
    throw unreachable(url, error, lastError);
  }
  return {
    adapter: (prefix) => new NodeRedisAdapter({ client, prefix }),
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    close: () => client.close(),
  };
}

/**
 * Connects to Redis at `url` and returns the demo backend. Rejects with a
 * clear error when Redis does not answer within about 2 seconds.
 */
export async function redisBackend(
  url: string,
  options: DemoRedisOptions = {},
): Promise<DemoBackend> {
  const { prefix = "locco-demo:lock:", counterKey = "locco-demo:counter", client = "ioredis" } =
    options;
  const connect = client === "node-redis" ? connectNodeRedis : connectIoRedis;
  const main = await connect(url);
  const connections = [main];
  const adapters: Array<{ close(): Promise<void> }> = [];
  return {
    name: `Redis at ${url} (${client === "node-redis" ? "NodeRedisAdapter" : "IoRedisAdapter"})`,
    async adapter() {
      const connection = await connect(url);
      connections.push(connection);
      const adapter = connection.adapter(prefix);
      adapters.push(adapter);
      return adapter;
    },
    counter: {
      async get(): Promise<number> {
        return Number(await main.get(counterKey) ?? 0);
      },
      async set(value: number): Promise<void> {
        await main.set(counterKey, String(value));
      },
    },
    async close(): Promise<void> {
      await Promise.all(adapters.map((adapter) => adapter.close()));
      await Promise.all(connections.map((connection) => connection.close()));
    },
  };
}

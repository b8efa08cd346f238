// Copyright 2026 the locco authors. MIT license.
// The demo's Redis backend (`deno task demo --redis <url>`): each worker gets
// an IoRedisAdapter on its own ioredis connection, and the shared counter is
// a plain Redis string read and written in two round trips. Clients fail fast
// if Redis goes away.

import { Redis } from "ioredis";
import { IoRedisAdapter } from "@kontsedal/locco/redis";
import type { DemoBackend } from "./demo.ts";

/** Options of {@linkcode redisBackend}. */
export interface DemoRedisOptions {
  /** Prefix of the lock keys. @default {"locco-demo:lock:"} */
  prefix?: string;
  /** Redis key of the counter; processes sharing it share the count. @default {"locco-demo:counter"} */
  counterKey?: string;
}

async function connect(url: string): Promise<Redis> {
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
    throw new Error(`Cannot reach Redis at ${url}: ${(lastError ?? error as Error).message}`, {
      cause: error,
    });
  }
  return client;
}

/**
 * Connects to Redis at `url` and returns the demo backend. Rejects with a
 * clear error when Redis does not answer within about 2 seconds.
 */
export async function redisBackend(
  url: string,
  options: DemoRedisOptions = {},
): Promise<DemoBackend> {
  const { prefix = "locco-demo:lock:", counterKey = "locco-demo:counter" } = options;
  const main = await connect(url);
  const clients = [main];
  return {
    name: `Redis at ${url}`,
    async adapter() {
      const client = await connect(url);
      clients.push(client);
      return new IoRedisAdapter({ client, prefix });
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
      await Promise.all(clients.map((client) => client.quit()));
    },
  };
}

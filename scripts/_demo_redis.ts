// Copyright 2026 the locco authors. MIT license.
// The demo's Redis backend (`deno task demo --redis <url>`): an IoRedisAdapter
// on its own ioredis client, plus a plain (non-atomic) counter in Redis that
// the demo increments under the lock. Clients fail fast if Redis goes away.

import { Redis } from "ioredis";
import { IoRedisAdapter } from "@kontsedal/locco/redis";

/** What the demo needs from a backend. */
export interface DemoRedisBackend {
  /** The adapter to give to `new Locker({ adapter, ... })`. */
  adapter: IoRedisAdapter;
  /** A counter stored in Redis, read and written in two separate round trips. */
  counter: { get(): Promise<number>; set(value: number): Promise<void> };
  /** Quits the Redis connection. */
  close(): Promise<void>;
}

/** Options of {@linkcode redisBackend}. */
export interface DemoRedisOptions {
  /** Prefix of the lock keys. @default {"locco-demo:lock:"} */
  prefix?: string;
  /** Redis key of the counter; processes sharing it share the count. @default {"locco-demo:counter"} */
  counterKey?: string;
}

/**
 * Connects to Redis at `url` and returns the demo backend. Rejects with a
 * clear error when Redis does not answer within about 2 seconds.
 */
export async function redisBackend(
  url: string,
  options: DemoRedisOptions = {},
): Promise<DemoRedisBackend> {
  const { prefix = "locco-demo:lock:", counterKey = "locco-demo:counter" } = options;
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
  return {
    adapter: new IoRedisAdapter({ client, prefix }),
    counter: {
      async get(): Promise<number> {
        return Number(await client.get(counterKey) ?? 0);
      },
      async set(value: number): Promise<void> {
        await client.set(counterKey, String(value));
      },
    },
    async close(): Promise<void> {
      await client.quit();
    },
  };
}

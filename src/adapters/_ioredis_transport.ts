// Copyright 2026 the locco authors. MIT license.
// The transport for ioredis 5 and 6 and the forks that keep its API
// (iovalkey): EVALSHA and EVAL with positional keys and arguments, the
// client's `keyPrefix`, `isCluster`, and a `duplicate()` subscriber whose
// "close" event says that messages may have been missed and whose status
// "end" says that it will not reconnect.

import type { IoRedisLikeClient, IoRedisLikeSubscriber } from "./redis.ts";
import type { RedisConnection, RedisTransport } from "./_redis_transport.ts";
import { decodeReply, listen } from "./_redis_transport.ts";

/** The `keyPrefix` an ioredis client (or Cluster, through `redisOptions`) adds to every key. */
function clientKeyPrefix(client: IoRedisLikeClient): string {
  const options = (client as { options?: Record<string, unknown> }).options;
  const redisOptions = options?.redisOptions as Record<string, unknown> | undefined;
  const prefix = options?.keyPrefix ?? redisOptions?.keyPrefix;
  return typeof prefix === "string"
    ? prefix
    : prefix instanceof Uint8Array
    ? new TextDecoder().decode(prefix)
    : "";
}

/** Sends through an ioredis-shaped client, which it never modifies. */
export function ioRedisTransport(client: IoRedisLikeClient): RedisTransport {
  return {
    clientPrefix: clientKeyPrefix(client),
    cluster: (client as { isCluster?: unknown }).isCluster === true,
    canSubscribe: typeof client.duplicate === "function",
    evalsha: (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
    get: async (key) => decodeReply(await client.get(key)) as string | null,
    client,
    openSubscriber(onMessage, onLost): RedisConnection {
      const subscriber: IoRedisLikeSubscriber = client.duplicate!();
      subscriber.on("message", (channel: unknown, message: unknown) => {
        if (typeof channel === "string" && typeof message === "string") {
          onMessage(channel, message);
        }
      });
      subscriber.on("error", () => {}); // surfaced as "close"; waiters ask Redis again
      subscriber.on("close", onLost);
      return {
        subscribe: (channel) => subscriber.subscribe(channel),
        unsubscribe: async (channel) => await subscriber.unsubscribe?.(channel),
        // "end": its retryStrategy gave up, or it was closed.
        get ended() {
          return subscriber.status === "end";
        },
        async close(): Promise<void> {
          if (subscriber.status === "end") return; // closed already
          try {
            await subscriber.quit();
          } catch {
            subscriber.disconnect();
          }
        },
      };
    },
    onEnd: (listener) => listen(client, ["end"], listener),
  };
}

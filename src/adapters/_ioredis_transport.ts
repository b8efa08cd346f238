// Copyright 2026 the locco authors. MIT license.
// The transport for ioredis 5 and 6 and the forks that keep its API
// (iovalkey): EVALSHA and EVAL with positional keys and arguments, the
// client's `keyPrefix`, `isCluster`, and a `duplicate()` subscriber whose
// "close" event says that messages may have been missed and whose status
// "end" says that it will not reconnect.
//
// ioredis writes every command to its socket on its own, and that write is
// most of the CPU a lock cycle costs the process (on Deno, 3/4 of it under
// 64 concurrent locks). So the scripts that several locks send in the same
// moment (one microtask checkpoint) go out as pipelines of up to MAX_BATCH,
// one write each, in the order they were sent: the replies and errors are
// each command's own, NOSCRIPT included. A script sent alone is sent as
// before. Not on Redis Cluster, whose pipelines must stay within one slot.

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
    evalsha: batchedEvalsha(client),
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

// A pipeline goes out as soon as it holds this many scripts: Redis starts on
// them while the process prepares the next ones. One pipeline of everything
// at the end of the checkpoint would keep the two in lock step (64 locks:
// no faster than unbatched); 8 to 32 made 64 concurrent locks 1.6-1.75
// times as fast as unbatched, in one process, interleaved.
const MAX_BATCH = 16;

interface Pending {
  sha: string;
  keys: string[];
  args: (string | number)[];
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/** `evalsha` of the transport: alone, or in a pipeline with the others of the same moment. */
function batchedEvalsha(
  client: IoRedisLikeClient,
): (sha: string, keys: string[], args: (string | number)[]) => Promise<unknown> {
  const send = (sha: string, keys: string[], args: (string | number)[]) =>
    client.evalsha(sha, keys.length, ...keys, ...args);
  if (
    (client as { isCluster?: unknown }).isCluster === true || typeof client.pipeline !== "function"
  ) {
    return send;
  }
  const pipelineOf = client.pipeline.bind(client);
  let batch: Pending[] | undefined;
  // Runs in a microtask: whatever the client throws settles the promises.
  const flush = () => {
    const pending = batch;
    if (pending === undefined) return;
    batch = undefined;
    if (pending.length === 1) {
      const { sha, keys, args, resolve, reject } = pending[0]!;
      try {
        Promise.resolve(send(sha, keys, args)).then(resolve, reject);
      } catch (error) {
        reject(error);
      }
      return;
    }
    let executed: Promise<Array<[Error | null, unknown]> | null>;
    try {
      const pipeline = pipelineOf();
      for (const { sha, keys, args } of pending) {
        pipeline.evalsha(sha, keys.length, ...keys, ...args);
      }
      executed = Promise.resolve(pipeline.exec());
    } catch (error) {
      for (const { reject } of pending) reject(error);
      return;
    }
    executed.then((results) => {
      pending.forEach(({ resolve, reject }, index) => {
        const result = results?.[index];
        if (result === undefined) reject(new Error("The pipeline was discarded"));
        else if (result[0] !== null && result[0] !== undefined) reject(result[0]);
        else resolve(result[1]);
      });
    }, (error: unknown) => {
      for (const { reject } of pending) reject(error);
    });
  };
  return (sha, keys, args) =>
    new Promise((resolve, reject) => {
      if (batch === undefined) {
        batch = [];
        queueMicrotask(flush);
      }
      batch.push({ sha, keys, args, resolve, reject });
      if (batch.length >= MAX_BATCH) flush();
    });
}

// Copyright 2026 the locco authors. MIT license.
// The transport for node-redis 4, 5 and 6 (`createClient`, `createCluster`,
// `createSentinel`): `evalSha`/`eval` take `{ keys, arguments }` of strings
// only, node-redis has no key prefix of its own, a Cluster client routes a
// script by its first key, and `duplicate()` returns a client that is not
// connected yet and that re-subscribes by itself after a reconnect.

import type { NodeRedisLikeClient, NodeRedisLikeSubscriber } from "./node_redis.ts";
import type { RedisSubscription, RedisTransport } from "./_redis_transport.ts";
import { decodeReply, listen } from "./_redis_transport.ts";

/**
 * Events after which a node-redis subscriber may have missed messages: a
 * client's reconnect or end, or, on a Cluster client, one of its nodes'.
 */
const LOST_EVENTS = ["reconnecting", "end", "node-reconnecting", "node-disconnect"] as const;

/** Whether a node-redis client is a Cluster client (which lists its primaries). */
function isCluster(client: NodeRedisLikeClient): boolean {
  const shape = client as { masters?: unknown; slots?: unknown };
  return Array.isArray(shape.masters) && Array.isArray(shape.slots);
}

function strings(args: (string | number)[]): string[] {
  return args.map(String);
}

/** Closes a node-redis connection at once: `destroy()` (5+) or `disconnect()` (4). */
async function destroyConnection(connection: NodeRedisLikeSubscriber): Promise<void> {
  try {
    await (connection.destroy ?? connection.disconnect)?.call(connection);
  } catch {
    // already closed
  }
}

/**
 * Closes a node-redis connection: gracefully (`close()` in 5+, `quit()` in
 * 4) when it is ready, else (connecting, reconnecting, or a graceful close
 * failed) at once, so that closing never waits for a server that is down.
 */
async function closeConnection(connection: NodeRedisLikeSubscriber): Promise<void> {
  if (connection.isReady === true) {
    try {
      if (typeof connection.close === "function") await connection.close();
      else await connection.quit!();
      return;
    } catch {
      // closed at once below
    }
  }
  await destroyConnection(connection);
}

/** The subscriber connection: `client.duplicate()`, connected on first subscribe. */
function nodeRedisSubscription(
  subscriber: NodeRedisLikeSubscriber,
  onMessage: (channel: string, message: string) => void,
  onLost: () => void,
): RedisSubscription {
  // One listener for the connection's lifetime: node-redis keeps listeners in
  // a set, so subscribing again after a reconnect does not add a second one.
  const listener = (message: unknown, channel: unknown) => {
    const text = decodeReply(message);
    const name = decodeReply(channel);
    if (typeof name === "string" && typeof text === "string") onMessage(name, text);
  };
  // An EventEmitter without an "error" listener throws: errors surface as a
  // reconnect, and waiters ask Redis again.
  listen(subscriber, ["error"], () => {});
  listen(subscriber, LOST_EVENTS, onLost);
  let closed = false;
  let connecting: Promise<unknown> | undefined;
  function connect(): Promise<unknown> {
    if (subscriber.isOpen) return Promise.resolve();
    connecting ??= subscriber.connect().finally(() => connecting = undefined);
    return connecting;
  }
  return {
    async subscribe(channel: string): Promise<unknown> {
      await connect();
      if (closed) throw new Error("The subscriber is closed");
      return await subscriber.subscribe(channel, listener);
    },
    async close(): Promise<void> {
      closed = true;
      if (connecting !== undefined) {
        // Still connecting (perhaps to a server that is down): stop it now.
        connecting.catch(() => {});
        await destroyConnection(subscriber);
      } else if (subscriber.isOpen) {
        await closeConnection(subscriber);
      }
    },
  };
}

/** Sends through a node-redis client, which it never modifies. */
export function nodeRedisTransport(client: NodeRedisLikeClient): RedisTransport {
  return {
    clientPrefix: "",
    cluster: isCluster(client),
    canSubscribe: typeof client.duplicate === "function",
    evalsha: (sha, keys, args) => client.evalSha(sha, { keys, arguments: strings(args) }),
    eval: (source, keys, args) => client.eval(source, { keys, arguments: strings(args) }),
    get: async (key) => decodeReply(await client.get(key)) as string | null,
    openSubscriber(onMessage, onLost): RedisSubscription {
      return nodeRedisSubscription(client.duplicate!(), onMessage, onLost);
    },
    // A client or Sentinel emits "end" once closed; a Cluster, "disconnect".
    onEnd: (listener) => listen(client, isCluster(client) ? ["disconnect"] : ["end"], listener),
  };
}

// Copyright 2026 the locco authors. MIT license.
// The transport for node-redis 4 and 6 (`createClient`, `createCluster`,
// `createSentinel`): `evalSha`/`eval` take `{ keys, arguments }` of strings
// only; a Cluster client gets scripts as raw commands routed by their first
// key (node-redis 4 does not route `evalSha` by key); node-redis has no key
// prefix of its own; and `duplicate()` returns a client that is not
// connected yet and that re-subscribes by itself after a reconnect.

import type { NodeRedisLikeClient, NodeRedisLikeSubscriber } from "./node_redis.ts";
import type { RedisConnection, RedisTransport } from "./_redis_transport.ts";
import { decodeReply, listen } from "./_redis_transport.ts";

/** Events after which a node-redis subscriber may have missed messages. */
const LOST_EVENTS = ["reconnecting", "end", "terminated"] as const;

/**
 * A Cluster client's node events after which its subscriber may have missed
 * messages, when they come from the node that holds its subscription.
 */
const NODE_LOST_EVENTS = ["node-reconnecting", "node-disconnect"] as const;

/** Whether a node-redis client is a Cluster client (which lists its primaries). */
function isCluster(client: NodeRedisLikeClient): boolean {
  const shape = client as { masters?: unknown; slots?: unknown };
  return Array.isArray(shape.masters) && Array.isArray(shape.slots);
}

function strings(args: (string | number)[]): string[] {
  return args.map(String);
}

/** Closes a node-redis connection at once: `destroy()` (6) or `disconnect()` (4). */
async function destroyConnection(connection: NodeRedisLikeSubscriber): Promise<void> {
  try {
    await (connection.destroy ?? connection.disconnect)?.call(connection);
  } catch {
    // already closed
  }
}

/**
 * Closes a node-redis connection: gracefully (`close()` in 6, `quit()` in
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

/** Whether a Cluster node event (`{ host, port }`) is about the node holding the subscription. */
function isPubSubNode(subscriber: NodeRedisLikeSubscriber, info: unknown): boolean {
  const node = (subscriber as { pubSubNode?: { address?: unknown; client?: unknown } })
    .pubSubNode;
  const { host, port } = (info ?? {}) as { host?: unknown; port?: unknown };
  // Not known (no subscription yet, or being replaced): count it, to be safe.
  if (node === undefined || typeof node.address !== "string") return true;
  const address = `${host}:${port}`;
  if (node.address === address) return true;
  // A nodeAddressMap connects to another address than the one the cluster announces.
  const socket = (node.client as { options?: { socket?: { host?: unknown; port?: unknown } } })
    ?.options?.socket;
  return socket !== undefined && `${socket.host}:${socket.port}` === address;
}

/** Resolves once a (single, not Cluster) node-redis connection is ready; rejects if it ends first. */
function ready(subscriber: NodeRedisLikeSubscriber): Promise<void> {
  if (subscriber.isReady !== false) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stop = [
      listen(subscriber, ["ready"], () => done()),
      listen(subscriber, ["end", "terminated"], () => done(new Error("The subscriber closed"))),
    ];
    function done(error?: Error): void {
      for (const remove of stop) remove();
      if (error === undefined) resolve();
      else reject(error);
    }
    if (subscriber.isReady !== false) done();
  });
}

/** The subscriber connection: `client.duplicate()`, connected on first subscribe. */
function nodeRedisConnection(
  subscriber: NodeRedisLikeSubscriber,
  cluster: boolean,
  onMessage: (channel: string, message: string) => void,
  onLost: () => void,
): RedisConnection {
  // One listener for the connection's lifetime: node-redis keeps listeners in
  // a set, so subscribing again after a reconnect does not add a second one.
  const listener = (message: unknown, channel: unknown) => {
    const text = decodeReply(message);
    const name = decodeReply(channel);
    if (typeof name === "string" && typeof text === "string") onMessage(name, text);
  };
  let started = false;
  let ended = false;
  const lost = () => {
    if (started && !subscriber.isOpen) ended = true;
    onLost();
  };
  // An EventEmitter without an "error" listener throws: errors surface as a
  // reconnect, and waiters ask Redis again. An error after which the
  // connection is no longer open (its reconnect strategy gave up) ends it.
  listen(subscriber, ["error"], () => {
    if (started && !subscriber.isOpen && !ended) lost();
  });
  listen(subscriber, LOST_EVENTS, lost);
  if (cluster) {
    listen(subscriber, NODE_LOST_EVENTS, (info) => {
      if (isPubSubNode(subscriber, info)) onLost();
    });
  }
  let closed = false;
  let connecting: Promise<unknown> | undefined;
  let readying: Promise<void> | undefined;
  function connect(): Promise<unknown> {
    if (subscriber.isOpen) return Promise.resolve();
    started = true;
    connecting ??= subscriber.connect().then(
      () => connecting = undefined,
      (error) => {
        // It gave up connecting: the next subscribe opens a new connection.
        connecting = undefined;
        ended = true;
        throw error;
      },
    );
    return connecting;
  }
  return {
    get ended() {
      return ended;
    },
    async subscribe(channel: string): Promise<unknown> {
      await connect();
      if (closed) throw new Error("The subscriber is closed");
      // Reconnecting: node-redis answers at once for a channel it will
      // subscribe again once ready, and a message before then is missed.
      if (!cluster && subscriber.isReady === false) {
        readying ??= ready(subscriber).finally(() => readying = undefined);
        await readying;
      }
      return await subscriber.subscribe(channel, listener);
    },
    async unsubscribe(channel: string): Promise<unknown> {
      if (!subscriber.isOpen || typeof subscriber.unsubscribe !== "function") return;
      return await subscriber.unsubscribe(channel, listener);
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

/**
 * Runs a script on a Cluster client as a raw command routed by its first
 * key: `evalSha(sha, { keys })` of node-redis 4 does not route by key.
 */
function clusterScript(
  client: NodeRedisLikeClient,
  command: "EVALSHA" | "EVAL",
  script: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  const send = (client as unknown as {
    sendCommand(firstKey: string, readonly: boolean, args: string[]): Promise<unknown>;
  }).sendCommand;
  return send.call(client, keys[0]!, false, [
    command,
    script,
    String(keys.length),
    ...keys,
    ...strings(args),
  ]);
}

/** Sends through a node-redis client, which it never modifies. */
export function nodeRedisTransport(client: NodeRedisLikeClient): RedisTransport {
  const cluster = isCluster(client) && typeof client.sendCommand === "function";
  return {
    clientPrefix: "",
    cluster: isCluster(client),
    canSubscribe: typeof client.duplicate === "function",
    client,
    evalsha: (sha, keys, args) =>
      cluster
        ? clusterScript(client, "EVALSHA", sha, keys, args)
        : client.evalSha(sha, { keys, arguments: strings(args) }),
    eval: (source, keys, args) =>
      cluster
        ? clusterScript(client, "EVAL", source, keys, args)
        : client.eval(source, { keys, arguments: strings(args) }),
    get: async (key) => decodeReply(await client.get(key)) as string | null,
    openSubscriber(onMessage, onLost): RedisConnection {
      return nodeRedisConnection(client.duplicate!(), isCluster(client), onMessage, onLost);
    },
    // A client or Sentinel emits "end" once closed; a node-redis 6 Cluster,
    // "disconnect" (node-redis 4's Cluster tells nothing).
    onEnd: (listener) => listen(client, isCluster(client) ? ["disconnect"] : ["end"], listener),
  };
}

// Copyright 2026 the locco authors. MIT license.
// The transport for Valkey GLIDE (`@valkey/valkey-glide`) clients,
// standalone and Cluster: scripts go as raw `EVALSHA`/`EVAL` commands
// through `customCommand` (GLIDE's own `invokeScript` loads scripts its own
// way, by a hash it keeps), which a Cluster client routes by their first
// key, GLIDE names a missing script `NoScriptError` rather than
// `NOSCRIPT`, replies may come as bytes under a `Decoder.Bytes` client, and
// the subscriber is a second client made from the user's client's own
// configuration with a message callback. GLIDE reconnects (and subscribes
// again) without telling its user, so the only sign of missed messages
// this transport can give is the subscriber closing: lost messages are
// bounded by the waiters' rule of asking Redis again within their retry
// delay, as they are for every client.

import type { GlideLikeClient, GlideLikeSubscriber } from "./glide.ts";
import type { RedisConnection, RedisTransport } from "./_redis_transport.ts";
import { decodeReply } from "./_redis_transport.ts";

/** How long one `SUBSCRIBE` may wait for the server's confirmation, in ms. */
const SUBSCRIBE_TIMEOUT_MS = 5000;

/** Creates a GLIDE client of the same class as the user's: `createClient(config)`. */
type CreateClient = (config: Record<string, unknown>) => Promise<GlideLikeSubscriber>;

/** The configuration a GLIDE client was created with (kept by GLIDE as `config`). */
function clientConfig(client: GlideLikeClient): Record<string, unknown> | undefined {
  const config = (client as { config?: unknown }).config;
  return typeof config === "object" && config !== null
    ? config as Record<string, unknown>
    : undefined;
}

/** `createClient` of the user's client's class, when it has one. */
function clientFactory(client: GlideLikeClient): CreateClient | undefined {
  const create = (client.constructor as { createClient?: unknown } | undefined)?.createClient;
  return typeof create === "function"
    ? (config) => create.call(client.constructor, config) as Promise<GlideLikeSubscriber>
    : undefined;
}

/** Whether an error is GLIDE's report of a script the server does not have. */
export function isGlideNoScript(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message.includes("NoScriptError");
}

/** Whether a GLIDE client is a Cluster client (only it has `fcallWithRoute`). */
function isGlideCluster(client: object): boolean {
  return typeof (client as { fcallWithRoute?: unknown }).fcallWithRoute === "function";
}

function command(
  name: "EVALSHA" | "EVAL",
  script: string,
  keys: string[],
  args: (string | number)[],
): string[] {
  return [name, script, String(keys.length), ...keys, ...args.map(String)];
}

/** The subscriber: a client created from `config` with a message callback. */
function glideConnection(
  create: CreateClient,
  config: Record<string, unknown>,
  onMessage: (channel: string, message: string) => void,
): RedisConnection {
  let ended = false;
  let closed = false;
  const opening = create({
    ...config,
    lazyConnect: false,
    pubsubSubscriptions: {
      channelsAndPatterns: {},
      callback: (message: { channel?: unknown; message?: unknown }) => {
        const channel = decodeReply(message?.channel);
        const text = decodeReply(message?.message);
        if (typeof channel === "string" && typeof text === "string") onMessage(channel, text);
      },
    },
  }).catch((error) => {
    // It could not connect: the next subscribe opens a new one.
    ended = true;
    throw error;
  });
  opening.catch(() => {}); // seen by the subscribe that awaits it
  const isClosed = (subscriber: GlideLikeSubscriber) =>
    (subscriber as unknown as { isClosed?: unknown }).isClosed === true;
  return {
    get ended() {
      return ended;
    },
    async subscribe(channel: string): Promise<unknown> {
      const subscriber = await opening;
      if (closed || isClosed(subscriber)) {
        ended = true;
        throw new Error("The subscriber is closed");
      }
      return await subscriber.subscribe(new Set([channel]), SUBSCRIBE_TIMEOUT_MS);
    },
    async unsubscribe(channel: string): Promise<unknown> {
      const subscriber = await opening;
      if (isClosed(subscriber)) return;
      return await subscriber.unsubscribe(new Set([channel]), SUBSCRIBE_TIMEOUT_MS);
    },
    async close(): Promise<void> {
      closed = true;
      ended = true;
      let subscriber: GlideLikeSubscriber;
      try {
        subscriber = await opening;
      } catch {
        return; // never opened
      }
      if (isClosed(subscriber)) return;
      // Emptied first: GLIDE otherwise keeps trying to subscribe the
      // channels it wanted after its client closed, and logs each failure.
      await subscriber.unsubscribe(null, SUBSCRIBE_TIMEOUT_MS).catch(() => {});
      subscriber.close();
    },
  };
}

/** Sends through a GLIDE client, which it never modifies. */
export function glideTransport(client: GlideLikeClient): RedisTransport {
  const create = clientFactory(client);
  return {
    clientPrefix: "",
    cluster: isGlideCluster(client),
    canSubscribe: create !== undefined && clientConfig(client) !== undefined,
    client,
    // A GlideClusterClient routes EVALSHA and EVAL to the primary owning
    // their first key by itself (every other key a script touches shares
    // that key's slot).
    evalsha: (sha, keys, args) => client.customCommand(command("EVALSHA", sha, keys, args)),
    eval: (source, keys, args) => client.customCommand(command("EVAL", source, keys, args)),
    isNoScript: isGlideNoScript,
    get: async (key) => decodeReply(await client.get(key)) as string | null,
    openSubscriber(onMessage): RedisConnection {
      const config = clientConfig(client);
      if (create === undefined || config === undefined) {
        throw new Error("The GLIDE client has no createClient or config to subscribe with");
      }
      return glideConnection(create, config, onMessage);
    },
    // GLIDE clients tell nothing when they close.
    onEnd: () => () => {},
  };
}

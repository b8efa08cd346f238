// Copyright 2026 the locco authors. MIT license.
// The Redis clients every Redis suite runs with: ioredis 5 and 6 and its
// fork iovalkey through IoRedisAdapter, node-redis 6 (RESP2 and RESP3) and 4
// through NodeRedisAdapter, Valkey GLIDE through GlideAdapter. Each opens a connected client on a URL and
// wraps it in its adapter; tests that need raw commands use their own
// ioredis admin connection.

import { Redis } from "ioredis";
import { Redis as Redis6 } from "ioredis6";
import { Valkey } from "iovalkey";
import { createClient } from "redis";
import { createClient as createClient4 } from "redis4";
import { Decoder, GlideClient, Logger } from "@valkey/valkey-glide";
import { GlideAdapter, IoRedisAdapter, NodeRedisAdapter } from "@kontsedal/locco/redis";
import type { AdapterBackend } from "./_adapter_contract.ts";
import { assertRedisReachable } from "./_redis_server.ts";

/** The adapter of a client kind. */
export type RedisTestAdapter = IoRedisAdapter | NodeRedisAdapter | GlideAdapter;

/** The adapter options a test may set besides the client. */
export interface RedisAdapterSettings {
  prefix?: string;
  waitStrategy?: "notify" | "poll";
}

/** A connected client and the adapter around it. */
export interface OpenedRedisClient {
  adapter: RedisTestAdapter;
  /** Closes the adapter, then the client (gracefully). */
  close(): Promise<void>;
  /** Drops the client's connection at once, as a crash would. */
  destroy(): Promise<void>;
  /** Whether the client is connected and ready for commands. */
  isReady(): boolean;
  /** Whether the client closed for good (it will not reconnect). */
  isEnded(): boolean;
  /** `CLIENT ID` of the client's connection, sent through the client. */
  clientId(): Promise<number>;
}

/** How a test wants the client to behave while the server is away. */
export interface RedisFaultOptions {
  /** Commands fail at once while the server is unreachable, instead of waiting for a reconnect. */
  failFast?: boolean;
  /** The client does not reconnect once its connection is lost. */
  noReconnect?: boolean;
  /** The client reconnects this many ms after losing its connection. */
  reconnectMs?: number;
  /**
   * While this returns true, the client (and every connection duplicated
   * from it) gives up reconnecting once its connection is lost.
   */
  giveUp?: () => boolean;
  /** ioredis `keyPrefix` (node-redis has none). */
  keyPrefix?: string;
}

/** One Redis client library (and major version) as the tests use it. */
export interface RedisClientKind {
  /** "ioredis 5", "node-redis 6", ... */
  name: string;
  /** The adapter class name, for test names. */
  adapterName: "IoRedisAdapter" | "NodeRedisAdapter" | "GlideAdapter";
  /** The client family, as the chaos harness and the demo name it. */
  family: "ioredis" | "node-redis" | "glide";
  /** Whether the client resends a command whose reply a dropped connection lost (ioredis does). */
  resends: boolean;
  /** What the client's error says when a command is sent after it was closed. */
  closedError: RegExp;
  /**
   * Opens a connected client on `url`. `failFast`: commands fail at once
   * while the server is unreachable instead of waiting for a reconnect.
   */
  open(
    url: string,
    settings?: RedisAdapterSettings,
    options?: RedisFaultOptions,
  ): Promise<OpenedRedisClient>;
  /** A connected client, without an adapter (for tests that wrap it first). */
  connect(url: string, options?: RedisFaultOptions): Promise<RawRedisClient>;
  /** The adapter over a client of this kind (or a wrapper of one). */
  adapter(
    client: RawRedisClient,
    settings?: RedisAdapterSettings,
  ): RedisTestAdapter;
  /** Closes a client from `connect()`: gracefully, else at once; nothing when it ended. */
  closeClient(client: RawRedisClient): Promise<void>;
  /** Whether a client from `connect()` is connected and ready for commands. */
  isReady(client: RawRedisClient): boolean;
}

/** A connected client of some kind, as its library returns it (maybe wrapped in a Proxy). */
// deno-lint-ignore no-explicit-any
export type RawRedisClient = any;

/** How a test drives one client library; `open()` is built on it. */
interface ClientOps {
  connect(url: string, options: RedisFaultOptions): Promise<RawRedisClient>;
  adapter(
    client: RawRedisClient,
    settings: RedisAdapterSettings,
  ): RedisTestAdapter;
  /** Closes gracefully, else at once; nothing when it already ended. */
  close(client: RawRedisClient): Promise<void>;
  destroy(client: RawRedisClient): Promise<void>;
  isReady(client: RawRedisClient): boolean;
  isEnded(client: RawRedisClient): boolean;
  clientId(client: RawRedisClient): Promise<number>;
}

function clientKind(
  base: Pick<RedisClientKind, "name" | "adapterName" | "family" | "resends" | "closedError">,
  ops: ClientOps,
): RedisClientKind {
  return {
    ...base,
    connect: (url, options = {}) => ops.connect(url, options),
    adapter: (client, settings = {}) => ops.adapter(client, settings),
    closeClient: (client) => ops.close(client),
    isReady: (client) => ops.isReady(client),
    async open(url, settings = {}, options = {}) {
      const client = await ops.connect(url, options);
      const adapter = ops.adapter(client, settings);
      return {
        adapter,
        async close() {
          await adapter.close();
          await ops.close(client);
        },
        async destroy() {
          await ops.destroy(client);
          await adapter.close();
        },
        isReady: () => ops.isReady(client),
        isEnded: () => ops.isEnded(client),
        clientId: () => ops.clientId(client),
      };
    },
  };
}

function ioRedisKind(
  name: string,
  make: (url: string, options: Record<string, unknown>) => RawRedisClient,
): RedisClientKind {
  return clientKind({
    name,
    adapterName: "IoRedisAdapter",
    family: "ioredis",
    resends: true,
    closedError: /Connection is closed/,
  }, {
    async connect(url, { failFast = false, noReconnect = false, reconnectMs, keyPrefix, giveUp }) {
      const client = make(url, {
        ...(failFast
          ? { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 }
          : {}),
        ...(reconnectMs === undefined ? {} : { retryStrategy: () => reconnectMs }),
        ...(noReconnect ? { retryStrategy: () => null } : {}),
        ...(giveUp === undefined
          ? {}
          : { retryStrategy: () => giveUp() ? null : reconnectMs ?? 50 }),
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
      });
      client.on("error", () => {});
      await waitUntil("the client to connect", () => client.status === "ready");
      return client;
    },
    adapter: (client, settings) => new IoRedisAdapter({ client, ...settings }),
    async close(client) {
      if (client.status === "end") return;
      await client.quit().catch(() => client.disconnect());
    },
    destroy: async (client) => client.disconnect(),
    isReady: (client) => client.status === "ready",
    isEnded: (client) => client.status === "end",
    clientId: async (client) => Number(await client.client("ID")),
  });
}

function nodeRedisKind(
  name: string,
  make: (options: Record<string, unknown>) => RawRedisClient,
  extra: Record<string, unknown> = {},
): RedisClientKind {
  const destroy = async (client: RawRedisClient) => {
    if (client.isOpen) await (client.destroy ?? client.disconnect).call(client);
  };
  return clientKind({
    name,
    adapterName: "NodeRedisAdapter",
    family: "node-redis",
    resends: false,
    closedError: /The client is closed/,
  }, {
    async connect(url, { failFast = false, noReconnect = false, reconnectMs, keyPrefix, giveUp }) {
      if (keyPrefix !== undefined) throw new Error("node-redis has no keyPrefix");
      const reconnectStrategy = noReconnect
        ? false
        : giveUp !== undefined
        ? () => giveUp() ? new Error("the test stops reconnects") : reconnectMs ?? 50
        : reconnectMs !== undefined
        ? () => reconnectMs
        : failFast
        ? () => 50
        : undefined;
      const client = make({
        url,
        ...extra,
        ...(failFast ? { disableOfflineQueue: true } : {}),
        ...(reconnectStrategy === undefined ? {} : { socket: { reconnectStrategy } }),
      });
      client.on("error", () => {});
      await client.connect();
      return client;
    },
    adapter: (client, settings) => new NodeRedisAdapter({ client, ...settings }),
    async close(client) {
      if (!client.isOpen) return;
      try {
        await (client.close ?? client.quit).call(client);
      } catch {
        await destroy(client);
      }
    },
    destroy,
    isReady: (client) => client.isReady,
    isEnded: (client) => !client.isOpen,
    clientId: async (client) => Number(await client.sendCommand(["CLIENT", "ID"])),
  });
}

// GLIDE logs a server error reply (NoScriptError after SCRIPT FLUSH) as a
// warning on stdout; the tests provoke them on purpose.
Logger.setLoggerConfig("error");

/**
 * Valkey GLIDE: a standalone `GlideClient`. GLIDE reconnects by itself for
 * ever and has no public connection state, no key prefix and no way to give
 * up reconnecting, so the fault options it cannot honour throw.
 */
function glideKind(name: string, extra: Record<string, unknown> = {}): RedisClientKind {
  const closed = (client: RawRedisClient) => client.isClosed === true;
  return clientKind({
    name,
    adapterName: "GlideAdapter",
    family: "glide",
    resends: false,
    closedError: /closed/i,
  }, {
    async connect(url, { failFast = false, noReconnect, reconnectMs, keyPrefix, giveUp }) {
      if (keyPrefix !== undefined || noReconnect || giveUp !== undefined) {
        throw new Error("GLIDE has no keyPrefix and always reconnects");
      }
      const { hostname, port } = new URL(url);
      return await GlideClient.createClient({
        addresses: [{ host: hostname, port: Number(port || 6379) }],
        ...extra,
        ...(failFast ? { requestTimeout: 300 } : {}),
        ...(reconnectMs === undefined
          ? {}
          : { connectionBackoff: { numberOfRetries: 1, factor: reconnectMs, exponentBase: 1 } }),
      });
    },
    adapter: (client, settings) => new GlideAdapter({ client, ...settings }),
    close: async (client) => {
      if (!closed(client)) client.close();
    },
    destroy: async (client) => {
      if (!closed(client)) client.close();
    },
    isReady: (client) => !closed(client),
    isEnded: closed,
    clientId: async (client) => Number(await client.customCommand(["CLIENT", "ID"])),
  });
}

/** Resolves once `check()` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 5000) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** ioredis 5, the default client of the Redis suites. */
export const IOREDIS_5: RedisClientKind = ioRedisKind(
  "ioredis 5",
  (url, options) => new Redis(url, options),
);
/** node-redis 6, RESP2. */
export const NODE_REDIS_6: RedisClientKind = nodeRedisKind(
  "node-redis 6",
  (options) => createClient(options),
);

/** node-redis 4. */
export const NODE_REDIS_4: RedisClientKind = nodeRedisKind(
  "node-redis 4",
  (options) => createClient4(options),
);

/** Valkey GLIDE 2, a standalone client. */
export const GLIDE: RedisClientKind = glideKind("valkey-glide 2");

/** Valkey GLIDE 2 whose replies and messages come as bytes. */
export const GLIDE_BYTES: RedisClientKind = glideKind("valkey-glide 2, Decoder.Bytes", {
  defaultDecoder: Decoder.Bytes,
});

/** Every client the Redis suites run with. */
export const REDIS_CLIENTS: readonly RedisClientKind[] = [
  IOREDIS_5,
  ioRedisKind("ioredis 6", (url, options) => new Redis6(url, options)),
  ioRedisKind("iovalkey", (url, options) => new Valkey(url, options)),
  NODE_REDIS_6,
  nodeRedisKind(
    "node-redis 6, RESP3",
    (options) => createClient(options),
    { RESP: 3 },
  ),
  NODE_REDIS_4,
  GLIDE,
  GLIDE_BYTES,
];

/** One client of each family, for suites whose outcome the major version cannot change. */
export const REDIS_FAMILIES: readonly RedisClientKind[] = [IOREDIS_5, NODE_REDIS_6, GLIDE];

/**
 * An AdapterBackend over one client kind: every `connect()` opens a new
 * client (its own connection) to `url`; `close()` closes them all. Fails
 * loudly if the server does not answer.
 */
export async function openRedisBackend(
  kind: RedisClientKind,
  url: string,
  settings: RedisAdapterSettings = {},
): Promise<AdapterBackend> {
  await assertRedisReachable(url);
  const opened: Promise<OpenedRedisClient>[] = [];
  return {
    async connect() {
      const client = kind.open(url, settings);
      opened.push(client);
      return (await client).adapter;
    },
    async close(): Promise<void> {
      const clients = await Promise.all(opened.splice(0));
      await Promise.all(clients.map((client) => client.close()));
    },
  };
}

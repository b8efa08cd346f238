// Copyright 2026 the locco authors. MIT license.
// The lock store of a chaos run, which the faults hit: a private redis-server,
// the jongodb MongoDB stand-in (or MONGODB_URL), a private Redis Cluster of
// 6 redis-server processes (3 masters, 3 replicas; tests/_redis_cluster.ts),
// or a Deno KV file database in a temporary directory.
// Everything listens on 127.0.0.1 and is stopped by pid. The harness talks to
// it here directly, never through the fault proxy: to restart it, to kill
// its pub/sub connections, and (Cluster) to kill a master or fail it over.

import { rawCommand, RedisServer } from "../../tests/_redis_server.ts";
import { parseClusterNodes, RedisCluster, respCommand } from "../../tests/_redis_cluster.ts";
import { startJongodb } from "../../tests/_jongodb.ts";
import { startPostgresStore } from "./_store_postgres.ts";
import { tempKvPath } from "../../tests/_kv.ts";

/** See {@linkcode LockStore.waiterState}. */
export type WaiterState = "queued" | "handed the key" | "not queued";

/** Which lock store a run uses. */
export type Backend = "redis" | "mongo" | "cluster" | "postgres" | "kv";

/** A running lock store. */
export interface LockStore {
  /** What the report calls it. */
  description: string;
  /** Where the fault proxy forwards to (not used on Cluster, which has no proxy). */
  port: number;
  /** The workers' URL when they connect through a proxy on `proxyPort`. */
  url(proxyPort: number): string;
  /** Restarts the store with an empty dataset; resolves the port it listens on now. */
  restart?(): Promise<number>;
  /** `CLIENT KILL TYPE pubsub` on every node; resolves how many connections it killed. */
  killPubsub?(): Promise<number>;
  /**
   * Where a waiter with `uniqueValue` stands for lock key `key` of a client
   * with `keyPrefix` in IoRedisAdapter's Redis state: in the key's waiter
   * queue, handed the key (the release popped it from the queue), or neither.
   */
  waiterState?(keyPrefix: string, key: string, uniqueValue: string): Promise<WaiterState>;
  /** The Cluster, for the Cluster faults. */
  cluster?: RedisCluster;
  /** `pg_terminate_backend` of every connection of the run; resolves how many it ended. */
  terminate?(): Promise<number>;
  /** The store keeps its data across `restart()` (PostgreSQL): an overlap across it is a violation. */
  durable?: boolean;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Where IoRedisAdapter keeps the waiter queue of lock key `key` sent by a
// client with `keyPrefix` (src/adapters/_redis_core.ts, companion()): next to
// the key, in its Cluster slot; ioredis puts its prefix before either form.
function queueKey(keyPrefix: string, key: string): string {
  const full = keyPrefix + key;
  const open = full.indexOf("{");
  const close = open < 0 ? -1 : full.indexOf("}", open + 1);
  return close > open + 1 ? `${full}:waiters` : `${keyPrefix}{${full}}:waiters`;
}

// The value of a key handed off to a waiter, before its unique value
// (HANDOFF_MARKER of src/adapters/_redis_scripts.ts).
const HANDOFF_MARKER = "\0locco-handoff\0";

async function waiterState(
  port: number,
  keyPrefix: string,
  key: string,
  uniqueValue: string,
): Promise<WaiterState> {
  const queue = await respCommand(port, ["LRANGE", queueKey(keyPrefix, key), "0", "-1"]);
  if (Array.isArray(queue) && queue.some((e) => String(e).endsWith(`\n${uniqueValue}`))) {
    return "queued";
  }
  const value = await respCommand(port, ["GET", keyPrefix + key]);
  return value === HANDOFF_MARKER + uniqueValue ? "handed the key" : "not queued";
}

function killedCount(reply: unknown): number {
  const text = String(reply);
  const count = Number(text.startsWith(":") ? text.slice(1) : text);
  return Number.isFinite(count) ? count : 0;
}

/** Starts the lock store of `backend`; `mongodbUrl` is MONGODB_URL, if set. */
export async function startLockStore(
  backend: Backend,
  mongodbUrl: string | undefined,
  runId = "",
): Promise<LockStore> {
  if (backend === "postgres") return await startPostgresStore(runId);
  if (backend === "redis") {
    const server = await RedisServer.start();
    return {
      description: "Redis (private redis-server)",
      port: server.port,
      url: (p) => `redis://127.0.0.1:${p}`,
      async restart() {
        await server.stop();
        await sleep(200);
        await server.restart();
        return server.port;
      },
      killPubsub: async () => killedCount(await rawCommand(server.url, "CLIENT KILL TYPE pubsub")),
      waiterState: (keyPrefix, key, uniqueValue) =>
        waiterState(server.port, keyPrefix, key, uniqueValue),
      stop: () => server.stop(),
    };
  }
  if (backend === "cluster") {
    const cluster = await RedisCluster.start({ replicas: 1 });
    return {
      description: "Redis Cluster (6 private redis-server: 3 masters, 3 replicas)",
      port: 0,
      url: () => "",
      async killPubsub() {
        let killed = 0;
        for (const node of cluster.nodes) {
          if (node.pid === undefined) continue;
          killed += killedCount(
            await cluster.command(node.port, "CLIENT", "KILL", "TYPE", "pubsub").catch(() => 0),
          );
        }
        return killed;
      },
      async waiterState(keyPrefix, key, uniqueValue) {
        const { port } = await cluster.masterOf(keyPrefix + key);
        return waiterState(port, keyPrefix, key, uniqueValue);
      },
      cluster,
      stop: () => cluster.stop(),
    };
  }
  if (backend === "kv") {
    const { path, remove } = tempKvPath();
    return {
      description: "Deno KV (a file database shared by the worker processes)",
      port: 0,
      url: () => path,
      stop: () => Promise.resolve(remove()),
    };
  }
  if (mongodbUrl !== undefined) {
    const url = new URL(mongodbUrl);
    return {
      description: "MongoDB (MONGODB_URL)",
      port: Number(url.port || 27017),
      url: (p) => {
        const through = new URL(mongodbUrl);
        through.hostname = "127.0.0.1";
        through.port = String(p);
        return through.toString();
      },
      stop: () => Promise.resolve(),
    };
  }
  let server = await startJongodb();
  const portOf = (uri: string) => Number(new URL(uri).port);
  return {
    description: "MongoDB stand-in (jongodb)",
    port: portOf(server.uri),
    url: (p) => `mongodb://127.0.0.1:${p}/chaos`,
    async restart() {
      await server.stop();
      await sleep(200);
      server = await startJongodb();
      return portOf(server.uri);
    },
    stop: () => server.stop(),
  };
}

/**
 * `count` lock keys named `chaos:<runId>:k<i>`, chosen so that the first
 * ones (up to one per master) hash to slots of different masters, once the
 * client's `keyPrefix` is put before them: a master fault then hits some
 * keys and not others.
 */
export async function pickClusterKeys(
  cluster: RedisCluster,
  runId: string,
  count: number,
  keyPrefix: string,
): Promise<string[]> {
  const port = cluster.nodes[0]!.port;
  const view = parseClusterNodes(String(await cluster.command(port, "CLUSTER", "NODES")));
  const masters = view.filter((node) => node.flags.includes("master") && node.slots.length > 0);
  const used = new Set<number>();
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `chaos:${runId}:k${i}`;
    const slot = await cluster.slotOf(keyPrefix + key);
    const owner = masters.find((m) =>
      m.slots.some(([first, last]) => first <= slot && slot <= last)
    );
    if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
    if (used.has(owner.port) && used.size < masters.length && i < 1000) continue;
    used.add(owner.port);
    keys.push(key);
  }
  return keys;
}

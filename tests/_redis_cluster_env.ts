// Copyright 2026 the locco authors. MIT license.
// Clients and adapters of both Redis client families on the real Redis Cluster
// of tests/cluster/, and what those tests ask the nodes.

import { Cluster, type ClusterOptions } from "ioredis";
import { createCluster } from "redis";
import { createCluster as createCluster4 } from "redis4";
import { GlideClusterClient, Logger } from "@valkey/valkey-glide";
import {
  GlideAdapter,
  IoRedisAdapter,
  type IoRedisLikeClient,
  NodeRedisAdapter,
} from "@kontsedal/locco/redis";
import type { AdapterBackend } from "./_adapter_contract.ts";
import type { RedisCluster } from "./_redis_cluster.ts";

// Without the ready check: ioredis answers a quit() during its ready check
// with a 2 s disconnect timer of its own, which outlives the test.
export function connect(nodes: RedisCluster, options: ClusterOptions = {}): Cluster {
  const client = new Cluster(nodes.startupNodes, {
    ...options,
    redisOptions: { connectTimeout: 1000, enableReadyCheck: false, ...options.redisOptions },
  });
  client.on("error", () => {});
  return client;
}

/** A node-redis Cluster client (6, or 4), connected. */
export async function connectNodeRedis(nodes: RedisCluster, major: 4 | 6) {
  const rootNodes = nodes.startupNodes.map(({ host, port }) => ({
    url: `redis://${host}:${port}`,
  }));
  const client = major === 6 ? createCluster({ rootNodes }) : createCluster4({ rootNodes });
  client.on("error", () => {});
  await client.connect();
  return client as unknown as ReturnType<typeof createCluster>;
}

/** The client families the cluster suites run with ("node-redis" is 6). */
export type Family = "ioredis" | "node-redis" | "node-redis 4" | "glide";
export const FAMILIES: Family[] = ["ioredis", "node-redis"];
export const ADAPTER_NAME = {
  "ioredis": "IoRedisAdapter",
  "node-redis": "NodeRedisAdapter",
  "node-redis 4": "NodeRedisAdapter (node-redis 4)",
  "glide": "GlideAdapter",
} as const;

/** Clients and adapters opened by one test, all closed by `close()`. */
export class ClusterEnv implements AdapterBackend {
  readonly adapters: Array<IoRedisAdapter | NodeRedisAdapter | GlideAdapter> = [];
  /** The clients under `adapters`, in the same order. */
  readonly clients: object[] = [];
  readonly nodes: RedisCluster;
  readonly #family: Family;
  readonly #options: ClusterOptions;
  readonly #closers: Array<() => Promise<unknown>> = [];

  constructor(nodes: RedisCluster, family: Family = "ioredis", options: ClusterOptions = {}) {
    this.nodes = nodes;
    this.#family = family;
    this.#options = options;
  }

  async connect(): Promise<IoRedisAdapter | NodeRedisAdapter | GlideAdapter> {
    let adapter: IoRedisAdapter | NodeRedisAdapter | GlideAdapter;
    if (this.#family === "glide") {
      Logger.setLoggerConfig("error");
      const client = await GlideClusterClient.createClient({
        addresses: this.nodes.startupNodes,
      });
      this.#closers.push(async () => client.close());
      adapter = new GlideAdapter({ client });
      this.clients.push(client);
    } else if (this.#family !== "ioredis") {
      const v4 = this.#family === "node-redis 4";
      const client = await connectNodeRedis(this.nodes, v4 ? 4 : 6);
      const raw = client as unknown as Record<string, () => Promise<unknown>>;
      this.#closers.push(() =>
        (v4 ? raw.quit!() : client.close()).catch(() => v4 ? raw.disconnect!() : client.destroy())
      );
      adapter = new NodeRedisAdapter({ client });
      this.clients.push(client);
    } else {
      const client = connect(this.nodes, this.#options);
      this.#closers.push(() => client.quit().catch(() => {}));
      adapter = new IoRedisAdapter({ client: client as unknown as IoRedisLikeClient });
      this.clients.push(client);
    }
    this.adapters.push(adapter);
    return adapter;
  }

  async close(): Promise<void> {
    await Promise.all(this.adapters.splice(0).map((adapter) => adapter.close()));
    await Promise.all(this.#closers.splice(0).map((close) => close()));
  }
}

/** The ports of the live nodes that have a pub/sub client connected. */
export async function subscriberNodes(nodes: RedisCluster): Promise<number[]> {
  const ports: number[] = [];
  for (const node of nodes.nodes) {
    if (node.pid === undefined) continue;
    const list = String(await nodes.command(node.port, "CLIENT", "LIST", "TYPE", "pubsub"));
    if (list.trim() !== "") ports.push(node.port);
  }
  return ports;
}

/** The ports of the live masters. */
export async function masterPorts(nodes: RedisCluster): Promise<number[]> {
  const ports: number[] = [];
  for (const node of nodes.nodes) {
    if (node.pid === undefined) continue;
    const role = await nodes.command(node.port, "ROLE");
    if (Array.isArray(role) && String(role[0]) === "master") ports.push(node.port);
  }
  return ports;
}

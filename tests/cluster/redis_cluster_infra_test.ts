// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import process from "node:process";
import { Cluster } from "ioredis";
import { delay, uniqueKey } from "../_helpers.ts";
import { rawCommand } from "../_redis_server.ts";
import { RedisCluster } from "../_redis_cluster.ts";

function connect(cluster: RedisCluster): Cluster {
  const client = new Cluster(cluster.startupNodes, { redisOptions: { connectTimeout: 1000 } });
  client.on("error", () => {});
  return client;
}

async function getEventually(client: Cluster, key: string, timeoutMs = 10000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const value = await client.get(key);
      if (value !== null) return value;
    } catch (error) {
      if (performance.now() > deadline) throw error;
    }
    if (performance.now() > deadline) throw new Error(`${key} stayed missing for ${timeoutMs} ms`);
    await delay(50);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

Deno.test("RedisCluster.start() creates 3 masters with 1 replica each that an ioredis Cluster serves", async () => {
  const cluster = await RedisCluster.start();
  const client = connect(cluster);
  try {
    assert.equal(cluster.nodes.length, 6);
    assert.equal(new Set(cluster.nodes.map((node) => node.pid)).size, 6);
    assert.deepEqual(
      cluster.startupNodes,
      cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
    );
    const keys = Array.from({ length: 12 }, () => uniqueKey("infra"));
    for (const key of keys) await client.set(key, `value of ${key}`);
    const masters = new Set<number>();
    for (const key of keys) {
      assert.equal(await client.get(key), `value of ${key}`);
      const master = await cluster.masterOf(key);
      masters.add(master.port);
      assert.equal(await cluster.command(master.port, "GET", key), `value of ${key}`);
      const replica = await cluster.replicaOf(master.port);
      assert.notEqual(replica.port, master.port);
      await assert.rejects(cluster.command(replica.port, "GET", key), /MOVED /);
    }
    assert.equal(masters.size, 3);
  } finally {
    await client.quit();
    await cluster.stop();
  }
});

Deno.test("RedisCluster.kill() of a key's master lets its replica take over the key and restart() brings the old master back as a replica", async () => {
  const cluster = await RedisCluster.start();
  const client = connect(cluster);
  try {
    const key = uniqueKey("infra");
    await client.set(key, "before the crash");
    const master = await cluster.masterOf(key);
    const replica = await cluster.replicaOf(master.port);
    await cluster.waitForReplication();

    await cluster.kill(master.port);
    assert.equal(isAlive(master.pid), false);
    assert.equal(cluster.nodes.find((node) => node.port === master.port)?.pid, undefined);
    await cluster.waitForState(false);
    await cluster.waitForPromotion(replica.port);
    await cluster.waitForState(true);

    assert.equal((await cluster.masterOf(key)).port, replica.port);
    assert.equal(await getEventually(client, key), "before the crash");
    await client.set(key, "after the crash");

    await cluster.restart(master.port);
    assert.equal((await cluster.replicaOf(replica.port)).port, master.port);
    assert.equal((await cluster.masterOf(key)).port, replica.port);
    assert.equal(await client.get(key), "after the crash");
  } finally {
    await client.quit();
    await cluster.stop();
  }
});

Deno.test("RedisCluster.failover() makes a replica the master of its slots and demotes the old master", async () => {
  const cluster = await RedisCluster.start();
  const client = connect(cluster);
  try {
    const key = uniqueKey("infra");
    await client.set(key, "before the failover");
    const master = await cluster.masterOf(key);
    const replica = await cluster.replicaOf(master.port);

    await cluster.failover(replica.port);

    assert.equal((await cluster.masterOf(key)).port, replica.port);
    assert.equal((await cluster.replicaOf(replica.port)).port, master.port);
    assert.equal(await getEventually(client, key), "before the failover");
    await client.set(key, "after the failover");
    assert.equal(await cluster.command(replica.port, "GET", key), "after the failover");
  } finally {
    await client.quit();
    await cluster.stop();
  }
});

Deno.test("RedisCluster.stop() kills every node and frees its port", async (t) => {
  for (const replicas of [0, 1]) {
    await t.step(`with ${replicas} replicas per master`, async () => {
      const cluster = await RedisCluster.start({ replicas });
      const nodes = cluster.nodes;
      assert.equal(nodes.length, 3 * (1 + replicas));
      await cluster.stop();
      for (const node of nodes) {
        assert.equal(isAlive(node.pid!), false);
        await assert.rejects(rawCommand(node.url, "PING", 500));
      }
    });
  }
});

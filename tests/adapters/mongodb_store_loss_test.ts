// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { createConnection, createServer, type Socket } from "node:net";
import { MongoClient } from "mongodb";
import { LockCreateError } from "@kontsedal/locco";
import {
  MongoAdapter,
  type MongoLikeClient,
  type MongoLikeCollection,
} from "@kontsedal/locco/mongodb";
import { uniqueKey } from "../_helpers.ts";
import { type Jongodb, startJongodb } from "../_jongodb.ts";

/** A loopback forwarder whose upstream can be switched, so a restarted server keeps its address. */
async function forwarder(port: number): Promise<{
  url: string;
  switchTo(port: number): void;
  close(): Promise<void>;
}> {
  let upstreamPort = port;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const listening = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `mongodb://127.0.0.1:${listening}/test`,
    switchTo(next: number): void {
      upstreamPort = next;
      for (const socket of sockets) socket.destroy();
    },
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The client, except that createIndex does nothing: the indexes are lost right after each build. */
function withoutIndexes(client: MongoClient): MongoLikeClient {
  const inner = client as unknown as MongoLikeClient;
  return {
    db(dbName?: string) {
      return {
        collection(name: string): MongoLikeCollection {
          const collection = inner.db(dbName).collection(name);
          return {
            createIndex: () => Promise.resolve("lost"),
            updateOne: (filter, update, options) => collection.updateOne(filter, update, options),
            deleteOne: (filter) => collection.deleteOne(filter),
            findOne: (filter, options) => collection.findOne(filter, options),
          };
        },
      };
    },
  };
}

Deno.test("MongoAdapter.createLock() keeps a key exclusive after the server restarted without its data", async () => {
  const servers: Jongodb[] = [await startJongodb()];
  const proxy = await forwarder(Number(new URL(servers[0]!.uri).port));
  const options = { directConnection: true, maxPoolSize: 1, serverSelectionTimeoutMS: 2000 };
  const clients = [new MongoClient(proxy.url, options), new MongoClient(proxy.url, options)];
  try {
    const [a, b] = clients.map((client) =>
      new MongoAdapter({ client: client as unknown as MongoLikeClient })
    );
    const before = uniqueKey();
    await a!.createLock({ key: before, uniqueValue: "a", ttl: 5000 });
    await assert.rejects(
      b!.createLock({ key: before, uniqueValue: "b", ttl: 5000 }),
      LockCreateError,
    );

    await servers[0]!.stop();
    servers.push(await startJongodb());
    proxy.switchTo(Number(new URL(servers[1]!.uri).port));

    const after = uniqueKey();
    await a!.createLock({ key: after, uniqueValue: "a", ttl: 5000 }).catch(() =>
      a!.createLock({ key: after, uniqueValue: "a", ttl: 5000 })
    );
    await assert.rejects(
      b!.createLock({ key: after, uniqueValue: "b", ttl: 5000 }),
      LockCreateError,
    );
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await proxy.close();
    for (const server of servers) await server.stop();
  }
});

Deno.test("MongoAdapter.createLock() repairs duplicates that keep the unique index from being built", async () => {
  const server = await startJongodb();
  const client = new MongoClient(server.uri, { directConnection: true, maxPoolSize: 1 });
  try {
    const dbName = `locco-repair-${crypto.randomUUID().slice(0, 8)}`;
    const locks = client.db(dbName).collection("locco-locks");
    const key = uniqueKey();
    const past = new Date(Date.now() - 60_000);
    await locks.insertOne({ key, uniqueValue: "orphan", expireAt: past, fence: 1, fenceBase: 0 });
    await locks.insertOne({ key, expireAt: new Date(Date.now() + 60_000), fence: 2, fenceBase: 0 });
    const adapter = new MongoAdapter({ client: client as unknown as MongoLikeClient, dbName });
    await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await assert.rejects(adapter.createLock({ key, uniqueValue: "b", ttl: 5000 }), LockCreateError);
    const indexes = await locks.listIndexes().toArray();
    assert.ok(
      indexes.some((index) => index.unique === true && JSON.stringify(index.key) === '{"key":1}'),
    );
    assert.equal(await locks.countDocuments({ key }), 1);
  } finally {
    await client.close();
    await server.stop();
  }
});

Deno.test("MongoAdapter.createLock() never makes a second live holder by taking over an expired duplicate while the unique index is missing", async () => {
  const server = await startJongodb();
  const client = new MongoClient(server.uri, { directConnection: true, maxPoolSize: 1 });
  try {
    const dbName = `locco-takeover-${crypto.randomUUID().slice(0, 8)}`;
    const locks = client.db(dbName).collection("locco-locks");
    const key = uniqueKey();
    const past = new Date(Date.now() - 60_000);
    await locks.insertOne({ key, uniqueValue: "orphan", expireAt: past, fence: 1, fenceBase: 0 });
    await locks.insertOne({
      key,
      uniqueValue: "b",
      expireAt: new Date(Date.now() + 60_000),
      fence: 1,
      fenceBase: 0,
    });
    const adapter = new MongoAdapter({ client: withoutIndexes(client), dbName });
    await assert.rejects(adapter.createLock({ key, uniqueValue: "a", ttl: 5000 }), LockCreateError);
    assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), false);
    assert.equal(await adapter.isValidLock({ key, uniqueValue: "b" }), true);
  } finally {
    await client.close();
    await server.stop();
  }
});

Deno.test("MongoAdapter.createLock() keeps fences growing when the index repair deletes a released duplicate", async () => {
  const server = await startJongodb();
  const client = new MongoClient(server.uri, { directConnection: true, maxPoolSize: 1 });
  try {
    const dbName = `locco-repair-fence-${crypto.randomUUID().slice(0, 8)}`;
    const locks = client.db(dbName).collection("locco-locks");
    const key = uniqueKey();
    const start = Date.now();
    const holder = new MongoAdapter({ client: withoutIndexes(client), dbName, now: () => start });
    const first = await holder.createLock({ key, uniqueValue: "a", ttl: 10 });
    await holder.releaseLock({ key, uniqueValue: "a" });
    await locks.insertOne({ key, expireAt: new Date(start - 60_000), fence: 1, fenceBase: 0 });
    const behind = new MongoAdapter({
      client: client as unknown as MongoLikeClient,
      dbName,
      now: () => start + 11 - 40,
    });
    const second = await behind.createLock({ key, uniqueValue: "b", ttl: 10 });
    assert.ok(second.fence! > first.fence!, `${first.fence} then ${second.fence}`);
    assert.equal(await locks.countDocuments({ key }), 1);
  } finally {
    await client.close();
    await server.stop();
  }
});

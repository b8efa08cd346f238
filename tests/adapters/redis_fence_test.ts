// Copyright 2026 the locco authors. MIT license.
// Fencing tokens of the Redis adapter: strictly increasing across releases,
// expiries, a deleted counter and a restart without persistence; the counter
// key shares the lock key's Redis Cluster slot. (Across OS processes:
// fence_process_test.ts.)

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { ILockAdapter } from "@kontsedal/locco";
import { REDIS_FAMILIES, waitUntil } from "../_redis_clients.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { assertRedisReachable, REDIS_URL, RedisServer } from "../_redis_server.ts";

/** CRC16/XMODEM, which Redis Cluster uses for key slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The Redis Cluster slot of a key (hash tags included), as `CLUSTER KEYSLOT` computes it. */
function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(new TextEncoder().encode(key)) % 16384;
}

async function fenceOf(adapter: ILockAdapter, key: string, uniqueValue: string, ttl = 5000) {
  const grant = await adapter.createLock({ key, uniqueValue, ttl });
  const fence = grant?.fence;
  assert.ok(Number.isSafeInteger(fence) && fence! > 0, `fence ${fence}`);
  return fence!;
}

Deno.test("keySlot (test helper) matches Redis Cluster's published slots", () => {
  // CRC16/XMODEM check value, and slots that CLUSTER KEYSLOT answers.
  assert.equal(crc16(new TextEncoder().encode("123456789")), 0x31c3);
  assert.equal(keySlot("foo"), 12182);
  assert.equal(keySlot("bar"), 5061);
  assert.equal(keySlot("{user1000}.following"), keySlot("user1000"));
  assert.equal(keySlot("foo{}{bar}"), keySlot("foo{}{bar}"));
  assert.notEqual(keySlot("foo{}{bar}"), keySlot("bar"));
});

for (const kind of REDIS_FAMILIES) {
  Deno.test(`${kind.adapterName}.createLock() keeps the fence counter in the lock key's Cluster slot (${kind.name})`, async () => {
    await assertRedisReachable();
    const admin = new Redis(REDIS_URL);
    try {
      const id = crypto.randomUUID();
      const cases = [
        { prefix: "", key: `locco-test:plain:${id}` },
        { prefix: "locco-test:", key: `user:${id}` },
        { prefix: `locco-test:{${id}}:`, key: "orders:42" },
        { prefix: "", key: `locco-test:{tag-${id}}:x` },
        { prefix: "", key: `locco-test:{${id}` },
        // Not covered: a key with "}" but no valid tag, such as "a{}b" or "{}{x}"
        // (documented on IoRedisAdapter: Cluster answers CROSSSLOT there).
      ];
      for (const { prefix, key } of cases) {
        const opened = await kind.open(REDIS_URL, { prefix });
        await opened.adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
        await opened.close();
        const fullKey = prefix + key;
        const fenceKeys = (await admin.keys(`*${id}*fence*`)).filter((k) => k !== fullKey);
        assert.equal(fenceKeys.length, 1, JSON.stringify({ fullKey, fenceKeys }));
        const fenceKey = fenceKeys[0]!;
        assert.equal(keySlot(fenceKey), keySlot(fullKey), `${fenceKey} vs ${fullKey}`);
        const ttl = await admin.pttl(fenceKey);
        assert.ok(ttl > 6 * 24 * 3600_000, `fence key pttl ${ttl}`);
        await admin.del(fullKey, fenceKey);
      }
    } finally {
      await admin.quit();
    }
  });
}

for (const kind of REDIS_FAMILIES) {
  Deno.test(`${kind.adapterName}.createLock() issues strictly increasing fences across release, expiry and a deleted counter (${kind.name})`, async () => {
    await assertRedisReachable();
    const opened = await kind.open(REDIS_URL);
    const client = new Redis(REDIS_URL);
    try {
      const adapter = opened.adapter;
      const key = uniqueKey();
      const fences: number[] = [];
      fences.push(await fenceOf(adapter, key, "a"));
      await adapter.releaseLock({ key, uniqueValue: "a" });
      fences.push(await fenceOf(adapter, key, "b"));
      await adapter.releaseLock({ key, uniqueValue: "b" });
      fences.push(await fenceOf(adapter, key, "c", 30));
      await delay(60); // expires
      fences.push(await fenceOf(adapter, key, "d"));
      await client.del(key, `{${key}}:fence`); // lock and counter both gone
      fences.push(await fenceOf(adapter, key, "e"));
      await client.del(key);
      await client.set(`{${key}}:fence`, "5"); // a counter that went backwards
      fences.push(await fenceOf(adapter, key, "f"));
      for (let i = 1; i < fences.length; i++) {
        assert.ok(fences[i]! > fences[i - 1]!, JSON.stringify(fences));
      }
      // Back to back on a live counter, the token grows by one.
      await adapter.releaseLock({ key, uniqueValue: "f" });
      await client.set(`{${key}}:fence`, String(fences.at(-1)! + 1_000_000_000));
      assert.equal(await fenceOf(adapter, key, "g"), fences.at(-1)! + 1_000_000_001);
      await client.del(key, `{${key}}:fence`);
    } finally {
      await Promise.all([opened.close(), client.quit()]);
    }
  });

  Deno.test(`${kind.adapterName}.createLock() issues larger fences after a restart of Redis without persistence (${kind.name})`, async () => {
    const server = await RedisServer.start();
    const opened = await kind.open(server.url);
    const client = new Redis(server.url, { maxRetriesPerRequest: 20 });
    client.on("error", () => {});
    try {
      const adapter = opened.adapter;
      let last = 0;
      for (let i = 0; i < 50; i++) {
        const fence = await fenceOf(adapter, "k", `a${i}`);
        assert.ok(fence > last);
        last = fence;
        await adapter.releaseLock({ key: "k", uniqueValue: `a${i}` });
      }
      await server.stop();
      await server.restart();
      assert.equal(await client.exists("{k}:fence"), 0, "the restart emptied the dataset");
      await waitUntil("the client to reconnect", () => opened.isReady());
      const afterRestart = await fenceOf(adapter, "k", "b");
      assert.ok(afterRestart > last, `${afterRestart} <= ${last}`);
    } finally {
      await opened.destroy();
      client.disconnect();
      await server.stop();
    }
  });
}

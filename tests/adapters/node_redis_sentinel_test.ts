// Copyright 2026 the locco authors. MIT license.
// NodeRedisAdapter over a node-redis 6 Sentinel client (`createSentinel`):
// a private redis-server primary watched by a private Sentinel, both
// started once for the file on free loopback ports and stopped by pid. The
// adapter contract, and a waiter woken by the release through the
// subscriber the adapter made with the Sentinel client's `duplicate()`.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createSentinel } from "redis";
import { Locker, NodeRedisAdapter } from "@kontsedal/locco";
import { type AdapterBackend, testAdapterContract } from "../_adapter_contract.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { freePort, rawCommand, RedisServer } from "../_redis_server.ts";

const MASTER_NAME = "locco-test";

/** A primary and one Sentinel watching it. */
class SentinelSetup {
  readonly primary: RedisServer;
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #dir: string;

  constructor(primary: RedisServer, port: number, child: ChildProcess, dir: string) {
    this.primary = primary;
    this.port = port;
    this.#child = child;
    this.#dir = dir;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  static async start(): Promise<SentinelSetup> {
    const primary = await RedisServer.start();
    const port = await freePort();
    // Sentinel rewrites its configuration file, so it gets one of its own.
    const dir = mkdtempSync(join(tmpdir(), "locco-sentinel-"));
    const config = join(dir, "sentinel.conf");
    writeFileSync(
      config,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 5000`,
        "",
      ].join("\n"),
    );
    const child = spawn("redis-server", [config, "--sentinel"], { stdio: "ignore" });
    const setup = new SentinelSetup(primary, port, child, dir);
    const deadline = performance.now() + 5000;
    while (performance.now() < deadline) {
      try {
        const reply = await rawCommand(
          `redis://127.0.0.1:${port}`,
          `SENTINEL get-master-addr-by-name ${MASTER_NAME}`,
          500,
        );
        if (reply.startsWith("*2")) return setup;
      } catch {
        // not listening yet
      }
      await delay(20);
    }
    await setup.stop();
    throw new Error(`redis-server --sentinel did not start on port ${port}`);
  }

  /** A connected node-redis 6 Sentinel client. */
  async client() {
    const client = createSentinel({
      name: MASTER_NAME,
      sentinelRootNodes: [{ host: "127.0.0.1", port: this.port }],
    });
    client.on("error", () => {});
    await client.connect();
    return client;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.pid !== undefined) {
      try {
        process.kill(this.#child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await this.#exited;
    }
    await this.primary.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

let shared: Promise<SentinelSetup> | undefined;

// One primary and Sentinel for the whole file: started by the first test,
// stopped by the last.
function sentinel(): Promise<SentinelSetup> {
  shared ??= SentinelSetup.start();
  return shared;
}

async function sentinelBackend(
  waitStrategy: "notify" | "poll" = "notify",
): Promise<AdapterBackend> {
  const setup = await sentinel();
  const closers: Array<() => Promise<unknown>> = [];
  return {
    async connect() {
      const client = await setup.client();
      const adapter = new NodeRedisAdapter({ client, waitStrategy });
      closers.push(async () => {
        await adapter.close();
        await client.close();
      });
      return adapter;
    },
    async close() {
      await Promise.all(closers.splice(0).map((close) => close()));
    },
  };
}

Deno.test({
  name: "Sentinel and its primary for the NodeRedisAdapter Sentinel tests start",
  // The processes outlive this test on purpose: the last test of the file stops them.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const setup = await sentinel();
    assert.ok(setup.port > 0);
  },
});

// The contract polls: connecting a node-redis Sentinel client costs 100-250
// ms of CPU here, and its race tests would have 40 adapters each connect a
// subscriber (`duplicate()`, a whole Sentinel client) at once, which on 2
// cores can stretch a round of attempts past the 5 s ttl. Waiting by
// notification through a Sentinel client is checked below.
testAdapterContract(
  'NodeRedisAdapter (node-redis 6 Sentinel, waitStrategy "poll")',
  () => sentinelBackend("poll"),
);

Deno.test("NodeRedisAdapter over a Sentinel client wakes a waiter on release, long before its 5 s retry delay", async () => {
  const backend = await sentinelBackend();
  try {
    const key = uniqueKey();
    const retrySettings = { retryDelay: 5000, retryTimes: 3 };
    const held = await new Locker({ adapter: await backend.connect(), retrySettings })
      .lock(key, 30_000).acquire();
    const waiting = new Locker({ adapter: await backend.connect(), retrySettings })
      .lock(key, 1000).acquire();
    await delay(200);
    const releasedAt = performance.now();
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    const waited = performance.now() - releasedAt;
    assert.ok(waited < 1500, `the waiter took the key ${Math.round(waited)} ms after the release`);
    assert.ok(lock.fence! > held.fence!);
    await lock.release({ throwOnFail: true });
  } finally {
    await backend.close();
  }
});

Deno.test({
  name: "Sentinel and its primary for the NodeRedisAdapter Sentinel tests stop (by pid)",
  // Stops the processes the first test of the file started.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await (await sentinel()).stop();
  },
});

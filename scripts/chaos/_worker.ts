// Copyright 2026 the locco authors. MIT license.
// One chaos worker process (started by scripts/chaos/main.ts). For each
// iteration: take the lock on a random key, read the shared value (ENTER),
// wait a little, write value + 1 (WRITE, with the lock's fencing token when
// the lock has one), log how long the lease had been held, release. Errors
// are counted by class in the resource store and the iteration is retried;
// the worker gives up (exit 3) only after many failures in a row. It also
// logs when it began to wait for the key, when acquire() resolved and when
// its release completed (for the "longest wait for a free key" figure), and
// marks itself in the `waiting` hash while acquire() retries, so the harness
// can hit waiters. The adapter's waitForUnlock is passed through, so Redis
// waiters queue and are handed keys as in an application.
//
// With another primitive (config.primitive), the iteration takes instead: a
// permit of a semaphore of config.limit on the one key ("semaphore": an
// ENTER that is never refused, EXIT, no write); all of a random 2 or 3 of the
// keys ("multi": one ENTER and WRITE per key, each with that key's fence);
// the read or the write side of a read-write lock on the one key ("rw": a
// writer in WRITER_SHARE of the iterations does the fenced read-modify-write,
// a reader only reads, with an ENTER that is never refused, and EXITs). A
// primitive the adapter lacks ends the worker at once with exit code
// UNSUPPORTED_EXIT and the library's message.
//
// Usage: _worker.ts <json config>

import process from "node:process";
import { Cluster, Redis } from "ioredis";
import {
  type ILockAdapter,
  isLoccoError,
  type Lock,
  Locker,
  type ReadWriteLock,
} from "@kontsedal/locco";
import { IoRedisAdapter, NodeRedisAdapter } from "@kontsedal/locco/redis";
import { createClient, createCluster } from "redis";
import { MongoAdapter, type MongoLikeClient } from "@kontsedal/locco/mongodb";
import { openPostgresStore } from "./_worker_postgres.ts";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { openTestKv } from "../../tests/_kv.ts";
import {
  ENTER_SCRIPT,
  EVENT_SCRIPT,
  EXIT_SCRIPT,
  resourceKeys,
  WRITE_SCRIPT,
} from "./_resource.ts";
import { type Primitive, UNSUPPORTED_EXIT } from "./_primitives.ts";

/** What the harness passes to a worker. */
export interface WorkerConfig {
  runId: string;
  slot: number;
  gen: number;
  workers: number;
  iterations: number;
  backend: "redis" | "mongo" | "cluster" | "postgres" | "kv";
  /** The lock store, through the fault proxy (unused for "cluster"; the file for "kv"). */
  lockUrl: string;
  /** "cluster": the seed nodes, reached directly. */
  clusterNodes: { host: string; port: number }[];
  /** ioredis `keyPrefix` of the lock store client ("" for none). */
  keyPrefix: string;
  /** The Redis client library of the lock store client. */
  client: "ioredis" | "node-redis";
  resourceUrl: string;
  keys: string[];
  ttl: number;
  holdMs: number;
  /** false: ignore fencing tokens (control run showing what fencing adds). */
  fence: boolean;
  /** false: no lock at all (control run: the harness must report violations). */
  lock: boolean;
  /** Wait for all first-generation workers before starting. */
  barrier: boolean;
  /** What each iteration takes. */
  primitive: Primitive;
  /** "semaphore": its limit. */
  limit: number;
}

/** "rw": the share of iterations that take the write side. */
const WRITER_SHARE = 0.3;

const MAX_FAILURES_IN_A_ROW = 200;

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorClass(phase: string, error: unknown): string {
  const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof e?.name === "string" ? e.name : typeof error;
  const code = typeof e?.code === "string" || typeof e?.code === "number" ? `/${e.code}` : "";
  const message = typeof e?.message === "string"
    ? e.message.replace(/\d+(\.\d+)?/g, "N").replace(/"[^"]*"/g, '"…"').slice(0, 60)
    : "";
  return `${phase}: ${name}${code}: ${message}`;
}

export interface LockStore {
  adapter: ILockAdapter;
  /** Replaces a client that can no longer work (see below). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

// node-redis, with the timeouts and reconnect delays of the ioredis client
// below: node-redis has no per-command timeout by default (a command to a
// stopped server would wait for good), so every command gets 1500 ms, as
// ioredis's commandTimeout; node-redis resends nothing (a command whose
// connection dropped rejects).
async function openNodeRedisStore(config: WorkerConfig): Promise<LockStore> {
  const socket = {
    connectTimeout: 1000,
    reconnectStrategy: (retries: number) => Math.min(retries * 50, 300),
  };
  const commandOptions = { timeout: 1500 };
  const client = config.backend === "cluster"
    ? createCluster({
      rootNodes: config.clusterNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
      defaults: { socket },
      commandOptions,
    })
    : createClient({ url: config.lockUrl, socket, commandOptions });
  client.on("error", () => {});
  await client.connect();
  const adapter = new NodeRedisAdapter({ client });
  return {
    adapter,
    reopen: () => Promise.resolve(),
    close: async () => {
      await adapter.close();
      client.destroy();
    },
  };
}

async function openLockStore(config: WorkerConfig): Promise<LockStore> {
  if (config.backend === "postgres") return await openPostgresStore(config);
  if (config.backend === "kv") {
    const kv = await openTestKv(config.lockUrl);
    const adapter = new DenoKvAdapter({ kv, prefix: ["chaos", config.runId] });
    return {
      adapter,
      reopen: () => Promise.resolve(),
      close: async () => {
        await adapter.close();
        kv.close();
      },
    };
  }
  if (config.backend !== "mongo" && config.client === "node-redis") {
    return await openNodeRedisStore(config);
  }
  if (config.backend !== "mongo") {
    const keyPrefix = config.keyPrefix === "" ? {} : { keyPrefix: config.keyPrefix };
    const client = config.backend === "cluster"
      ? new Cluster(config.clusterNodes, {
        ...keyPrefix,
        retryDelayOnFailover: 50,
        retryDelayOnClusterDown: 50,
        slotsRefreshTimeout: 1000,
        clusterRetryStrategy: (times: number) => Math.min(times * 50, 300),
        redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 1500, connectTimeout: 1000 },
      })
      : new Redis(config.lockUrl, {
        ...keyPrefix,
        maxRetriesPerRequest: 1,
        commandTimeout: 1500,
        connectTimeout: 1000,
        retryStrategy: (times: number) => Math.min(times * 50, 300),
      });
    client.on("error", () => {});
    const adapter = new IoRedisAdapter({ client });
    return {
      adapter,
      reopen: () => Promise.resolve(),
      close: async () => {
        await adapter.close();
        client.disconnect();
      },
    };
  }
  const { MongoClient } = await import("mongodb");
  const connect = () =>
    new MongoClient(config.lockUrl, {
      directConnection: true,
      maxPoolSize: 2,
      serverSelectionTimeoutMS: 1500,
      connectTimeoutMS: 1000,
      socketTimeoutMS: 1500,
    });
  const adapterOn = (client: InstanceType<typeof MongoClient>) =>
    new MongoAdapter({
      client: client as unknown as MongoLikeClient,
      locksCollectionName: `chaos-${config.runId}`,
    });
  let client = connect();
  const store: LockStore = {
    adapter: adapterOn(client),
    // The driver closes a client whose first connection failed, and every
    // later operation rejects with MongoTopologyClosedError: an application
    // has to make a new client, and so does the worker.
    async reopen() {
      await client.close().catch(() => {});
      client = connect();
      store.adapter = adapterOn(client);
    },
    close: () => client.close(),
  };
  return store;
}

/** The primitive an iteration takes: one Lock, and what its sections look like. */
interface Take {
  /** Undefined without a lock (--no-lock). */
  lock: Lock | undefined;
  /** The resource keys its sections touch. */
  keys: string[];
  /** ENTER's side: "" for a lock. */
  side: "" | "slot" | "read" | "write";
  /** Whether the section is a fenced read-modify-write (else: a read, then EXIT). */
  writes: boolean;
}

/** The lock of one iteration, not yet acquired. Throws UnsupportedError when the adapter lacks it. */
function take(locker: Locker, config: WorkerConfig): Take {
  const { keys, ttl } = config;
  const key = keys[Math.floor(Math.random() * keys.length)]!;
  const make = (create: () => Lock) => config.lock ? create() : undefined;
  switch (config.primitive) {
    case "lock":
      return { lock: make(() => locker.lock(key, ttl)), keys: [key], side: "", writes: true };
    case "semaphore":
      return {
        lock: make(() => locker.semaphore(keys[0]!, config.limit, ttl)),
        keys: [keys[0]!],
        side: "slot",
        writes: false,
      };
    case "multi": {
      const size = Math.min(keys.length, 2 + Math.floor(Math.random() * 2));
      const shuffled = [...keys].sort(() => Math.random() - 0.5);
      const some = shuffled.slice(0, size);
      return { lock: make(() => locker.lock(some, ttl)), keys: some, side: "", writes: true };
    }
    case "rw": {
      const write = Math.random() < WRITER_SHARE;
      return {
        lock: make(() => {
          const rw: ReadWriteLock = locker.readWrite(keys[0]!, ttl);
          return write ? rw.write() : rw.read();
        }),
        keys: [keys[0]!],
        side: write ? "write" : "read",
        writes: write,
      };
    }
  }
}

/** Ends the worker when its adapter lacks the primitive, with the library's message. */
function unsupported(error: unknown): never {
  const e = error as { name?: string; message?: string; method?: string };
  const method = e.method === undefined ? "" : ` (method ${e.method})`;
  process.stderr.write(`unsupported: ${e.name}: ${e.message}${method}\n`);
  process.exit(UNSUPPORTED_EXIT);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "") as WorkerConfig;
  const keys = resourceKeys(config.runId);
  const resource = new Redis(config.resourceUrl, { maxRetriesPerRequest: 5 });
  const store = await openLockStore(config);
  let sentAt = 0;
  // The iteration the loop below is on, for the `waiting` mark.
  let currentIt = 0;
  let waitingMarked = false;
  // A multi-key lock taken key by key (no `adapter.multi`): its lease began
  // when its attempt sent the createLock of its first key in sorted order.
  let firstKey: string | undefined;
  // Forwards to the store's adapter (read on every call: MongoDB replaces
  // it), noting when the createLock that succeeded was sent and marking the
  // worker as waiting. Semaphores, read-write locks and atomic multi-key
  // locks are forwarded the same way, when the store's adapter has them.
  const wrap = (inner: () => ILockAdapter, everyCreate: boolean): ILockAdapter => {
    const wrapped: ILockAdapter = {
      createLock: async (lease) => {
        if (everyCreate || firstKey === undefined || lease.key === firstKey) {
          sentAt = performance.now();
        }
        try {
          return await inner().createLock(lease);
        } catch (error) {
          if (!waitingMarked && isLoccoError(error, "LOCK_CREATE_FAILED")) {
            waitingMarked = true;
            const mark = JSON.stringify({
              gen: config.gen,
              it: currentIt,
              key: lease.key,
              uniqueValue: lease.uniqueValue,
              since: Math.round(wallNow()),
            });
            resource.hset(keys.waiting, String(config.slot), mark).catch(() => {});
          }
          throw error;
        }
      },
      releaseLock: (identity) => inner().releaseLock(identity),
      extendLock: (lease) => inner().extendLock(lease),
      isValidLock: (identity) => inner().isValidLock(identity),
    };
    const sample = inner();
    if (typeof sample.waitForUnlock === "function") {
      wrapped.waitForUnlock = (identity, maxWaitMs, signal) =>
        inner().waitForUnlock!(identity, maxWaitMs, signal);
    }
    if (typeof sample.semaphore === "function") {
      wrapped.semaphore = (limit) => {
        const slots = inner().semaphore!(limit);
        return wrap(() => slots, true);
      };
    }
    if (typeof sample.readWrite === "function") {
      wrapped.readWrite = (mode) => {
        const side = inner().readWrite!(mode);
        return wrap(() => side, true);
      };
    }
    if (typeof sample.multi === "function") {
      wrapped.multi = (lockKeys) => {
        const all = inner().multi!(lockKeys);
        return wrap(() => all, true);
      };
    }
    return wrapped;
  };
  const adapter = wrap(() => store.adapter, false);
  const locker = new Locker({
    adapter,
    retrySettings: { retryDelayFn: () => 2 + Math.floor(Math.random() * 8), totalTime: 3000 },
  });
  // A primitive the adapter lacks fails here, at once, with no I/O.
  if (config.lock) {
    try {
      take(locker, config);
    } catch (error) {
      if (isLoccoError(error, "UNSUPPORTED")) unsupported(error);
      throw error;
    }
  }
  const drift = Math.ceil(config.ttl * 0.01) + 2;
  const countError = (phase: string, error: unknown) =>
    resource.hincrby(keys.errors, errorClass(phase, error), 1);
  const event = (record: Record<string, unknown>) =>
    resource.eval(EVENT_SCRIPT, 2, keys.seq, keys.log, JSON.stringify(record));
  try {
    if (config.barrier) {
      await resource.incr(keys.ready);
      const deadline = Date.now() + 30_000;
      while (Number(await resource.get(keys.ready)) < config.workers) {
        if (Date.now() > deadline) throw new Error("the other workers never became ready");
        await sleep(5);
      }
    }
    let it = Number(await resource.hget(keys.progress, String(config.slot)) ?? 0);
    let failures = 0;
    // Retries on the same key keep the time the wait for it began, unless
    // the store failed the acquire (see below).
    let waitKey = "";
    let waitStart = 0;
    while (it < config.iterations) {
      if (failures >= MAX_FAILURES_IN_A_ROW) {
        throw new Error(`gave up after ${failures} failed attempts in a row`);
      }
      const taken = take(locker, config);
      const pre = Number(await resource.get(keys.seq) ?? 0);
      let lock: Lock | undefined;
      let grant = "";
      const waitFor = taken.keys.join(",");
      if (waitFor !== waitKey) {
        waitKey = waitFor;
        waitStart = wallNow();
      }
      if (config.lock) {
        currentIt = it;
        firstKey = taken.keys.length > 1 ? [...taken.keys].sort()[0] : undefined;
        try {
          lock = await taken.lock!.acquire();
          grant = wallNow().toFixed(1);
        } catch (error) {
          if (isLoccoError(error, "UNSUPPORTED")) unsupported(error);
          // A store that cannot take these keys together says so before any I/O.
          if (taken.keys.length > 1 && isLoccoError(error, "VALIDATION_FAILED")) {
            unsupported(error);
          }
          failures++;
          await countError("acquire", error);
          // The store failed this acquire (the driver's error: a timeout, a
          // dropped connection), which the wait promise does not cover: the
          // next acquire starts a new wait. A RetryError (the library gave
          // up) keeps the wait going.
          if (!isLoccoError(error)) waitKey = "";
          if ((error as Error | null)?.name === "MongoTopologyClosedError") await store.reopen();
          if (config.backend === "postgres" && !isLoccoError(error)) await store.reopen();
          await sleep(20);
          continue;
        } finally {
          if (waitingMarked) {
            waitingMarked = false;
            await resource.hdel(keys.waiting, String(config.slot));
          }
        }
      } else {
        sentAt = performance.now();
      }
      waitKey = "";
      const fenceOf = (key: string) => {
        const token = taken.keys.length > 1 ? lock?.fences?.get(key) : lock?.fence;
        return config.fence && typeof token === "number" ? String(token) : "";
      };
      const stateKeys = (key: string) => [
        keys.seq,
        keys.log,
        keys.state(key),
        keys.inside,
        keys.progress,
      ];
      // One section per key: read (ENTER) every key, then write each one read.
      const entered: { key: string; value: string; at: number }[] = [];
      for (const key of taken.keys) {
        const [, value, status] = await resource.eval(
          ENTER_SCRIPT,
          5,
          ...stateKeys(key),
          config.slot,
          config.gen,
          it,
          key,
          fenceOf(key),
          pre,
          Math.round(wallNow()),
          (performance.timeOrigin + sentAt).toFixed(1),
          lock === undefined ? "" : waitStart.toFixed(1),
          grant,
          taken.writes ? "1" : "0",
          taken.side,
        ) as [number, string, string];
        if (status === "ok") entered.push({ key, value, at: wallNow() });
      }
      if (entered.length > 0) {
        await sleep(config.holdMs * (0.5 + Math.random()));
        for (const { key, value } of entered) {
          const ids = [config.slot, config.gen, it, key, fenceOf(key)];
          if (taken.writes) {
            await resource.eval(
              WRITE_SCRIPT,
              5,
              ...stateKeys(key),
              ...ids,
              String(Number(value) + 1),
              Date.now(),
            );
          } else {
            await resource.eval(EXIT_SCRIPT, 5, ...stateKeys(key), ...ids, Date.now());
          }
        }
        const heldMs = performance.now() - sentAt;
        for (const { key, at } of entered) {
          await event({
            t: "L",
            slot: config.slot,
            gen: config.gen,
            it,
            key,
            heldMs: Math.round(heldMs),
            entered: Number(at.toFixed(1)),
            inLease: heldMs <= config.ttl - drift,
          });
        }
      }
      it++;
      failures = 0;
      if (lock !== undefined) {
        let releasedAt: number | undefined;
        try {
          await lock.release();
          releasedAt = wallNow();
        } catch (error) {
          await countError("release", error);
        }
        if (releasedAt !== undefined) {
          const { slot, gen } = config;
          for (const key of taken.keys) {
            await event({ t: "R", slot, gen, it: it - 1, key, at: releasedAt });
          }
        }
      }
    }
  } finally {
    await store.close().catch(() => {});
    resource.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`worker: ${error?.stack ?? error}\n`);
    process.exit(3);
  },
);

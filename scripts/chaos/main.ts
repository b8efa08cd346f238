// Copyright 2026 the locco authors. MIT license.
// The chaos harness: K worker processes x M locked read-modify-write
// iterations of shared values, while faults hit the holders, the waiters and
// the lock store; then a table, and a non-zero exit on any broken promise.
//
//   deno task chaos [--short] [--backend redis|mongo|cluster|postgres|kv] [--workers 8]
//                   [--primitive lock|semaphore|multi|rw] [--limit 3]
//                   [--iterations N] [--keys 2] [--ttl 500] [--hold 10]
//                   [--fault-every 1000] [--faults kill,stop,...] [--deadline S]
//                   [--key-prefix app:] [--wait-bound 1500] [--no-fence] [--no-lock]
//                   [--client ioredis|node-redis]
//                   [--verbose] [--log chaos.jsonl]
//
// Faults (--faults, comma-separated; the default is every fault of the backend):
//   kill         SIGKILL a worker inside its critical section (respawned)
//   stop         SIGSTOP a worker inside its critical section for ttl + 300 ms
//   kill-waiter  SIGKILL a worker waiting in acquire() (respawned); its fault
//                row says where it stood in Redis: queued, handed the key, or
//                not queued (yet)
//   stop-waiter  SIGSTOP a worker waiting in acquire() for ttl + 300 ms
//   restart      restart the lock store with an empty dataset (redis, mongo)
//   delay        proxy adds 50-400 ms of latency for 1 s (redis, mongo)
//   cut          proxy resets every connection (redis, mongo)
//   blackhole    proxy stops forwarding for 2 s, then resets (redis, mongo)
//   drop-reply   proxy drops the next reply and resets that connection, so the
//                client resends the command (redis; mongo when asked)
//   kill-pubsub  CLIENT KILL TYPE pubsub on every node, straight (redis, cluster)
//   kill-master  SIGKILL the master of a lock key's slot; once its replica took
//                over, restart it, so it rejoins as a replica (cluster); like a
//                restart, an overlap across it counts as the store losing data
//   failover     CLUSTER FAILOVER on a replica of a lock key's master (cluster)
//   terminate    pg_terminate_backend of every connection of the workers,
//                straight (postgres)
// Defaults: redis: kill, stop, kill-waiter, stop-waiter, restart, delay, cut,
// blackhole, drop-reply, kill-pubsub; mongo: kill, stop, restart, delay, cut,
// blackhole; cluster: kill, stop, kill-waiter, stop-waiter, kill-pubsub,
// kill-master, failover; postgres: kill, stop, kill-waiter, stop-waiter,
// restart (of the run's private PostgreSQL server, started with initdb on a
// free port; it keeps the locks, so an overlap across it is a violation),
// delay, cut, blackhole,
// terminate. The postgres workers alternate pg Pool, pg Client and postgres.js.
// kv: kill, stop, kill-waiter, stop-waiter.
// --backend kv: the workers share a Deno KV file database (a temporary file;
// Deno.openKv on Deno, @deno/kv on Node and Bun) with no proxy in between:
// the faults hit the holders and waiters, in their processes.
//
// Everything it starts listens on 127.0.0.1 and is stopped by pid at the end,
// on failure too: a private redis-server for the resource, the lock store
// (scripts/chaos/_store.ts), a TCP proxy between the workers and the lock
// store (not on Cluster, whose nodes advertise their own ports: workers use
// an ioredis Cluster client straight to them), and the workers.
// --key-prefix gives the workers' ioredis clients that `keyPrefix` (redis,
// cluster). --client node-redis has the workers lock through NodeRedisAdapter
// on node-redis clients (createClient, or createCluster on cluster) instead of
// IoRedisAdapter on ioredis; node-redis resends nothing, so a dropped reply
// rejects the command. Besides exclusion and lost updates, the run fails when a waiter
// took a free key more than --wait-bound ms (1500) after it became free, away
// from lock-store faults (see _analyze.ts; a wait is one worker's acquire()
// calls on a key, across RetryErrors but not across an acquire the store
// failed with the driver's error); `--wait-bound 100` is a control
// that must fail, since a stopped or dead waiter keeps a key handed to it for
// the 500 ms claim window. The table also shows the longest such wait away
// from every fault, which a healthy adapter keeps near the retry delay.
// --no-fence ignores fencing tokens and --no-lock takes no lock: control runs
// that show what the harness detects (--no-lock must fail, with every
// primitive).
//
// --primitive (default lock) picks what each iteration takes, and so which
// promise the run checks (scripts/chaos/_analyze.ts):
//   lock       one key of --keys: mutual exclusion, as described above
//   semaphore  a permit of locker.semaphore(key, --limit, ttl) on one key:
//              never more than --limit holders inside within their leases;
//              fences never issued twice and growing with acquisition order;
//              a run whose holders never overlapped fails (it proved nothing)
//   multi      locker.lock([...]) on a random 2 or 3 of --keys (default 4):
//              per-key exclusion, fence checks and lost updates, as for a lock
//   rw         locker.readWrite(key, ttl) on one key, the write side in 30 %
//              of the iterations (a fenced read-modify-write), else the read
//              side (a read): no writer inside with any other holder; fences
//              as for a semaphore; a run whose readers never overlapped fails
// The waiting bound (--wait-bound) is checked for locks only. A primitive the
// backend's adapter lacks (UnsupportedError) ends the run at once with its
// message and exit code 2. --verbose prints
// each fault as it is injected; --log writes the run's log, one JSON record a
// line (scripts/chaos/_resource.ts), for evidence.

// deno-lint-ignore-file no-console

import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { runtimeCommand } from "../../tests/_helpers.ts";
import { RedisServer } from "../../tests/_redis_server.ts";
import { type Analysis, analyze } from "./_analyze.ts";
import { FaultProxy } from "./_proxy.ts";
import { EVENT_SCRIPT, type LogRecord, resourceKeys } from "./_resource.ts";
import { type Backend, type LockStore, pickClusterKeys, startLockStore } from "./_store.ts";
import { type Primitive, PRIMITIVES, UNSUPPORTED_EXIT } from "./_primitives.ts";
import type { WorkerConfig } from "./_worker.ts";

const WORKER = fileURLToPath(new URL("./_worker.ts", import.meta.url));
const ALL_FAULTS = [
  "kill",
  "stop",
  "kill-waiter",
  "stop-waiter",
  "restart",
  "delay",
  "cut",
  "blackhole",
  "drop-reply",
  "kill-pubsub",
  "kill-master",
  "failover",
  "terminate",
] as const;
type Fault = typeof ALL_FAULTS[number];
const DEFAULT_FAULTS: Record<Backend, readonly Fault[]> = {
  redis: [
    "kill",
    "stop",
    "kill-waiter",
    "stop-waiter",
    "restart",
    "delay",
    "cut",
    "blackhole",
    "drop-reply",
    "kill-pubsub",
  ],
  mongo: ["kill", "stop", "restart", "delay", "cut", "blackhole"],
  cluster: ["kill", "stop", "kill-waiter", "stop-waiter", "kill-pubsub", "kill-master", "failover"],
  postgres: [
    "kill",
    "stop",
    "kill-waiter",
    "stop-waiter",
    "restart",
    "delay",
    "cut",
    "blackhole",
    "terminate",
  ],
  kv: ["kill", "stop", "kill-waiter", "stop-waiter"],
};
const AVAILABLE_FAULTS: Record<Backend, readonly Fault[]> = {
  redis: DEFAULT_FAULTS.redis,
  mongo: [...DEFAULT_FAULTS.mongo, "kill-waiter", "stop-waiter", "drop-reply"],
  cluster: DEFAULT_FAULTS.cluster,
  postgres: DEFAULT_FAULTS.postgres,
  kv: DEFAULT_FAULTS.kv,
};

/**
 * The longest a waiter may take to take a key that is free (--wait-bound):
 * the workers' retry delay (at most 10 ms) plus the 500 ms claim window of a
 * hand-off, plus generous slack for a loaded 2-core machine (timers, GC,
 * scheduling of 8 workers and the stores).
 */
const FREE_KEY_WAIT_BOUND_MS = 1500;

const { values } = parseArgs({
  options: {
    short: { type: "boolean", default: false },
    backend: { type: "string", default: "redis" },
    primitive: { type: "string", default: "lock" },
    limit: { type: "string", default: "3" },
    workers: { type: "string", default: "8" },
    iterations: { type: "string" },
    keys: { type: "string" },
    ttl: { type: "string", default: "500" },
    hold: { type: "string", default: "10" },
    "fault-every": { type: "string" },
    faults: { type: "string" },
    deadline: { type: "string" },
    "key-prefix": { type: "string", default: "" },
    client: { type: "string", default: "ioredis" },
    "wait-bound": { type: "string", default: String(FREE_KEY_WAIT_BOUND_MS) },
    "no-fence": { type: "boolean", default: false },
    "no-lock": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    log: { type: "string" },
  },
});

const backend: Backend = values.backend === "mongo" || values.backend === "mongodb"
  ? "mongo"
  : values.backend === "cluster"
  ? "cluster"
  : values.backend === "postgres"
  ? "postgres"
  : values.backend === "kv"
  ? "kv"
  : "redis";
if (values.backend !== backend && values.backend !== "mongodb") {
  throw new Error(
    `--backend should be redis, mongo, cluster, postgres or kv: got ${values.backend}`,
  );
}
const primitive = values.primitive as Primitive;
if (!PRIMITIVES.includes(primitive)) {
  throw new Error(`--primitive should be lock, semaphore, multi or rw: got ${values.primitive}`);
}
const limit = Number(values.limit);
if (!Number.isSafeInteger(limit) || limit < 1) {
  throw new Error(`--limit should be a positive integer: got ${values.limit}`);
}
const MONGODB_URL = process.env.MONGODB_URL;
const short = values.short;
const workers = Number(values.workers);
const iterations = Number(
  values.iterations ?? (short ? (backend === "mongo" || primitive === "multi" ? 60 : 120) : 1000),
);
const keyCount = primitive === "semaphore" || primitive === "rw"
  ? 1
  : Number(values.keys ?? (primitive === "multi" ? 4 : short ? 2 : 3));
if (values.keys !== undefined && keyCount !== Number(values.keys)) {
  throw new Error(`--primitive ${primitive} locks one key: --keys is for lock and multi`);
}
if (primitive === "multi" && !(keyCount >= 2)) {
  throw new Error(`--primitive multi needs --keys 2 or more: got ${values.keys}`);
}
const ttl = Number(values.ttl);
const hold = Number(values.hold);
const faultEvery = Number(values["fault-every"] ?? (short ? 900 : 1500));
const deadlineMs = 1000 * Number(values.deadline ?? (short ? 50 : 3600));
const keyPrefix = values["key-prefix"];
const waitBound = Number(values["wait-bound"]);
if (keyPrefix !== "" && (backend === "mongo" || backend === "postgres" || backend === "kv")) {
  throw new Error("--key-prefix is an ioredis option: use it with --backend redis or cluster");
}
if (values.client !== "ioredis" && values.client !== "node-redis") {
  throw new Error(`--client should be ioredis or node-redis: got ${values.client}`);
}
const redisClient: "ioredis" | "node-redis" = values.client;
if (redisClient === "node-redis" && backend === "mongo") {
  throw new Error("--client node-redis is a Redis client: use it with --backend redis or cluster");
}
if (redisClient === "node-redis" && keyPrefix !== "") {
  throw new Error("--key-prefix is an ioredis option: node-redis has no key prefix");
}
const faults = (values.faults ?? DEFAULT_FAULTS[backend].join(",")).split(",")
  .filter((f) => f !== "") as Fault[];
for (const fault of faults) {
  if (!ALL_FAULTS.includes(fault)) throw new Error(`unknown fault "${fault}"`);
  if (!AVAILABLE_FAULTS[backend].includes(fault)) {
    throw new Error(`fault "${fault}" is not available with --backend ${backend}`);
  }
}
const external = backend === "mongo" && MONGODB_URL !== undefined;
const enabledFaults = faults.filter((f) => !(f === "restart" && external));

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

function pick<T>(list: readonly T[]): T | undefined {
  return list[Math.floor(Math.random() * list.length)];
}

interface Slot {
  slot: number;
  gen: number;
  child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
  expectedExit: boolean;
  stderr: string;
}

/** A worker found in the `inside` (slot -> "gen:it") or `waiting` (slot -> JSON) hash. */
interface Found {
  entry: Slot;
  mark: string;
  it: number;
  key: string | undefined;
  uniqueValue: string | undefined;
}

/** A `waiting` mark of _worker.ts. */
interface WaitingMark {
  gen: number;
  it: number;
  key: string;
  uniqueValue: string;
  since: number;
}

async function main(): Promise<number> {
  const runId = crypto.randomUUID().slice(0, 8);
  const keys = resourceKeys(runId);
  const cleanup: (() => Promise<unknown>)[] = [];
  const slots: Slot[] = [];
  const problems: string[] = [];
  const crashes: string[] = [];
  const started = performance.now();
  let analysis: Analysis | undefined;
  let errors: Record<string, string> = {};
  let proxyStats: FaultProxy["stats"] | undefined;
  let description = "";
  // Set when a worker found that the adapter lacks the primitive.
  let unsupported: string | undefined;
  try {
    const resourceServer = await RedisServer.start();
    cleanup.push(() => resourceServer.stop());
    const store: LockStore = await startLockStore(backend, MONGODB_URL, runId);
    cleanup.push(() => store.stop());
    description = store.description;
    const cluster = store.cluster;
    let proxy: FaultProxy | undefined;
    if (cluster === undefined && backend !== "kv") {
      const opened = await FaultProxy.start(store.port);
      proxy = opened;
      cleanup.push(() => opened.close());
      proxyStats = opened.stats;
    }
    // On Redis Cluster the keys of a multi-key lock share a hash tag (one slot,
    // as the adapter requires); lock keys are spread over the masters.
    const lockKeys = cluster === undefined
      ? Array.from({ length: keyCount }, (_, i) => `chaos:${runId}:k${i}`)
      : primitive === "multi"
      ? Array.from({ length: keyCount }, (_, i) => `{chaos:${runId}}:k${i}`)
      : await pickClusterKeys(cluster, runId, keyCount, keyPrefix);
    const resource = new Redis(resourceServer.url);
    cleanup.push(async () => resource.disconnect());
    const event = (record: Omit<LogRecord, "seq">) =>
      resource.eval(EVENT_SCRIPT, 2, keys.seq, keys.log, JSON.stringify(record)) as Promise<number>;

    const baseConfig: Omit<WorkerConfig, "slot" | "gen" | "barrier"> = {
      runId,
      workers,
      iterations,
      backend,
      lockUrl: proxy === undefined ? store.url(0) : store.url(proxy.port),
      clusterNodes: cluster?.startupNodes ?? [],
      keyPrefix,
      client: redisClient,
      resourceUrl: resourceServer.url,
      keys: lockKeys,
      ttl,
      holdMs: hold,
      fence: !values["no-fence"],
      lock: !values["no-lock"],
      primitive,
      limit,
    };
    const spawnWorker = (slot: number, gen: number, barrier: boolean): Slot => {
      const config: WorkerConfig = { ...baseConfig, slot, gen, barrier };
      const { command, args } = runtimeCommand(WORKER, [JSON.stringify(config)]);
      const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
      const entry: Slot = {
        slot,
        gen,
        child,
        exited: Promise.resolve(),
        done: false,
        expectedExit: false,
        stderr: "",
      };
      child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        entry.stderr = (entry.stderr + d).slice(-2000);
      });
      entry.exited = new Promise((resolve) => {
        child.once("exit", (code, signal) => {
          if (code === 0) entry.done = true;
          else if (code === UNSUPPORTED_EXIT) {
            unsupported ??= entry.stderr.trim().replace(/^unsupported: /, "");
          } else if (!entry.expectedExit) {
            crashes.push(
              `worker ${slot}.${gen} exited (${code ?? signal}): ${entry.stderr.trim()}`,
            );
            event({ t: "K", slot, gen, at: wallNow(), fault: "worker crashed" }).catch(() => {});
            if (code !== 3 && slots[slot] === entry) {
              slots[slot] = spawnWorker(slot, gen + 1, false);
            }
          }
          resolve();
        });
      });
      return entry;
    };
    for (let slot = 0; slot < workers; slot++) slots.push(spawnWorker(slot, 0, true));
    cleanup.push(() => killAll(slots));

    const allDone = () => slots.every((s) => s.done);
    const anyGaveUp = () =>
      unsupported !== undefined || crashes.some((c) => c.includes("exited (3)"));
    const deadline = started + deadlineMs;
    const live = (slot: string, mark: string): Found | undefined => {
      const entry = slots[Number(slot)];
      if (!entry || entry.done) return undefined;
      if (mark.startsWith("{")) {
        const waiting = JSON.parse(mark) as WaitingMark;
        // A waiter that has waited a few ms has had time to queue itself.
        if (entry.gen !== waiting.gen || wallNow() - waiting.since < 5) return undefined;
        return { entry, mark, it: waiting.it, key: waiting.key, uniqueValue: waiting.uniqueValue };
      }
      const [g, it] = mark.split(":");
      if (entry.gen !== Number(g) || it === undefined) return undefined;
      return { entry, mark, it: Number(it), key: undefined, uniqueValue: undefined };
    };
    // Where a stopped waiter stands in the Redis waiter queue of its key.
    const standing = async (found: Found): Promise<string> => {
      // The Redis waiter queue is that of lock keys.
      if (primitive !== "lock" && primitive !== "multi") return "";
      if (store.waiterState === undefined || found.key === undefined) return "";
      const state = await store.waiterState(keyPrefix, found.key, found.uniqueValue!)
        .catch(() => "state unknown");
      return state === "not queued" ? " (not queued)" : ` (${state})`;
    };
    const findIn = async (hash: string): Promise<Found | undefined> => {
      for (let tries = 0; tries < 300 && performance.now() < deadline; tries++) {
        const marks = await resource.hgetall(hash);
        const found = pick(
          Object.entries(marks).flatMap(([slot, mark]) => {
            const candidate = live(slot, mark);
            return candidate === undefined ? [] : [candidate];
          }),
        );
        if (found) return found;
        await sleep(5);
      }
      return undefined;
    };
    // Stops a worker that waits in acquire() and checks, once it is stopped,
    // that it still waits (it was not granted the lock meanwhile).
    const stopWaiter = async (): Promise<Found | undefined> => {
      for (let tries = 0; tries < 20 && performance.now() < deadline; tries++) {
        const found = await findIn(keys.waiting);
        if (found === undefined) return undefined;
        const pid = found.entry.child.pid!;
        process.kill(pid, "SIGSTOP");
        await sleep(10);
        if ((await resource.hget(keys.waiting, String(found.entry.slot))) === found.mark) {
          return found;
        }
        process.kill(pid, "SIGCONT");
      }
      return undefined;
    };
    const respawn = async (found: Found, hash: string, fault: string, at: number) => {
      const { entry } = found;
      entry.expectedExit = true;
      process.kill(entry.child.pid!, "SIGKILL");
      await entry.exited;
      await event({
        t: "K",
        slot: entry.slot,
        gen: entry.gen,
        it: found.it,
        key: found.key ?? await keyOf(resource, keys.log, entry.slot, entry.gen, found.it),
        at,
        fault,
      });
      await resource.hdel(hash, String(entry.slot));
      slots[entry.slot] = spawnWorker(entry.slot, entry.gen + 1, false);
    };
    const pause = async (found: Found, fault: string) => {
      const pid = found.entry.child.pid!;
      process.kill(pid, "SIGSTOP");
      const { slot, gen } = found.entry;
      await event({ t: "S", slot, gen, key: found.key, at: wallNow(), fault });
      await sleep(ttl + 300);
      process.kill(pid, "SIGCONT");
      await event({ t: "C", slot: found.entry.slot, gen: found.entry.gen, at: wallNow() });
    };

    let next = 0;
    const order = [...enabledFaults].sort(() => Math.random() - 0.5);
    while (!allDone() && !anyGaveUp() && performance.now() < deadline) {
      const pauseUntil = performance.now() + faultEvery * (0.5 + Math.random());
      while (performance.now() < pauseUntil && !anyGaveUp()) await sleep(20);
      if (anyGaveUp()) break;
      if (allDone() || order.length === 0) continue;
      const fault = order[next++ % order.length]!;
      if (values.verbose) {
        console.error(`chaos: ${((performance.now() - started) / 1000).toFixed(1)} s: ${fault}`);
      }
      if (fault === "kill" || fault === "stop") {
        const holder = await findIn(keys.inside);
        if (holder === undefined) {
          if (values.verbose) console.error("chaos: no holder inside a critical section found");
          continue;
        }
        if (fault === "kill") await respawn(holder, keys.inside, "kill holder", wallNow());
        else await pause(holder, "stop holder past ttl");
      } else if (fault === "kill-waiter" || fault === "stop-waiter") {
        const waiter = await stopWaiter();
        if (waiter === undefined) {
          if (values.verbose) console.error("chaos: no worker waiting in acquire() found");
          continue;
        }
        const where = await standing(waiter);
        if (fault === "kill-waiter") {
          await respawn(waiter, keys.waiting, `kill waiter${where}`, wallNow());
        } else {
          await pause(waiter, `stop waiter past ttl${where}`);
        }
      } else if (fault === "restart" && store.durable === true) {
        // The store keeps its locks across the restart: any overlap is a violation.
        const at = wallNow();
        const port = await store.restart!();
        proxy!.setUpstream(port);
        await event({ t: "P", at, until: wallNow(), fault: "restart lock store (data kept)" });
      } else if (fault === "restart") {
        await event({ t: "D", at: wallNow(), fault: "restart lock store" });
        const port = await store.restart!();
        proxy!.setUpstream(port);
        await event({ t: "U", at: wallNow() });
      } else if (fault === "terminate") {
        const at = wallNow();
        const killed = await store.terminate!();
        await event({ t: "P", at, until: at, fault: "pg_terminate_backend of the workers" });
        if (values.verbose) console.error(`chaos: terminated ${killed} backends`);
      } else if (fault === "kill-pubsub") {
        const at = wallNow();
        const killed = await store.killPubsub!();
        await event({ t: "N", at, fault: "kill pub/sub connections" });
        if (values.verbose) console.error(`chaos: killed ${killed} pub/sub connections`);
      } else if (fault === "kill-master" || fault === "failover") {
        const key = keyPrefix + pick(lockKeys)!;
        const master = await cluster!.masterOf(key);
        const replica = await cluster!.replicaOf(master.port);
        if (fault === "kill-master") {
          await event({ t: "D", at: wallNow(), key, fault: "kill master of a lock key" });
          await cluster!.kill(master.port);
          await cluster!.waitForPromotion(replica.port);
          await event({ t: "U", at: wallNow() });
          await sleep(500);
          await cluster!.restart(master.port);
        } else {
          const at = wallNow();
          await cluster!.failover(replica.port);
          await event({ t: "P", at, until: wallNow(), key, fault: "failover a lock key's master" });
        }
      } else {
        const at = wallNow();
        let until = at;
        if (fault === "delay") {
          const ms = 50 + Math.floor(Math.random() * 350);
          proxy!.delay(ms, 1000);
          until = at + 1000 + ms;
        } else if (fault === "cut") {
          proxy!.cut();
        } else if (fault === "blackhole") {
          proxy!.blackhole(2000);
          until = at + 2000;
        } else {
          proxy!.dropReply();
        }
        const names: Record<string, string> = {
          delay: "proxy latency spike",
          cut: "proxy reset connections",
          blackhole: "proxy half-open connections",
          "drop-reply": "proxy dropped a reply",
        };
        await event({ t: "P", at, until, fault: names[fault]! });
      }
    }
    while (!allDone() && !anyGaveUp() && performance.now() < deadline) await sleep(50);
    if (unsupported !== undefined) {
      await killAll(slots);
      return unsupportedReport(unsupported);
    }
    if (!allDone()) {
      problems.push(
        anyGaveUp()
          ? "a worker gave up (too many failures in a row)"
          : `the run did not finish within ${deadlineMs / 1000} s (deadlock or stall)`,
      );
    }
    await killAll(slots);

    const log = (await resource.lrange(keys.log, 0, -1)).map((line) =>
      JSON.parse(line) as LogRecord
    );
    const state = new Map<string, { value: number; applied: number }>();
    for (const key of lockKeys) {
      const h = await resource.hgetall(keys.state(key));
      state.set(key, { value: Number(h.value ?? 0), applied: Number(h.applied ?? 0) });
    }
    errors = await resource.hgetall(keys.errors);
    if (values.log !== undefined) {
      await writeFile(values.log, log.map((r) => JSON.stringify(r)).join("\n") + "\n");
    }
    analysis = analyze(log, state, ttl, { primitive, limit });
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
  return report(
    analysis,
    description,
    errors,
    proxyStats,
    crashes,
    problems,
    performance.now() - started,
  );
}

async function keyOf(
  resource: Redis,
  log: string,
  slot: number,
  gen: number,
  it: number,
): Promise<string | undefined> {
  const tail = await resource.lrange(log, -500, -1);
  for (let i = tail.length - 1; i >= 0; i--) {
    const r = JSON.parse(tail[i]!) as LogRecord;
    if (r.t === "E" && r.slot === slot && r.gen === gen && r.it === it) return r.key;
  }
  return undefined;
}

async function killAll(slots: Slot[]): Promise<void> {
  await Promise.all(slots.map(async (entry) => {
    const { child } = entry;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    entry.expectedExit = true;
    try {
      process.kill(child.pid, "SIGCONT");
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await entry.exited;
  }));
}

// A primitive the adapter lacks: say so, and fail without a table.
function unsupportedReport(message: string): number {
  console.log(`chaos: --primitive ${primitive} is not available with --backend ${backend}`);
  console.log(`  ${message}`);
  console.log("\nchaos: FAILED (unsupported)");
  return 2;
}

function report(
  a: Analysis | undefined,
  description: string,
  errors: Record<string, string>,
  proxy: FaultProxy["stats"] | undefined,
  crashes: string[],
  problems: string[],
  elapsedMs: number,
): number {
  const failures = [...problems];
  if (a === undefined) {
    console.log("chaos: the run failed before it could be analysed");
    for (const line of [...failures, ...crashes]) console.log(`  ${line}`);
    return 1;
  }
  const fenced = a.fencedSections > 0;
  const locked = !values["no-lock"];
  // Whether sections write the shared values (a semaphore's permits do not).
  const writes = primitive !== "semaphore";
  const promise: Record<Primitive, string> = {
    lock: "mutual-exclusion violations",
    multi: "per-key exclusion violations",
    semaphore: `instants with more than ${limit} holders inside`,
    rw: "writers inside with another holder",
  };
  if (a.violations > 0) failures.push(`${a.violations} ${promise[primitive]} where promised`);
  if (a.duplicateTokens > 0) failures.push(`${a.duplicateTokens} fencing tokens issued twice`);
  if (locked && a.fenceOrderViolations > 0) {
    failures.push(`${a.fenceOrderViolations} fences not above an earlier holder's`);
  }
  if (locked && primitive === "semaphore" && limit > 1 && a.maxInside < 2) {
    failures.push("no two permits were ever held at once: the run proved no concurrency");
  }
  if (locked && primitive === "rw" && a.readerOverlaps === 0) {
    failures.push("no two readers were ever inside at once: the run proved no concurrency");
  }
  if (locked && a.fencedReadsRefusedInLease > 0) {
    failures.push(`${a.fencedReadsRefusedInLease} fenced reads refused while the lease was valid`);
  }
  if (locked && a.fencedWritesRefusedInLease > 0) {
    failures.push(
      `${a.fencedWritesRefusedInLease} fenced writes refused while the lease was valid`,
    );
  }
  if (fenced && a.lostUpdates !== 0) failures.push(`${a.lostUpdates} lost updates`);
  if (fenced && a.lateWritesApplied > 0) {
    failures.push(`${a.lateWritesApplied} late writes applied despite fencing`);
  }
  if (!fenced && a.lostUpdates !== 0 && a.lateWritesApplied === 0) {
    failures.push(`${a.lostUpdates} lost updates, and no late write outside the promise`);
  }
  if (a.overlapsUndecided > 0) {
    failures.push(`${a.overlapsUndecided} overlaps could not be decided`);
  }
  if (locked && a.waitsMeasured && a.maxFreeKeyWaitMs > waitBound) {
    failures.push(
      `a waiter took a free key ${Math.round(a.maxFreeKeyWaitMs)} ms after it became free ` +
        `(bound ${waitBound} ms): ${a.maxFreeKeyWaitExample}`,
    );
  }
  for (const crash of crashes) if (!crash.includes("exited (3)")) failures.push(crash);

  const violationsRow: Record<Primitive, string> = {
    lock: "MUTUAL-EXCLUSION VIOLATIONS (promised; must be 0)",
    multi: "PER-KEY EXCLUSION VIOLATIONS (promised; must be 0)",
    semaphore: `MORE THAN ${limit} HOLDERS INSIDE AT ONCE (promised; must be 0)`,
    rw: "WRITER INSIDE WITH ANOTHER HOLDER (promised; must be 0)",
  };
  const overlap = primitive === "semaphore"
    ? `over ${limit} holders outside the promise`
    : "overlaps outside the promise";
  const primitiveRows: [string, string | number][] = primitive === "semaphore"
    ? [
      [`reads of a permit with ${limit} or more others inside (any cause)`, a.overLimit],
      [`most holders inside at once, late ones included (limit ${limit})`, a.maxInside],
    ]
    : primitive === "rw"
    ? [
      ["pairs of readers inside at once (must be > 0)", a.readerOverlaps],
      ["most readers inside at once", a.maxReadersInside],
    ]
    : [];
  const fenceOrderRows: [string, string | number][] = primitive === "semaphore" ||
      primitive === "rw"
    ? [
      ["acquisitions checked for fence order", a.fenceOrderChecked],
      ["fences not above an earlier holder's (must be 0)", a.fenceOrderViolations],
    ]
    : [];
  const writeRows: [string, string | number][] = [
    ["  late writes of those holders rejected (fence)", a.lateWritesRejected],
    ["  late writes of those holders applied", a.lateWritesApplied],
    ["stale writes rejected by the fence check", a.staleWritesRejected],
    ["fenced writes refused while the lease was valid (must be 0)", a.fencedWritesRefusedInLease],
    ["fenced reads refused while the lease was valid (must be 0)", a.fencedReadsRefusedInLease],
    ["stale reads rejected by the fence check", a.staleReadsRejected],
  ];
  const waitRows: [string, string | number][] = a.waitsMeasured
    ? [
      [
        `longest wait for a free key (bound ${waitBound} ms)`,
        `${Math.round(a.maxFreeKeyWaitMs)} ms`,
      ],
      ["  waits for a free key measured", a.freeKeyWaits],
      ["  longest of those away from every fault", `${Math.round(a.maxQuietFreeKeyWaitMs)} ms`],
      ["  waits left out (near a lock-store fault)", a.freeKeyWaitsNearStoreFaults],
    ]
    : [["longest wait for a free key", "not measured (locks only)"]];
  const rows: [string, string | number][] = [
    [
      "backend (lock store)",
      backend !== "redis" && backend !== "cluster"
        ? description
        : `${description}, through ${
          redisClient === "node-redis"
            ? "NodeRedisAdapter (node-redis 6)"
            : "IoRedisAdapter (ioredis)"
        }`,
    ],
    [
      "mode",
      `${short ? "short" : "long"}; ${
        primitive === "lock"
          ? ""
          : primitive === "semaphore"
          ? `semaphore of ${limit}; `
          : primitive === "multi"
          ? "multi-key locks (2 or 3 keys); "
          : "read-write lock; "
      }${locked ? "locked" : "NO LOCK (control)"}; fencing ${
        fenced
          ? "on"
          : values["no-fence"]
          ? "off (--no-fence)"
          : "not available (lock.fence undefined)"
      }${keyPrefix === "" ? "" : `; keyPrefix "${keyPrefix}"`}`,
    ],
    [
      "workers x iterations, keys, ttl, hold",
      `${workers} x ${iterations}, ${keyCount}, ${ttl} ms, ~${hold} ms`,
    ],
    ["elapsed", `${(elapsedMs / 1000).toFixed(1)} s`],
    [
      primitive === "lock"
        ? "critical sections (read-modify-write)"
        : primitive === "multi"
        ? "critical sections (read-modify-write, one per key)"
        : primitive === "semaphore"
        ? "critical sections (permits held)"
        : "critical sections (reads and read-modify-writes)",
      a.sections,
    ],
    ["  finished within their lease", a.sectionsInLease],
    ["  holder killed inside", a.sectionsKilled],
    ...(writes ? [["writes applied", a.appliedWrites] as [string, number]] : []),
    ...Object.entries(a.faults).sort().map(([k, v]) => [`fault: ${k}`, v] as [string, number]),
    [
      "proxy connections",
      proxy === undefined
        ? backend === "kv"
          ? "none (Deno KV: a file the workers open)"
          : "none (Cluster: straight to the nodes)"
        : `${proxy.connections}${
          proxy.droppedReplies > 0 ? ` (replies dropped: ${proxy.droppedReplies})` : ""
        }`,
    ],
    [violationsRow[primitive], a.violations],
    [`${overlap}: holder paused past ttl`, a.overlapsPaused],
    [`${overlap}: holder slowed past ttl`, a.overlapsSlow],
    [`${overlap}: lock store lost its data`, a.overlapsStoreLost],
    ...primitiveRows,
    ...(writes ? writeRows : []),
    ["fencing tokens issued twice (must be 0)", a.duplicateTokens],
    ...fenceOrderRows,
    ...(writes
      ? [[
        `LOST UPDATES (${fenced ? "must be 0" : "unfenced: only from the late writes above"})`,
        a.lostUpdates,
      ] as [string, number]]
      : []),
    ["longest wait for a killed holder's key", `${Math.round(a.maxWaitAfterKillMs)} ms`],
    ["longest recovery after a store restart", `${Math.round(a.maxRecoveryAfterRestartMs)} ms`],
    ...waitRows,
  ];
  const errorRows = Object.entries(errors).sort((x, y) => Number(y[1]) - Number(x[1]));
  if (errorRows.length === 0) rows.push(["errors", 0]);
  for (const [name, count] of errorRows) rows.push([`error ${name.slice(0, 70)}`, Number(count)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const valueWidth = Math.max(5, ...rows.map(([, v]) => String(v).length));
  console.log(`| ${"what".padEnd(width)} | ${"count".padEnd(valueWidth)} |`);
  console.log(`| ${"-".repeat(width)} | ${"-".repeat(valueWidth)} |`);
  for (const [k, v] of rows) {
    const cell = typeof v === "number" ? String(v).padStart(valueWidth) : v.padEnd(valueWidth);
    console.log(`| ${k.padEnd(width)} | ${cell} |`);
  }
  for (const example of a.violationExamples) console.log(`violation: ${example}`);
  for (const example of a.fenceOrderExamples) console.log(`fence order: ${example}`);
  if (a.maxFreeKeyWaitExample !== "") {
    console.log(`longest wait for a free key: ${a.maxFreeKeyWaitExample}`);
  }
  if (failures.length > 0) {
    console.log(`\nchaos: FAILED`);
    for (const failure of failures) console.log(`  - ${failure}`);
    return 1;
  }
  console.log("\nchaos: OK");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

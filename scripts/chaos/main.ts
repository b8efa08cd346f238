// Copyright 2026 the locco authors. MIT license.
// The chaos harness (issue 8): K worker processes x M locked read-modify-write
// iterations of shared values, while faults hit the holders and the lock
// store; then a table, and a non-zero exit on any broken promise.
//
//   deno task chaos [--short] [--backend redis|mongo] [--workers 8] [--iterations N]
//                   [--keys 2] [--ttl 500] [--hold 10] [--fault-every 1000]
//                   [--faults kill,stop,restart,delay,cut,blackhole] [--deadline S]
//                   [--no-fence] [--no-lock]
//
// Everything it starts listens on 127.0.0.1 and is stopped by pid at the end,
// on failure too: a private redis-server for the resource, the lock store
// (a private redis-server, the jongodb MongoDB stand-in, or MONGODB_URL), a
// TCP proxy between the workers and the lock store, and the workers.
// --no-fence ignores fencing tokens and --no-lock takes no lock: control runs
// that show what the harness detects (--no-lock must fail).

// deno-lint-ignore-file no-console

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { runtimeCommand } from "../../tests/_helpers.ts";
import { RedisServer } from "../../tests/_redis_server.ts";
import { startJongodb } from "../../tests/_jongodb.ts";
import { type Analysis, analyze } from "./_analyze.ts";
import { FaultProxy } from "./_proxy.ts";
import { EVENT_SCRIPT, type LogRecord, resourceKeys } from "./_resource.ts";
import type { WorkerConfig } from "./_worker.ts";

const WORKER = fileURLToPath(new URL("./_worker.ts", import.meta.url));
const ALL_FAULTS = ["kill", "stop", "restart", "delay", "cut", "blackhole"] as const;
type Fault = typeof ALL_FAULTS[number];

const { values } = parseArgs({
  options: {
    short: { type: "boolean", default: false },
    backend: { type: "string", default: "redis" },
    workers: { type: "string", default: "8" },
    iterations: { type: "string" },
    keys: { type: "string" },
    ttl: { type: "string", default: "500" },
    hold: { type: "string", default: "10" },
    "fault-every": { type: "string" },
    faults: { type: "string", default: ALL_FAULTS.join(",") },
    deadline: { type: "string" },
    "no-fence": { type: "boolean", default: false },
    "no-lock": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});

const backend = values.backend === "mongo" || values.backend === "mongodb" ? "mongo" : "redis";
if (values.backend !== backend && values.backend !== "mongodb") {
  throw new Error(`--backend should be redis or mongo: got ${values.backend}`);
}
const MONGODB_URL = process.env.MONGODB_URL;
const short = values.short;
const workers = Number(values.workers);
const iterations = Number(values.iterations ?? (short ? (backend === "mongo" ? 60 : 120) : 1000));
const keyCount = Number(values.keys ?? (short ? 2 : 3));
const ttl = Number(values.ttl);
const hold = Number(values.hold);
const faultEvery = Number(values["fault-every"] ?? (short ? 900 : 1500));
const deadlineMs = 1000 * Number(values.deadline ?? (short ? 50 : 3600));
const faults = values.faults.split(",").filter((f) => f !== "") as Fault[];
for (const fault of faults) {
  if (!ALL_FAULTS.includes(fault)) throw new Error(`unknown fault "${fault}"`);
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

interface LockStore {
  port: number;
  url(proxyPort: number): string;
  restart?(): Promise<number>;
  stop(): Promise<void>;
}

async function startLockStore(): Promise<LockStore> {
  if (backend === "redis") {
    const server = await RedisServer.start();
    return {
      port: server.port,
      url: (p) => `redis://127.0.0.1:${p}`,
      async restart() {
        await server.stop();
        await sleep(200);
        await server.restart();
        return server.port;
      },
      stop: () => server.stop(),
    };
  }
  if (MONGODB_URL !== undefined) {
    const url = new URL(MONGODB_URL);
    return {
      port: Number(url.port || 27017),
      url: (p) => {
        const through = new URL(MONGODB_URL);
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

interface Slot {
  slot: number;
  gen: number;
  child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
  expectedExit: boolean;
  stderr: string;
}

async function main(): Promise<number> {
  const runId = crypto.randomUUID().slice(0, 8);
  const keys = resourceKeys(runId);
  const lockKeys = Array.from({ length: keyCount }, (_, i) => `chaos:${runId}:k${i}`);
  const cleanup: (() => Promise<unknown>)[] = [];
  const slots: Slot[] = [];
  const problems: string[] = [];
  const crashes: string[] = [];
  const started = performance.now();
  let analysis: Analysis | undefined;
  let errors: Record<string, string> = {};
  let proxyStats: FaultProxy["stats"] | undefined;
  try {
    const resourceServer = await RedisServer.start();
    cleanup.push(() => resourceServer.stop());
    const store = await startLockStore();
    cleanup.push(() => store.stop());
    const proxy = await FaultProxy.start(store.port);
    cleanup.push(() => proxy.close());
    proxyStats = proxy.stats;
    const resource = new Redis(resourceServer.url);
    cleanup.push(async () => resource.disconnect());
    const event = (record: Omit<LogRecord, "seq">) =>
      resource.eval(EVENT_SCRIPT, 2, keys.seq, keys.log, JSON.stringify(record)) as Promise<number>;

    const baseConfig: Omit<WorkerConfig, "slot" | "gen" | "barrier"> = {
      runId,
      workers,
      iterations,
      backend,
      lockUrl: store.url(proxy.port),
      resourceUrl: resourceServer.url,
      keys: lockKeys,
      ttl,
      holdMs: hold,
      fence: !values["no-fence"],
      lock: !values["no-lock"],
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
          else if (!entry.expectedExit) {
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
    const anyGaveUp = () => crashes.some((c) => c.includes("exited (3)"));
    const deadline = started + deadlineMs;
    const findHolder = async (): Promise<{ entry: Slot; it: string } | undefined> => {
      for (let tries = 0; tries < 300 && performance.now() < deadline; tries++) {
        const inside = await resource.hgetall(keys.inside);
        const candidates = Object.entries(inside).flatMap(([slot, at]) => {
          const entry = slots[Number(slot)];
          const [g, it] = at.split(":");
          return entry && !entry.done && entry.gen === Number(g) && it !== undefined
            ? [{ entry, it }]
            : [];
        });
        const found = pick(candidates);
        if (found) return found;
        await sleep(5);
      }
      return undefined;
    };
    let next = 0;
    const order = [...enabledFaults].sort(() => Math.random() - 0.5);
    while (!allDone() && !anyGaveUp() && performance.now() < deadline) {
      await sleep(faultEvery * (0.5 + Math.random()));
      if (allDone() || order.length === 0) continue;
      const fault = order[next++ % order.length]!;
      if (values.verbose) {
        console.error(`chaos: ${((performance.now() - started) / 1000).toFixed(1)} s: ${fault}`);
      }
      if (fault === "kill" || fault === "stop") {
        const holder = await findHolder();
        if (holder === undefined) {
          if (values.verbose) console.error("chaos: no holder inside a critical section found");
          continue;
        }
        const { entry } = holder;
        const pid = entry.child.pid!;
        const inside = (await resource.hget(keys.inside, String(entry.slot))) ?? "";
        if (fault === "kill") {
          entry.expectedExit = true;
          process.kill(pid, "SIGKILL");
          await entry.exited;
          const [, it] = inside.split(":");
          await event({
            t: "K",
            slot: entry.slot,
            gen: entry.gen,
            it: Number(it),
            key: await keyOf(resource, keys.log, entry.slot, entry.gen, Number(it)),
            at: wallNow(),
            fault: "kill holder",
          });
          await resource.hdel(keys.inside, String(entry.slot));
          slots[entry.slot] = spawnWorker(entry.slot, entry.gen + 1, false);
        } else {
          process.kill(pid, "SIGSTOP");
          await event({
            t: "S",
            slot: entry.slot,
            gen: entry.gen,
            at: wallNow(),
            fault: "stop holder past ttl",
          });
          await sleep(ttl + 300);
          process.kill(pid, "SIGCONT");
          await event({ t: "C", slot: entry.slot, gen: entry.gen, at: wallNow() });
        }
      } else if (fault === "restart") {
        await event({ t: "D", at: wallNow(), fault: "restart lock store" });
        const port = await store.restart!();
        proxy.setUpstream(port);
        await event({ t: "U", at: wallNow() });
      } else if (fault === "delay") {
        const ms = 50 + Math.floor(Math.random() * 350);
        proxy.delay(ms, 1000);
        await event({ t: "P", at: wallNow(), fault: "proxy latency spike" });
      } else if (fault === "cut") {
        proxy.cut();
        await event({ t: "P", at: wallNow(), fault: "proxy reset connections" });
      } else {
        proxy.blackhole(2000);
        await event({ t: "P", at: wallNow(), fault: "proxy half-open connections" });
      }
    }
    while (!allDone() && !anyGaveUp() && performance.now() < deadline) await sleep(50);
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
    analysis = analyze(log, state, ttl);
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
  return report(analysis, errors, proxyStats, crashes, problems, performance.now() - started);
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

function report(
  a: Analysis | undefined,
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
  if (a.violations > 0) failures.push(`${a.violations} mutual-exclusion violations where promised`);
  if (a.duplicateTokens > 0) failures.push(`${a.duplicateTokens} fencing tokens issued twice`);
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
  for (const crash of crashes) if (!crash.includes("exited (3)")) failures.push(crash);

  const rows: [string, string | number][] = [
    [
      "backend (lock store)",
      backend === "redis"
        ? "Redis (private redis-server)"
        : external
        ? "MongoDB (MONGODB_URL)"
        : "MongoDB stand-in (jongodb)",
    ],
    [
      "mode",
      `${short ? "short" : "long"}; ${locked ? "locked" : "NO LOCK (control)"}; fencing ${
        fenced
          ? "on"
          : values["no-fence"]
          ? "off (--no-fence)"
          : "not available (lock.fence undefined)"
      }`,
    ],
    [
      "workers x iterations, keys, ttl, hold",
      `${workers} x ${iterations}, ${keyCount}, ${ttl} ms, ~${hold} ms`,
    ],
    ["elapsed", `${(elapsedMs / 1000).toFixed(1)} s`],
    ["critical sections (read-modify-write)", a.sections],
    ["  finished within their lease", a.sectionsInLease],
    ["  holder killed inside", a.sectionsKilled],
    ["writes applied", a.appliedWrites],
    ...Object.entries(a.faults).sort().map(([k, v]) => [`fault: ${k}`, v] as [string, number]),
    ["proxy connections", proxy?.connections ?? 0],
    ["MUTUAL-EXCLUSION VIOLATIONS (promised; must be 0)", a.violations],
    ["overlaps outside the promise: holder paused past ttl", a.overlapsPaused],
    ["overlaps outside the promise: holder slowed past ttl", a.overlapsSlow],
    ["overlaps outside the promise: lock store lost its data", a.overlapsStoreLost],
    ["  late writes of those holders rejected (fence)", a.lateWritesRejected],
    ["  late writes of those holders applied", a.lateWritesApplied],
    ["stale writes rejected by the fence check", a.staleWritesRejected],
    ["stale reads rejected by the fence check", a.staleReadsRejected],
    ["fencing tokens issued twice (must be 0)", a.duplicateTokens],
    [
      `LOST UPDATES (${fenced ? "must be 0" : "unfenced: only from the late writes above"})`,
      a.lostUpdates,
    ],
    ["longest wait for a killed holder's key", `${Math.round(a.maxWaitAfterKillMs)} ms`],
    ["longest recovery after a store restart", `${Math.round(a.maxRecoveryAfterRestartMs)} ms`],
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

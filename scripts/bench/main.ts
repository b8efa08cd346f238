// Copyright 2026 the locco authors. MIT license.
// `deno task bench`: locco against the raw floor and its peers on one private
// Redis, five scenarios, interleaved rounds, medians; then, in the same run,
// the Redis-side breakdown of the sequential cycle (breakdown.ts),
// InMemoryAdapter against async-mutex (memory.ts), MongoAdapter against its
// floor (mongo.ts) and the Deno KV cycles. Prints every table and regenerates
// docs/bench.json, docs/bench.svg and the generated blocks of README.md and
// docs/performance.md (docs.ts). Options (env): BENCH_ROUNDS (default 3),
// BENCH_SECONDS per run (default 2), BENCH_SKIP_MONGO=1, BENCH_SKIP_KV=1,
// BENCH_SKIP_BREAKDOWN=1, BENCH_SCENARIOS and BENCH_LIBRARIES
// (comma-separated ids / names: run only those Redis scenarios and
// contenders, print, and leave every file alone), BENCH_CYCLES_ONLY=1 (only
// the Deno KV cycles, printed; files left alone). locco runs over ioredis and
// over node-redis; `--client ioredis` or `--client node-redis` runs only that
// one of the two (with the floors; a partial run too).

import process from "node:process";
import { writeFileSync } from "node:fs";
import { Redis } from "ioredis";
import { Locker } from "@kontsedal/locco";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { openTestKv, tempKvPath } from "../../tests/_kv.ts";
import { RedisServer } from "../../tests/_redis_server.ts";
import { LIBRARIES, type Library, LOCCO_NODE_REDIS } from "./libraries.ts";
import { renderSvg } from "./svg.ts";
import { formatBreakdown, runBreakdown } from "./breakdown.ts";
import { formatMemory, runMemory } from "./memory.ts";
import { formatMongo, runMongo } from "./mongo.ts";
import { writeDocs } from "./docs.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const TTL = 10_000;
const ONLY_SCENARIOS = process.env.BENCH_SCENARIOS?.split(",");
const CLIENT_FLAG = process.argv.indexOf("--client");
const CLIENT = CLIENT_FLAG < 0 ? undefined : process.argv[CLIENT_FLAG + 1];
if (CLIENT !== undefined && CLIENT !== "ioredis" && CLIENT !== "node-redis") {
  throw new Error(`--client should be ioredis or node-redis: got ${CLIENT}`);
}
const ONLY_LIBRARIES = CLIENT === undefined
  ? process.env.BENCH_LIBRARIES?.split(",")
  : [CLIENT === "node-redis" ? LOCCO_NODE_REDIS : "locco (this)"];
const PARTIAL = ONLY_SCENARIOS !== undefined || ONLY_LIBRARIES !== undefined;

interface Scenario {
  id: string;
  title: string;
  /** Workers, each on its own connection; 0 = `loops` loops sharing one connection. */
  workers: number;
  loops: number;
  holdMs: number;
  retryDelay: number;
  contended: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    id: "seq",
    title: "sequential, uncontended",
    workers: 0,
    loops: 1,
    holdMs: 0,
    retryDelay: 10,
    contended: false,
  },
  {
    id: "c64",
    title: "64 concurrent loops, uncontended",
    workers: 0,
    loops: 64,
    holdMs: 0,
    retryDelay: 10,
    contended: false,
  },
  {
    id: "w8h1",
    title: "8 workers, one key, hold 1 ms",
    workers: 8,
    loops: 1,
    holdMs: 1,
    retryDelay: 10,
    contended: true,
  },
  {
    id: "w2h10",
    title: "2 workers, one key, hold 10 ms",
    workers: 2,
    loops: 1,
    holdMs: 10,
    retryDelay: 50,
    contended: true,
  },
  {
    id: "w8h50",
    title: "8 workers, one key, hold 50 ms",
    workers: 8,
    loops: 1,
    holdMs: 50,
    retryDelay: 10,
    contended: true,
  },
];

/** One run's measurements. */
interface Run {
  ops: number;
  opsPerSec: number;
  maxWaitMs: number;
  /** 99th percentile of the waits. */
  p99WaitMs: number;
  fairness: number;
  commandsPerOp: number;
  meanHoldMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function totalCommands(admin: Redis): Promise<number> {
  const info = await admin.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

async function runOnce(
  library: Library,
  scenario: Scenario,
  url: string,
  admin: Redis,
): Promise<Run> {
  const tag = crypto.randomUUID();
  const connections = scenario.workers === 0 ? 1 : scenario.workers;
  const contenders = Array.from({ length: connections }, () => library.open(url));
  const loops = scenario.workers === 0 ? scenario.loops : scenario.workers;
  const counts = new Array<number>(loops).fill(0);
  const waits: number[] = [];
  let holdTotal = 0;
  try {
    // Warm up: connect, load scripts, open subscribers.
    for (const contender of contenders) {
      const release = await contender.acquire(`bench:warm:${tag}`, TTL, scenario.retryDelay);
      await release();
    }
    const before = await totalCommands(admin);
    const startedAt = performance.now();
    const endAt = startedAt + SECONDS * 1000;
    await Promise.all(counts.map(async (_, index) => {
      const contender = contenders[scenario.workers === 0 ? 0 : index]!;
      const key = scenario.contended ? `bench:${tag}` : `bench:${tag}:${index}`;
      while (performance.now() < endAt) {
        const asked = performance.now();
        const release = await contender.acquire(key, TTL, scenario.retryDelay);
        const got = performance.now();
        waits.push(got - asked);
        if (scenario.holdMs > 0) await sleep(scenario.holdMs);
        holdTotal += performance.now() - got;
        await release();
        counts[index]!++;
      }
    }));
    const elapsed = (performance.now() - startedAt) / 1000;
    const commands = (await totalCommands(admin)) - before - 1;
    const ops = counts.reduce((a, b) => a + b, 0);
    waits.sort((a, b) => a - b);
    return {
      ops,
      opsPerSec: ops / elapsed,
      maxWaitMs: waits[waits.length - 1] ?? 0,
      p99WaitMs: waits[Math.floor(waits.length * 0.99)] ?? 0,
      fairness: Math.min(...counts) / (ops / loops),
      commandsPerOp: commands / ops,
      meanHoldMs: holdTotal / ops,
    };
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function roundTripMs(admin: Redis): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await admin.ping();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

async function cycleRate(
  name: string,
  make: () => Promise<{ locker: Locker; close(): Promise<void> }>,
): Promise<{ name: string; opsPerSec: number }> {
  const { locker, close } = await make();
  try {
    const rates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let ops = 0;
      const started = performance.now();
      while (performance.now() - started < 1000) {
        const lock = await locker.lock("bench:cycle", TTL).acquire();
        await lock.release();
        ops++;
      }
      rates.push(ops / ((performance.now() - started) / 1000));
    }
    return { name, opsPerSec: median(rates) };
  } finally {
    await close();
  }
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** The uncontended cycle on Deno KV: a file database (and an in-memory one on Deno). */
async function kvCycles(): Promise<{ name: string; opsPerSec: number }[]> {
  const targets = [{ name: "DenoKvAdapter (file database)", file: tempKvPath() }];
  const onDeno = (process.versions as Record<string, string | undefined>).deno !== undefined;
  const all = onDeno
    ? [{ name: "DenoKvAdapter (in-memory)", file: undefined }, ...targets]
    : targets;
  const cycles = [];
  for (const { name, file } of all) {
    cycles.push(
      await cycleRate(name, async () => {
        const kv = await openTestKv(file?.path ?? ":memory:");
        const adapter = new DenoKvAdapter({ kv });
        return {
          locker: new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 3 } }),
          async close() {
            await adapter.close();
            kv.close();
            file?.remove();
          },
        };
      }),
    );
  }
  return cycles;
}

async function main(): Promise<void> {
  if (process.env.BENCH_CYCLES_ONLY === "1") {
    const lines = ["Uncontended acquire+release cycles, sequential:"];
    for (const { name, opsPerSec } of await kvCycles()) {
      lines.push(`  ${pad(name, 34)}${pad(opsPerSec.toFixed(0), 9, true)} ops/s`);
    }
    process.stdout.write(lines.join("\n") + "\n");
    return;
  }
  const server = await RedisServer.start();
  const admin = new Redis(server.url);
  const versions = process.versions as Record<string, string | undefined>;
  const machine = `${navigator.hardwareConcurrency} cores, ${
    versions.deno ? `Deno ${versions.deno}` : `Node ${versions.node}`
  }, redis-server ${/redis_version:(\S+)/.exec(await admin.info("server"))![1]} on loopback`;
  try {
    const rtt = await roundTripMs(admin);
    const runs = new Map<string, Run[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const scenario of SCENARIOS) {
        if (ONLY_SCENARIOS && !ONLY_SCENARIOS.includes(scenario.id)) continue;
        // Interleaved, and the order of the libraries rotates every round.
        const order = LIBRARIES.map((_, i) => LIBRARIES[(i + round) % LIBRARIES.length]!);
        for (const library of order) {
          if (scenario.contended && library.uncontendedOnly) continue;
          if (
            ONLY_LIBRARIES && !ONLY_LIBRARIES.includes(library.name) && !library.uncontendedOnly
          ) continue;
          const run = await runOnce(library, scenario, server.url, admin);
          const id = `${scenario.id}|${library.name}`;
          runs.set(id, [...(runs.get(id) ?? []), run]);
          process.stderr.write(
            `round ${round} ${scenario.id} ${library.name}: ${run.opsPerSec.toFixed(0)} ops/s\n`,
          );
        }
      }
    }

    const rows: Array<Record<string, string | number>> = [];
    const lines: string[] = [];
    lines.push(
      `Machine: ${machine}. ${ROUNDS} rounds x ${SECONDS} s, medians. RTT ${rtt.toFixed(3)} ms.`,
    );
    for (const scenario of SCENARIOS) {
      if (ONLY_SCENARIOS && !ONLY_SCENARIOS.includes(scenario.id)) continue;
      const get = (name: string) => runs.get(`${scenario.id}|${name}`) ?? [];
      const med = (name: string, pick: (r: Run) => number) => median(get(name).map(pick));
      let floorOps: number;
      let floorLabel: string;
      if (scenario.contended) {
        const hold = median(
          LIBRARIES.filter((l) => get(l.name).length > 0).map((l) =>
            med(l.name, (r) => r.meanHoldMs)
          ),
        );
        floorOps = 1000 / (hold + rtt);
        floorLabel = `ideal 1/(hold ${hold.toFixed(2)} ms + RTT)`;
      } else {
        floorOps = med("raw floor", (r) => r.opsPerSec);
        floorLabel = "raw floor";
      }
      lines.push("");
      lines.push(
        `${scenario.title} (retry delay ${scenario.retryDelay} ms); ratio to ${floorLabel} = ${
          floorOps.toFixed(0)
        } ops/s`,
      );
      lines.push(
        `  ${pad("library", 32)}${pad("ops/s", 9, true)}${pad("ratio", 7, true)}${
          scenario.contended
            ? `${pad("max wait ms", 13, true)}${pad("p99", 7, true)}${pad("fairness", 10, true)}`
            : ""
        }${pad("cmds/op", 9, true)}`,
      );
      for (const library of LIBRARIES) {
        if (get(library.name).length === 0) continue;
        const ops = med(library.name, (r) => r.opsPerSec);
        const row = {
          scenario: scenario.id,
          library: library.name,
          opsPerSec: ops,
          ratio: ops / floorOps,
          maxWaitMs: med(library.name, (r) => r.maxWaitMs),
          p99WaitMs: med(library.name, (r) => r.p99WaitMs),
          fairness: med(library.name, (r) => r.fairness),
          commandsPerOp: med(library.name, (r) => r.commandsPerOp),
        };
        rows.push(row);
        lines.push(
          `  ${pad(library.name, 32)}${pad(ops.toFixed(0), 9, true)}${
            pad(row.ratio.toFixed(2), 7, true)
          }${
            scenario.contended
              ? `${pad(row.maxWaitMs.toFixed(1), 13, true)}${
                pad(row.p99WaitMs.toFixed(1), 7, true)
              }${pad(row.fairness.toFixed(2), 10, true)}`
              : ""
          }${pad(row.commandsPerOp.toFixed(1), 9, true)}`,
        );
      }
    }

    if (PARTIAL) {
      process.stdout.write(lines.join("\n") + "\n");
      return;
    }
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const breakdown = process.env.BENCH_SKIP_BREAKDOWN === "1"
      ? undefined
      : await runBreakdown(undefined, log);
    const memory = await runMemory(log);
    const mongo = process.env.BENCH_SKIP_MONGO === "1" ? undefined : await runMongo(log);
    const cycles = process.env.BENCH_SKIP_KV === "1" ? [] : await kvCycles();
    if (breakdown) lines.push("", formatBreakdown(breakdown));
    lines.push("", formatMemory(memory));
    if (mongo) lines.push("", formatMongo(mongo));
    if (cycles.length > 0) {
      lines.push("");
      lines.push("Uncontended acquire+release cycles, sequential:");
      for (const { name, opsPerSec } of cycles) {
        lines.push(`  ${pad(name, 34)}${pad(opsPerSec.toFixed(0), 9, true)} ops/s`);
      }
    }
    process.stdout.write(lines.join("\n") + "\n");

    const docs = new URL("../../docs/", import.meta.url);
    writeFileSync(
      new URL("bench.json", docs),
      JSON.stringify(
        {
          machine,
          rounds: ROUNDS,
          seconds: SECONDS,
          rttMs: rtt,
          rows,
          breakdown,
          memory,
          mongo,
          cycles,
        },
        null,
        2,
      ) + "\n",
    );
    writeFileSync(
      new URL("bench.svg", docs),
      renderSvg(
        SCENARIOS.map((s) => ({ id: s.id, title: s.title, contended: s.contended })),
        rows,
        machine,
      ),
    );
    writeDocs({ machine, rows, breakdown, memory, mongo, cycles });
  } finally {
    await admin.quit();
    await server.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

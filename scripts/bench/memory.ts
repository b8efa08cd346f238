// Copyright 2026 the locco authors. MIT license.
// `deno task bench:memory`: InMemoryAdapter against async-mutex, the
// in-process lock most TypeScript code reaches for, in one process,
// interleaved rounds, medians; prints ops/s and the ratio to async-mutex.
// Uncontended: one task, acquire + release on one key, through
// `locker.lock(key, ttl).acquire()` + `release()` and through the adapter
// directly (`createLock` + `releaseLock`), against `mutex.acquire()` +
// `release()` and `mutex.runExclusive()`. Contended: 8 async tasks on one key,
// holding it for nothing or for one microtask; locco's waiters are woken by
// the release (first come first served). Options (env): BENCH_ROUNDS (default
// 5), BENCH_SECONDS per run (default 1).

import process from "node:process";
import { Mutex } from "async-mutex";
import { Locker } from "@kontsedal/locco";
import { InMemoryAdapter } from "@kontsedal/locco/memory";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const TTL = 10_000;
const TASKS = 8;

/** One critical section: take, hold (`hold`), give back. */
type Cycle = (hold: () => Promise<void> | void) => Promise<void>;

/** A contender: a fresh lock state per run, and its cycle on one key. */
interface Contender {
  name: string;
  make(): Cycle;
}

const noHold = () => {};
const microtask = () => Promise.resolve();

let ids = 0;

/** The contenders; the first of each pair of a scenario is the one compared. */
export const CONTENDERS: Contender[] = [
  {
    name: "locco Locker (InMemoryAdapter)",
    make() {
      const locker = new Locker({
        adapter: new InMemoryAdapter(),
        retrySettings: { retryDelay: 10, retryTimes: 1_000_000 },
      });
      return async (hold) => {
        const lock = await locker.lock("bench", TTL).acquire();
        await hold();
        await lock.release();
      };
    },
  },
  {
    name: "InMemoryAdapter direct",
    make() {
      const adapter = new InMemoryAdapter();
      return async (hold) => {
        const lease = { key: "bench", uniqueValue: `u${ids++}`, ttl: TTL };
        await adapter.createLock(lease);
        await hold();
        await adapter.releaseLock(lease);
      };
    },
  },
  {
    name: "async-mutex acquire/release",
    make() {
      const mutex = new Mutex();
      return async (hold) => {
        const release = await mutex.acquire();
        await hold();
        release();
      };
    },
  },
  {
    name: "async-mutex runExclusive",
    make() {
      const mutex = new Mutex();
      return (hold) => mutex.runExclusive(hold);
    },
  },
];

interface Scenario {
  id: string;
  title: string;
  tasks: number;
  hold: () => Promise<void> | void;
}

const SCENARIOS: Scenario[] = [
  { id: "seq", title: "uncontended, one task", tasks: 1, hold: noHold },
  { id: "c8h0", title: `${TASKS} tasks, one key, hold nothing`, tasks: TASKS, hold: noHold },
  {
    id: "c8h1",
    title: `${TASKS} tasks, one key, hold one microtask`,
    tasks: TASKS,
    hold: microtask,
  },
];

/** Critical sections per second and the least-served task's share. */
async function run(
  contender: Contender,
  scenario: Scenario,
): Promise<{ opsPerSec: number; fairness: number }> {
  const cycle = contender.make();
  const counts = new Array<number>(scenario.tasks).fill(0);
  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  await Promise.all(counts.map(async (_, index) => {
    // The direct adapter has no waiting: it is run uncontended only.
    while (performance.now() < endAt) {
      await cycle(scenario.hold);
      counts[index]!++;
    }
  }));
  const ops = counts.reduce((a, b) => a + b, 0);
  return {
    opsPerSec: ops / ((performance.now() - started) / 1000),
    fairness: Math.min(...counts) / (ops / scenario.tasks),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One row of the result. */
export interface MemoryRow {
  scenario: string;
  contender: string;
  opsPerSec: number;
  fairness: number;
  /** Ops/s divided by async-mutex acquire/release's in the same scenario. */
  ratio: number;
}

/** Runs every scenario and returns the medians. */
export async function runMemory(log: (line: string) => void = () => {}): Promise<MemoryRow[]> {
  const runs = new Map<string, Array<{ opsPerSec: number; fairness: number }>>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      for (let i = 0; i < CONTENDERS.length; i++) {
        const contender = CONTENDERS[(i + round) % CONTENDERS.length]!;
        if (scenario.tasks > 1 && contender.name === "InMemoryAdapter direct") continue;
        const result = await run(contender, scenario);
        const id = `${scenario.id}|${contender.name}`;
        runs.set(id, [...(runs.get(id) ?? []), result]);
        log(`round ${round + 1} ${scenario.id} ${contender.name}: ${result.opsPerSec.toFixed(0)}`);
      }
    }
  }
  const rows: MemoryRow[] = [];
  for (const scenario of SCENARIOS) {
    const of = (name: string) => runs.get(`${scenario.id}|${name}`) ?? [];
    const base = median(of("async-mutex acquire/release").map((r) => r.opsPerSec));
    for (const contender of CONTENDERS) {
      const results = of(contender.name);
      if (results.length === 0) continue;
      const opsPerSec = median(results.map((r) => r.opsPerSec));
      rows.push({
        scenario: scenario.id,
        contender: contender.name,
        opsPerSec,
        fairness: median(results.map((r) => r.fairness)),
        ratio: opsPerSec / base,
      });
    }
  }
  return rows;
}

/** The rows as a plain-text table. */
export function formatMemory(rows: MemoryRow[]): string {
  const lines = [
    `In-process locks, ${ROUNDS} interleaved rounds x ${SECONDS} s, medians; ratio to ` +
    "async-mutex acquire/release in the same scenario.",
  ];
  for (const scenario of SCENARIOS) {
    lines.push("", scenario.title);
    lines.push(
      `  ${"contender".padEnd(34)}${"ops/s".padStart(11)}${"ratio".padStart(7)}${
        scenario.tasks > 1 ? "fairness".padStart(10) : ""
      }`,
    );
    for (const row of rows.filter((r) => r.scenario === scenario.id)) {
      lines.push(
        `  ${row.contender.padEnd(34)}${row.opsPerSec.toFixed(0).padStart(11)}${
          row.ratio.toFixed(2).padStart(7)
        }${scenario.tasks > 1 ? row.fairness.toFixed(2).padStart(10) : ""}`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  runMemory((line) => process.stderr.write(`${line}\n`))
    .then((rows) => process.stdout.write(`${formatMemory(rows)}\n`))
    .catch((error) => {
      process.stderr.write(`${error?.stack ?? error}\n`);
      process.exitCode = 1;
    });
}

// Copyright 2026 the locco authors. MIT license.
// `deno task bench:mongo`: MongoAdapter against a raw floor on the MongoDB
// stand-in (tests/_jongodb.ts), interleaved rounds, medians. No MongoDB lock
// library is installed here, so the peer is the floor: one `updateOne` upsert
// that takes the key if it is free or expired (a held key makes the upsert
// insert a duplicate, which the unique index refuses) plus one `deleteOne` by
// key and owner, polling every retry delay under contention. Scenarios:
// sequential uncontended cycles on one connection, and workers (each with its
// own client) on one key holding it a few milliseconds. Options (env):
// BENCH_ROUNDS (default 3), BENCH_SECONDS per run (default 2).

import process from "node:process";
import { MongoClient } from "mongodb";
import { Locker } from "@kontsedal/locco";
import { MongoAdapter } from "@kontsedal/locco/mongodb";
import { startJongodb } from "../../tests/_jongodb.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const TTL = 10_000;
const DB = "locco-bench";

type Release = () => Promise<unknown>;

interface Contender {
  acquire(key: string, retryDelay: number): Promise<Release>;
  close(): Promise<void>;
}

interface Library {
  name: string;
  open(uri: string): Promise<Contender>;
}

async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { directConnection: true });
  await client.connect();
  return client;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const floor: Library = {
  name: "floor (updateOne upsert + deleteOne)",
  async open(uri) {
    const client = await connect(uri);
    const collection = client.db(DB).collection<
      { key: string; owner: string | null; expireAt: Date }
    >("bench-floor");
    await collection.createIndex({ key: 1 }, { unique: true });
    return {
      async acquire(key, retryDelay) {
        const owner = crypto.randomUUID();
        for (;;) {
          const now = Date.now();
          try {
            await collection.updateOne(
              { key, $or: [{ expireAt: { $lte: new Date(now) } }, { owner: null }] },
              { $set: { key, owner, expireAt: new Date(now + TTL) } },
              { upsert: true },
            );
            return () => collection.deleteOne({ key, owner });
          } catch (error) {
            if ((error as { code?: unknown }).code !== 11000) throw error;
          }
          await sleep(retryDelay);
        }
      },
      close: () => client.close(),
    };
  },
};

const locco: Library = {
  name: "locco MongoAdapter",
  async open(uri) {
    const client = await connect(uri);
    const adapter = new MongoAdapter({ client, dbName: DB });
    const lockers = new Map<number, Locker>();
    return {
      async acquire(key, retryDelay) {
        let locker = lockers.get(retryDelay);
        if (!locker) {
          locker = new Locker({ adapter, retrySettings: { retryDelay, retryTimes: 1_000_000 } });
          lockers.set(retryDelay, locker);
        }
        const lock = await locker.lock(key, TTL).acquire();
        return () => lock.release({ throwOnFail: true });
      },
      close: () => client.close(),
    };
  },
};

const LIBRARIES = [floor, locco];

interface Scenario {
  id: string;
  title: string;
  workers: number;
  holdMs: number;
  retryDelay: number;
}

const SCENARIOS: Scenario[] = [
  { id: "seq", title: "sequential, uncontended", workers: 1, holdMs: 0, retryDelay: 20 },
  { id: "w4h5", title: "4 workers, one key, hold 5 ms", workers: 4, holdMs: 5, retryDelay: 20 },
];

interface Run {
  opsPerSec: number;
  maxWaitMs: number;
  p99WaitMs: number;
  fairness: number;
}

async function runOnce(library: Library, scenario: Scenario, uri: string): Promise<Run> {
  const contenders = await Promise.all(
    Array.from({ length: scenario.workers }, () => library.open(uri)),
  );
  const tag = crypto.randomUUID();
  const counts = new Array<number>(scenario.workers).fill(0);
  const waits: number[] = [];
  try {
    for (const contender of contenders) await (await contender.acquire(`warm:${tag}`, 20))();
    const started = performance.now();
    const endAt = started + SECONDS * 1000;
    await Promise.all(contenders.map(async (contender, index) => {
      while (performance.now() < endAt) {
        const asked = performance.now();
        const release = await contender.acquire(`bench:${tag}`, scenario.retryDelay);
        waits.push(performance.now() - asked);
        if (scenario.holdMs > 0) await sleep(scenario.holdMs);
        await release();
        counts[index]!++;
      }
    }));
    const ops = counts.reduce((a, b) => a + b, 0);
    waits.sort((a, b) => a - b);
    return {
      opsPerSec: ops / ((performance.now() - started) / 1000),
      maxWaitMs: waits[waits.length - 1] ?? 0,
      p99WaitMs: waits[Math.floor(waits.length * 0.99)] ?? 0,
      fairness: Math.min(...counts) / (ops / scenario.workers),
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

/** One row of the result: medians, and the ratio of ops/s to the floor's. */
export interface MongoRow extends Run {
  scenario: string;
  library: string;
  ratio: number;
}

/** Starts the stand-in, runs every scenario, stops it. */
export async function runMongo(log: (line: string) => void = () => {}): Promise<MongoRow[]> {
  const mongo = await startJongodb();
  try {
    const runs = new Map<string, Run[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const scenario of SCENARIOS) {
        for (let i = 0; i < LIBRARIES.length; i++) {
          const library = LIBRARIES[(i + round) % LIBRARIES.length]!;
          const run = await runOnce(library, scenario, mongo.uri);
          const id = `${scenario.id}|${library.name}`;
          runs.set(id, [...(runs.get(id) ?? []), run]);
          log(`round ${round + 1} ${scenario.id} ${library.name}: ${run.opsPerSec.toFixed(0)}`);
        }
      }
    }
    const rows: MongoRow[] = [];
    for (const scenario of SCENARIOS) {
      const of = (name: string) => runs.get(`${scenario.id}|${name}`) ?? [];
      const base = median(of(floor.name).map((r) => r.opsPerSec));
      for (const library of LIBRARIES) {
        const results = of(library.name);
        const opsPerSec = median(results.map((r) => r.opsPerSec));
        rows.push({
          scenario: scenario.id,
          library: library.name,
          opsPerSec,
          ratio: opsPerSec / base,
          maxWaitMs: median(results.map((r) => r.maxWaitMs)),
          p99WaitMs: median(results.map((r) => r.p99WaitMs)),
          fairness: median(results.map((r) => r.fairness)),
        });
      }
    }
    return rows;
  } finally {
    await mongo.stop();
  }
}

/** The rows as a plain-text table. */
export function formatMongo(rows: MongoRow[]): string {
  const lines = [
    `MongoDB stand-in, ${ROUNDS} interleaved rounds x ${SECONDS} s, medians; ratio to the floor.`,
  ];
  for (const scenario of SCENARIOS) {
    lines.push("", `${scenario.title} (retry delay ${scenario.retryDelay} ms)`);
    lines.push(
      `  ${"library".padEnd(38)}${"ops/s".padStart(8)}${"ratio".padStart(7)}${
        "max wait ms".padStart(13)
      }${"p99".padStart(7)}${"fairness".padStart(10)}`,
    );
    for (const row of rows.filter((r) => r.scenario === scenario.id)) {
      lines.push(
        `  ${row.library.padEnd(38)}${row.opsPerSec.toFixed(0).padStart(8)}${
          row.ratio.toFixed(2).padStart(7)
        }${row.maxWaitMs.toFixed(1).padStart(13)}${row.p99WaitMs.toFixed(1).padStart(7)}${
          row.fairness.toFixed(2).padStart(10)
        }`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  runMongo((line) => process.stderr.write(`${line}\n`))
    .then((rows) => process.stdout.write(`${formatMongo(rows)}\n`))
    .catch((error) => {
      process.stderr.write(`${error?.stack ?? error}\n`);
      process.exitCode = 1;
    });
}

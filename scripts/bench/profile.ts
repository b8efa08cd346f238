// Copyright 2026 the locco authors. MIT license.
// The sequential, uncontended scenario of the benchmark for one contender,
// nothing else, so that a CPU profile of the process shows where its client
// side goes. Run by scripts/bench/profile.sh (Deno: --cpu-prof; Node:
// --cpu-prof on the packed npm build), against REDIS_URL. Options (env):
// BENCH_LIBRARY (default "locco (this)"), BENCH_SECONDS (default 10).
// Runs on Deno and on Node (node: APIs only).

import process from "node:process";
import { LIBRARIES } from "./libraries.ts";

const NAME = process.env.BENCH_LIBRARY ?? "locco (this)";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const URL_ = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

async function main(): Promise<void> {
  const library = LIBRARIES.find((l) => l.name === NAME);
  if (!library) {
    throw new Error(`BENCH_LIBRARY should be one of ${LIBRARIES.map((l) => l.name).join(", ")}`);
  }
  const contender = library.open(URL_);
  const key = `bench:profile:${crypto.randomUUID()}`;
  try {
    for (let i = 0; i < 1000; i++) await (await contender.acquire(key, 10_000, 10))();
    let cycles = 0;
    const started = performance.now();
    while (performance.now() - started < SECONDS * 1000) {
      const release = await contender.acquire(key, 10_000, 10);
      await release();
      cycles++;
    }
    const us = ((performance.now() - started) * 1000) / cycles;
    process.stdout.write(`${NAME}: ${cycles} cycles, ${us.toFixed(1)} µs per cycle\n`);
  } finally {
    await contender.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

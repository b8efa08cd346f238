// Copyright 2026 the locco authors. MIT license.
// The multi-process Deno KV worker (_kv_counter.ts) on the package under
// test. Runs on Deno, Node (through tsx) and Bun; no top-level await.

import { Locker } from "@kontsedal/locco";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { runCounterWorker } from "./_kv_counter.ts";

runCounterWorker({ Locker, DenoKvAdapter });

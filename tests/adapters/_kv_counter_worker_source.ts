// Copyright 2026 the locco authors. MIT license.
// The multi-process Deno KV worker (_kv_counter.ts) on the repository's
// sources, for Node (through tsx) and Bun processes started by the Deno run,
// where "@kontsedal/locco" does not resolve.

import { Locker } from "../../mod.ts";
import { DenoKvAdapter } from "../../src/adapters/kv.ts";
import { runCounterWorker } from "./_kv_counter.ts";

runCounterWorker({ Locker, DenoKvAdapter });

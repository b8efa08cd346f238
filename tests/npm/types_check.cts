// Copyright 2026 the locco authors. MIT license.
// Type-checked (never run) by scripts/npm_smoke.sh against the packed package's CommonJS
// declarations: tsc with moduleResolution node16, skipLibCheck off.

import {
  InMemoryAdapter,
  isLoccoError,
  type Lock,
  Locker,
  type RetrySettings,
} from "@kontsedal/locco";
import { InMemoryAdapter as MemoryAdapter } from "@kontsedal/locco/memory";

const settings: RetrySettings = { retryDelay: 50, retryTimes: 5 };

export async function run(): Promise<number> {
  const locker = new Locker({ adapter: new MemoryAdapter(), retrySettings: settings });
  const lock: Lock = await locker.lock("resource:1", 1000).acquire();
  await lock.release();
  const other = new Locker({ adapter: new InMemoryAdapter(), retrySettings: settings });
  try {
    // @ts-expect-error acquire's callback receives the Lock, not a string
    return await other.lock("k", 1000).acquire(async (l: string) => l.length);
  } catch (error) {
    return isLoccoError(error) ? error.code.length : 0;
  }
}

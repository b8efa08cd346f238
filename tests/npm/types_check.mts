// Copyright 2026 the locco authors. MIT license.
// Type-checked (never run) by scripts/npm_smoke.sh against the packed package's ESM
// declarations: tsc with moduleResolution node16 and bundler, skipLibCheck off.

import {
  type ILockAdapter,
  InMemoryAdapter,
  isLoccoError,
  LoccoError,
  type Lock,
  Locker,
  LockReleaseError,
  RetryError,
  type RetrySettings,
  ValidationError,
} from "@kontsedal/locco";
import { InMemoryAdapter as MemoryAdapter } from "@kontsedal/locco/memory";

const settings: RetrySettings = { retryDelay: 50, retryTimes: 5 };
const adapter: ILockAdapter = new MemoryAdapter();
const locker: Locker = new Locker({ adapter, retrySettings: settings });

export async function run(): Promise<{ success: boolean }> {
  const lock: Lock = await locker.lock("user:123", 3000).acquire();
  try {
    await lock.extend(2000);
    const held: boolean = await lock.isLocked();
    const token: string = lock.uniqueValue;
    void [held, token, lock.key, lock.ttl, lock.retrySettings];
  } finally {
    await lock.release({ throwOnFail: true });
  }
  const other = new Locker({ adapter: new InMemoryAdapter(), retrySettings: settings });
  // @ts-expect-error ttl is a number of milliseconds
  other.lock("key", "3000");
  return await other.lock("user:123", 3000).setRetrySettings({ retryDelay: 100, retryTimes: 50 })
    .acquire(async (l: Lock) => {
      await l.extend(2000);
      return { success: true };
    });
}

export function classify(error: unknown): string {
  if (isLoccoError(error, "RETRY_FAILED")) return error.code;
  if (error instanceof RetryError || error instanceof ValidationError) return error.name;
  if (error instanceof LockReleaseError) return error.message;
  return error instanceof LoccoError ? "locco" : "other";
}

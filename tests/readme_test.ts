// Copyright 2026 the locco authors. MIT license.
// The 0.1.0 README's in-memory examples, verbatim apart from assertions added
// after them. (The Redis and MongoDB examples run in their adapters' tests.)

import assert from "node:assert/strict";
import { InMemoryAdapter, Locker, RetryError, ValidationError } from "@kontsedal/locco";

Deno.test("README in-memory example acquires and releases", async () => {
  const locker = new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: { retryDelay: 50, retryTimes: 5 },
  });
  const lock = await locker.lock("resource:1", 1000).acquire();
  // ...
  await lock.release();
  assert.equal(await lock.isLocked(), false);
});

Deno.test("README custom delay function example backs off exponentially", async () => {
  const delays: number[] = [];
  const locker = new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: {
      retryDelayFn: (
        { attemptNumber, startedAt: _startedAt, previousDelay: _p, settings: _s, stop },
      ) => {
        if (attemptNumber === 3) stop();
        // Exponential backoff
        const delay = Math.min(2 ** attemptNumber * 50, 5000);
        delays.push(delay);
        return delay;
      },
    },
  });
  const holder = await locker.lock("key", 3000).acquire();
  await assert.rejects(
    locker.lock("key", 3000).acquire(),
    (e) => e instanceof RetryError && e.attempts === 4,
  );
  assert.deepEqual(delays, [50, 100, 200, 400]);
  await holder.release();
});

Deno.test("README errors example tells RetryError from ValidationError", async () => {
  const locker = new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: { retryDelay: 10, retryTimes: 2 },
  });
  const seen: string[] = [];
  const attempt = async (ttl: number) => {
    try {
      const lock = await locker.lock("key", ttl).acquire();
      seen.push(lock.key);
    } catch (error) {
      if (error instanceof RetryError) {
        seen.push("retry");
      } else if (error instanceof ValidationError) {
        seen.push("validation");
      }
    }
  };
  await attempt(3000);
  await attempt(3000);
  await attempt(-1);
  assert.deepEqual(seen, ["key", "retry", "validation"]);
});

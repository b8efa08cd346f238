// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import {
  InMemoryAdapter,
  LockCreateError,
  Locker,
  type RetryDelayContext,
  RetryError,
  type RetrySettings,
  ValidationError,
} from "@kontsedal/locco";
import { RecordingAdapter } from "./_helpers.ts";

/** An adapter on which "held" is locked by someone else for a long time. */
async function heldAdapter(): Promise<RecordingAdapter> {
  const inner = new InMemoryAdapter();
  await inner.createLock({ key: "held", uniqueValue: "someone-else", ttl: 600_000 });
  return new RecordingAdapter(inner);
}

async function failure(settings: RetrySettings): Promise<{
  error: RetryError;
  adapter: RecordingAdapter;
  elapsed: number;
}> {
  const adapter = await heldAdapter();
  const locker = new Locker({ adapter, retrySettings: settings });
  const started = performance.now();
  const error = await locker.lock("held", 1000).acquire().catch((e) => e);
  const elapsed = performance.now() - started;
  assert.ok(error instanceof RetryError, `expected RetryError, got ${error}`);
  return { error, adapter, elapsed };
}

function settingsError(message: string | RegExp, parameter?: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ValidationError, `expected ValidationError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    if (parameter !== undefined) assert.equal(error.parameter, parameter);
    return true;
  };
}

function makeLocker(retrySettings: unknown): Locker {
  return new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: retrySettings as RetrySettings,
  });
}

Deno.test("RetrySettings rejects non-integer retryDelay, retryTimes and totalTime, in that order", async (t) => {
  for (const name of ["retryDelay", "retryTimes", "totalTime"]) {
    for (const value of ["10", 1.5, NaN, null, true]) {
      await t.step(`${name} = ${String(value)}`, () => {
        const settings = { retryDelay: 10, retryTimes: 3, [name]: value };
        assert.throws(
          () => makeLocker(settings),
          settingsError(`${name} should be an integer`, `retrySettings.${name}`),
        );
      });
    }
  }
  assert.throws(
    () => makeLocker({ retryDelay: "x", retryTimes: "y", totalTime: "z" }),
    settingsError("retryDelay should be an integer"),
  );
  assert.throws(
    () => makeLocker({ retryDelay: 5, retryTimes: "y", totalTime: "z" }),
    settingsError("retryTimes should be an integer"),
  );
});

Deno.test("RetrySettings rejects a retryDelayFn that is not a function, null included", async (t) => {
  for (const value of [null, 5, "fn", {}]) {
    await t.step(String(value), () => {
      assert.throws(
        () => makeLocker({ retryDelayFn: value }),
        settingsError("retryDelayFn should be a function", "retrySettings.retryDelayFn"),
      );
    });
  }
});

Deno.test("RetrySettings rejects retryDelayFn together with retryDelay", () => {
  assert.throws(
    () => makeLocker({ retryDelayFn: () => 10, retryDelay: 10 }),
    settingsError("Can't have both retryDelayFn and retryDelay"),
  );
});

Deno.test("RetrySettings requires retryTimes and retryDelay without retryDelayFn", async (t) => {
  for (const settings of [{}, { retryTimes: 20 }, { retryDelay: 20 }, { totalTime: 100 }]) {
    await t.step(JSON.stringify(settings), () => {
      assert.throws(
        () => makeLocker(settings),
        settingsError(
          "retryTimes and retryDelay should be specified if retryDelayFn is not provided",
        ),
      );
    });
  }
});

Deno.test("RetrySettings accepts the documented combinations", () => {
  const fn = () => 10;
  for (
    const settings of [
      { retryTimes: 3, retryDelay: 10 },
      { retryTimes: 3, retryDelay: 10, totalTime: 100 },
      { retryDelayFn: fn },
      { retryDelayFn: fn, totalTime: 100 },
      { retryDelayFn: fn, totalTime: 100, retryTimes: 3 },
    ]
  ) {
    assert.deepEqual(makeLocker(settings).lock("k", 1000).retrySettings, settings);
  }
});

Deno.test("RetrySettings rejects zero, negative, infinite and too large numbers", async (t) => {
  const cases: Array<[string, unknown]> = [
    ["retryTimes", 0],
    ["retryTimes", -1],
    ["retryTimes", Infinity],
    ["retryDelay", 0],
    ["retryDelay", -5],
    ["retryDelay", Infinity],
    ["retryDelay", 2 ** 31],
    ["totalTime", 0],
    ["totalTime", -1],
    ["totalTime", Infinity],
  ];
  for (const [name, value] of cases) {
    await t.step(`${name} = ${value}`, () => {
      assert.throws(
        () => makeLocker({ retryDelay: 10, retryTimes: 3, [name]: value }),
        settingsError(new RegExp(`^${name} should be an integer`), `retrySettings.${name}`),
      );
    });
  }
  assert.ok(makeLocker({ retryDelay: 2 ** 31 - 1, retryTimes: 1 }));
});

Deno.test("Lock.acquire() makes retryTimes attempts in total, retryDelay apart, with no trailing sleep", async () => {
  const { error, adapter, elapsed } = await failure({ retryTimes: 3, retryDelay: 50 });
  assert.equal(error.message, "Reached retry times limit");
  assert.equal(adapter.count("createLock"), 3);
  const times = adapter.calls.map((c) => c.at);
  assert.ok(times[1]! - times[0]! >= 45, `gaps ${times}`);
  assert.ok(times[2]! - times[1]! >= 45, `gaps ${times}`);
  assert.ok(elapsed - times[2]! < 40, `trailing wait ${elapsed - times[2]!} ms`);
});

Deno.test("Lock.acquire() with retryTimes 1 makes exactly one attempt", async () => {
  const { error, adapter } = await failure({ retryTimes: 1, retryDelay: 1000 });
  assert.equal(error.attempts, 1);
  assert.equal(adapter.count("createLock"), 1);
});

Deno.test("RetryError carries the attempt count, the key and the last LockCreateError", async () => {
  const { error } = await failure({ retryTimes: 2, retryDelay: 5 });
  assert.equal(error.name, "RetryError");
  assert.equal(error.code, "RETRY_FAILED");
  assert.equal(error.attempts, 2);
  assert.equal(error.key, "held");
  assert.ok(error.cause instanceof LockCreateError);
});

Deno.test("Lock.acquire() ends at totalTime when it comes first", async () => {
  const { error, adapter, elapsed } = await failure({
    retryTimes: 100,
    retryDelay: 40,
    totalTime: 100,
  });
  assert.equal(error.message, "Total time exceeded");
  assert.equal(adapter.count("createLock"), 3);
  assert.ok(elapsed >= 95 && elapsed < 400, `elapsed ${elapsed} ms`);
});

Deno.test("Lock.acquire() never sleeps past totalTime", async () => {
  const { error, adapter, elapsed } = await failure({
    retryTimes: 100,
    retryDelay: 5000,
    totalTime: 100,
  });
  assert.equal(error.message, "Total time exceeded");
  assert.equal(adapter.count("createLock"), 1);
  assert.ok(elapsed < 2000, `elapsed ${elapsed} ms; a 5 s sleep was not cut at the deadline`);
});

Deno.test("Lock.acquire() ends at retryTimes when it comes before totalTime", async () => {
  const { error } = await failure({ retryTimes: 2, retryDelay: 5, totalTime: 60_000 });
  assert.equal(error.message, "Reached retry times limit");
});

Deno.test("retryDelayFn gets attemptNumber, startedAt, previousDelay, settings and stop", async () => {
  const contexts: RetryDelayContext[] = [];
  const before = Date.now();
  const settings: RetrySettings = {
    retryTimes: 3,
    retryDelayFn: (context) => {
      contexts.push(context);
      return 10 * (context.attemptNumber + 1);
    },
  };
  const { error, adapter } = await failure(settings);
  assert.equal(error.message, "Reached retry times limit");
  assert.equal(adapter.count("createLock"), 3);
  assert.deepEqual(contexts.map((c) => c.attemptNumber), [0, 1]);
  assert.deepEqual(contexts.map((c) => c.previousDelay), [0, 10]);
  for (const c of contexts) {
    assert.ok(c.startedAt >= before && c.startedAt <= Date.now());
    assert.deepEqual(c.settings, settings);
    assert.equal(typeof c.stop, "function");
  }
  const gap = adapter.calls[2]!.at - adapter.calls[1]!.at;
  assert.ok(gap >= 18, `second delay ${gap} ms, expected about 20`);
});

Deno.test("retryDelayFn may return a promise of the delay", async () => {
  const { adapter } = await failure({ retryTimes: 2, retryDelayFn: () => Promise.resolve(30) });
  assert.ok(adapter.calls[1]!.at - adapter.calls[0]!.at >= 25);
});

Deno.test("stop() ends acquire() with 'Was manually stopped'", async () => {
  const { error, adapter } = await failure({
    retryDelayFn: ({ attemptNumber, stop }) => {
      if (attemptNumber === 3) stop();
      return 5;
    },
  });
  assert.equal(error.message, "Was manually stopped");
  assert.equal(error.attempts, 4);
  assert.equal(adapter.count("createLock"), 4);
});

Deno.test("stop() cannot be swallowed by the delay function", async () => {
  const { error, adapter } = await failure({
    retryDelayFn: ({ stop }) => {
      try {
        stop();
      } catch {
        // a defensive delay function must not be able to cancel stop()
      }
      return 5;
    },
  });
  assert.equal(error.message, "Was manually stopped");
  assert.equal(adapter.count("createLock"), 1);
});

Deno.test("stop() wins even when the delay function throws after calling it", async () => {
  const thrown = new Error("after stop");
  const { error } = await failure({
    retryDelayFn: ({ stop }) => {
      stop();
      throw thrown;
    },
  });
  assert.equal(error.message, "Was manually stopped");
  assert.equal(error.cause, thrown);
});

Deno.test("an error thrown by retryDelayFn rejects acquire() unchanged", async () => {
  const adapter = await heldAdapter();
  const thrown = new Error("delay fn bug");
  const locker = new Locker({
    adapter,
    retrySettings: {
      retryDelayFn: () => {
        throw thrown;
      },
    },
  });
  await assert.rejects(locker.lock("held", 1000).acquire(), (e) => e === thrown);
});

Deno.test("a delay that is not a number from 0 to 2147483647 rejects with ValidationError", async (t) => {
  for (const value of [NaN, undefined, -1, "10", Infinity, 2 ** 31, null]) {
    await t.step(String(value), async () => {
      const adapter = await heldAdapter();
      const locker = new Locker({
        adapter,
        retrySettings: { retryDelayFn: () => value as number },
      });
      await assert.rejects(
        locker.lock("held", 1000).acquire(),
        settingsError(/^retryDelayFn should return a number/, "retrySettings.retryDelayFn"),
      );
      assert.equal(adapter.count("createLock"), 1);
    });
  }
});

Deno.test("retryDelayFn alone retries until the lock is free", async () => {
  const inner = new InMemoryAdapter();
  await inner.createLock({ key: "k", uniqueValue: "other", ttl: 120 });
  const adapter = new RecordingAdapter(inner);
  const locker = new Locker({ adapter, retrySettings: { retryDelayFn: () => 10 } });
  const lock = await locker.lock("k", 1000).acquire();
  assert.ok(adapter.count("createLock") > 3);
  await lock.release();
});

Deno.test("Lock.acquire() does not retry errors other than LockCreateError", async () => {
  const adapter = await heldAdapter();
  const outage = new Error("Connection is closed.");
  adapter.failNext("createLock", outage);
  const locker = new Locker({ adapter, retrySettings: { retryTimes: 10, retryDelay: 5 } });
  await assert.rejects(locker.lock("held", 1000).acquire(), (e) => e === outage);
  assert.equal(adapter.count("createLock"), 1);
});

// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import {
  type ILockAdapter,
  InMemoryAdapter,
  IoRedisAdapter,
  type IoRedisLikeClient,
  MongoAdapter,
  type MongoLikeClient,
  ValidationError,
} from "@kontsedal/locco";
import { DenoKvAdapter } from "@kontsedal/locco/kv";

const ILL_FORMED = ["k\uD800", "k\uDC00", "\uDFFF\uD800", "a\uD83Dx", "\uD83D"];
const WELL_FORMED = "k\uD83D\uDE00";

/** An error for any I/O: the adapters must reject ill-formed strings before they reach the client. */
const NO_IO = new Error("the client was used");

function noIo(): never {
  throw NO_IO;
}

const ADAPTERS: [string, () => ILockAdapter][] = [
  ["InMemoryAdapter", () => new InMemoryAdapter()],
  ["IoRedisAdapter", () =>
    new IoRedisAdapter({
      client: { set: noIo, get: noIo, evalsha: noIo, eval: noIo } as unknown as IoRedisLikeClient,
    })],
  ["MongoAdapter", () =>
    new MongoAdapter({
      client: {
        db: () => ({
          collection: () => ({
            createIndex: noIo,
            updateOne: noIo,
            deleteOne: noIo,
            findOne: noIo,
          }),
        }),
      } as unknown as MongoLikeClient,
    })],
  [
    "DenoKvAdapter",
    () =>
      new DenoKvAdapter({ kv: { get: noIo, atomic: noIo, watch: noIo }, waitStrategy: "watch" }),
  ],
];

function isValidationOf(parameter: string): (error: unknown) => boolean {
  return (error) => error instanceof ValidationError && error.parameter === parameter;
}

for (const [name, make] of ADAPTERS) {
  Deno.test(`${name} rejects a key or uniqueValue with an unpaired surrogate before any I/O`, async (t) => {
    const adapter = make();
    for (const bad of ILL_FORMED) {
      await t.step(JSON.stringify(bad), async () => {
        for (
          const [parameter, identity] of [
            ["key", { key: bad, uniqueValue: "owner" }],
            ["uniqueValue", { key: WELL_FORMED, uniqueValue: bad }],
          ] as const
        ) {
          const lease = { ...identity, ttl: 1000 };
          await assert.rejects(adapter.createLock(lease), isValidationOf(parameter));
          await assert.rejects(adapter.extendLock(lease), isValidationOf(parameter));
          await assert.rejects(adapter.releaseLock(identity), isValidationOf(parameter));
          await assert.rejects(adapter.isValidLock(identity), isValidationOf(parameter));
          if (adapter.waitForUnlock !== undefined) {
            await assert.rejects(
              adapter.waitForUnlock(identity, 10, new AbortController().signal),
              isValidationOf(parameter),
            );
          }
        }
      });
    }
  });
}

for (const [name, make] of ADAPTERS) {
  const adapter = make();
  if (typeof adapter.waitForUnlock !== "function") continue;
  Deno.test(`${name}.waitForUnlock() rejects with ValidationError naming a missing or bad signal or maxWaitMs, never throws`, async (t) => {
    const identity = { key: "k", uniqueValue: "owner" };
    const signal = new AbortController().signal;
    const cases: [string, unknown, unknown][] = [
      ["signal", 10, undefined],
      ["signal", 10, null],
      ["signal", 10, {}],
      ["maxWaitMs", undefined, signal],
      ["maxWaitMs", -1, signal],
      ["maxWaitMs", Number.NaN, signal],
      ["maxWaitMs", "10", signal],
    ];
    for (const [parameter, maxWaitMs, badSignal] of cases) {
      await t.step(
        `${parameter}: ${String(parameter === "signal" ? badSignal : maxWaitMs)}`,
        async () => {
          let result: Promise<void> | undefined;
          assert.doesNotThrow(() => {
            result = adapter.waitForUnlock!(
              identity,
              maxWaitMs as number,
              badSignal as AbortSignal,
            );
          });
          await assert.rejects(result!, isValidationOf(parameter));
        },
      );
    }
  });
}

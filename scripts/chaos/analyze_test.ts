// Copyright 2026 the locco authors. MIT license.
// The chaos analysis on hand-made logs: each check of scripts/chaos/_analyze.ts
// fires on a log that breaks its promise and stays quiet on one that keeps it
// (run in CI: scripts/ci.sh).

import assert from "node:assert/strict";
import { analyze } from "./_analyze.ts";
import type { LogRecord } from "./_resource.ts";

const TTL = 500;

/** A log under construction: sections opened and closed in sequence order. */
class Log {
  records: LogRecord[] = [];
  #seq = 0;

  /** A holder's read: it began to acquire after `pre`, sent its createLock at `sent`. */
  enter(
    slot: number,
    key: string,
    fence: number | undefined,
    options: { pre?: number; sent?: number; side?: string | undefined; it?: number } = {},
  ): number {
    const seq = ++this.#seq;
    this.records.push({
      t: "E",
      seq,
      slot,
      gen: 0,
      it: options.it ?? 0,
      key,
      fence: fence === undefined ? "" : String(fence),
      pre: options.pre ?? 0,
      at: 1000,
      sent: options.sent ?? 1000,
      status: "ok",
      side: options.side,
    });
    return seq;
  }

  /** A holder's end: a write (`applied`) or an EXIT, and its lease measurement. */
  exit(slot: number, key: string, options: { exit?: boolean; it?: number } = {}): number {
    const seq = ++this.#seq;
    const it = options.it ?? 0;
    this.records.push(
      options.exit
        ? { t: "X", seq, slot, gen: 0, it, key, exit: true }
        : { t: "X", seq, slot, gen: 0, it, key, applied: true },
    );
    this.records.push({
      t: "L",
      seq: ++this.#seq,
      slot,
      gen: 0,
      it,
      key,
      entered: 1010,
      inLease: true,
      heldMs: 20,
    });
    return seq;
  }

  /** The lock store lost its data here. */
  down(): void {
    this.records.push({ t: "D", seq: ++this.#seq, at: 1000, fault: "restart lock store" });
  }
}

const noState = new Map<string, { value: number; applied: number }>();

Deno.test("semaphore: a fourth permit inside with three others within their leases is a violation of limit 3", () => {
  const log = new Log();
  for (let slot = 0; slot < 4; slot++) log.enter(slot, "s", slot + 1, { side: "slot" });
  for (let slot = 0; slot < 4; slot++) log.exit(slot, "s", { exit: true });
  const three = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 3 });
  assert.equal(three.violations, 1);
  assert.equal(three.maxInside, 4);
  const four = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 4 });
  assert.equal(four.violations, 0);
  assert.equal(four.overLimit, 0);
});

Deno.test("semaphore: a permit entering after another's lease ended is outside the promise", () => {
  const log = new Log();
  log.enter(0, "s", 1, { side: "slot", sent: 0 }); // lease over by 500
  log.enter(1, "s", 2, { side: "slot" });
  log.exit(1, "s", { exit: true });
  log.exit(0, "s", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 1 });
  assert.equal(a.violations, 0);
  assert.equal(a.overLimit, 1);
  assert.equal(a.overlapsSlow, 1);
});

Deno.test("semaphore fences: a permit acquired after another entered must get a greater fence", () => {
  const log = new Log();
  const first = log.enter(0, "s", 10, { side: "slot" });
  log.exit(0, "s", { exit: true });
  log.enter(1, "s", 5, { side: "slot", pre: first });
  log.exit(1, "s", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 3 });
  assert.equal(a.fenceOrderViolations, 1);
  assert.equal(a.violations, 0);
});

Deno.test("semaphore fences: permits acquired at the same time may enter in any order", () => {
  const log = new Log();
  log.enter(0, "s", 10, { side: "slot", pre: 0 });
  log.enter(1, "s", 5, { side: "slot", pre: 0 });
  log.exit(0, "s", { exit: true });
  log.exit(1, "s", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 3 });
  assert.equal(a.fenceOrderChecked, 2);
  assert.equal(a.fenceOrderViolations, 0);
  assert.equal(a.duplicateTokens, 0);
});

Deno.test("semaphore fences: a lower fence after the lock store lost its data is not counted", () => {
  const log = new Log();
  log.enter(0, "s", 10, { side: "slot" });
  log.exit(0, "s", { exit: true });
  log.down();
  const after = log.records.length;
  log.enter(1, "s", 5, { side: "slot", pre: after });
  log.exit(1, "s", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 3 });
  assert.equal(a.fenceOrderViolations, 0);
});

Deno.test("semaphore fences: one fence given to two permits is counted", () => {
  const log = new Log();
  log.enter(0, "s", 7, { side: "slot" });
  log.enter(1, "s", 7, { side: "slot" });
  log.exit(0, "s", { exit: true });
  log.exit(1, "s", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "semaphore", limit: 3 });
  assert.equal(a.duplicateTokens, 1);
});

Deno.test("read-write lock: readers overlap freely, a writer with a reader is a violation", () => {
  const readers = new Log();
  readers.enter(0, "rw", 1, { side: "read" });
  readers.enter(1, "rw", 2, { side: "read" });
  readers.exit(0, "rw", { exit: true });
  readers.exit(1, "rw", { exit: true });
  const ok = analyze(readers.records, noState, TTL, { primitive: "rw", limit: 1 });
  assert.equal(ok.violations, 0);
  assert.equal(ok.readerOverlaps, 1);
  assert.equal(ok.maxReadersInside, 2);

  const mixed = new Log();
  mixed.enter(0, "rw", 1, { side: "read" });
  mixed.enter(1, "rw", 2, { side: "write" });
  mixed.exit(0, "rw", { exit: true });
  mixed.exit(1, "rw");
  const bad = analyze(mixed.records, noState, TTL, { primitive: "rw", limit: 1 });
  assert.equal(bad.violations, 1);
  assert.equal(bad.readerOverlaps, 0);
});

Deno.test("read-write lock: a reader's exit is neither a write nor a refused write", () => {
  const log = new Log();
  log.enter(0, "rw", 1, { side: "read" });
  log.exit(0, "rw", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "rw", limit: 1 });
  assert.equal(a.sections, 1);
  assert.equal(a.appliedWrites, 0);
  assert.equal(a.staleWritesRejected, 0);
  assert.equal(a.fencedWritesRefusedInLease, 0);
});

Deno.test("multi-key lock: one holder's keys are separate sections; a shared key overlapping is a violation", () => {
  const log = new Log();
  log.enter(0, "a", 1, { it: 0 });
  log.enter(0, "b", 1, { it: 0 });
  log.enter(1, "c", 1, { it: 0 });
  log.enter(1, "b", 2, { it: 0 });
  for (const [slot, key] of [[0, "a"], [0, "b"], [1, "c"], [1, "b"]] as const) log.exit(slot, key);
  const a = analyze(log.records, noState, TTL, { primitive: "multi", limit: 1 });
  assert.equal(a.sections, 4);
  assert.equal(a.violations, 1);
  assert.match(a.violationExamples[0]!, /key b/);
  assert.equal(a.waitsMeasured, false);
});

Deno.test("read-write lock: past their leases, a reader with a lower fence entering after a writer makes the reader late, not the writer", () => {
  const log = new Log();
  log.enter(0, "rw", 20, { side: "write", sent: 0 });
  log.enter(1, "rw", 10, { side: "read", sent: 0 });
  log.exit(0, "rw"); // applied: the reader's lower fence cannot refuse it
  log.exit(1, "rw", { exit: true });
  const a = analyze(log.records, noState, TTL, { primitive: "rw", limit: 1 });
  assert.equal(a.violations, 0);
  assert.equal(a.overlapsSlow, 1);
  assert.equal(a.lateWritesApplied, 0);

  const swapped = new Log();
  swapped.enter(0, "rw", 10, { side: "write", sent: 0 });
  swapped.enter(1, "rw", 20, { side: "read", sent: 0 });
  swapped.exit(0, "rw"); // marked applied: a newer reader was inside, so the fence should have refused it
  swapped.exit(1, "rw", { exit: true });
  const late = analyze(swapped.records, noState, TTL, { primitive: "rw", limit: 1 });
  assert.equal(late.lateWritesApplied, 1);
});

Deno.test("a holder that entered after its own lease ended is outside the promise, on every primitive", () => {
  for (const primitive of ["lock", "semaphore", "rw"] as const) {
    const log = new Log();
    const side = primitive === "semaphore" ? "slot" : primitive === "rw" ? "read" : undefined;
    log.enter(0, "k", undefined, { side: primitive === "rw" ? "write" : side });
    log.enter(1, "k", undefined, { side, sent: 0 }); // its createLock was sent 1010 ms before
    log.exit(0, "k", { exit: primitive === "semaphore" });
    log.exit(1, "k", { exit: primitive !== "lock" });
    const a = analyze(log.records, noState, TTL, { primitive, limit: 1 });
    assert.equal(a.violations, 0, primitive);
    assert.equal(primitive === "semaphore" ? a.overLimit : a.overlapsSlow, 1, primitive);
  }
});

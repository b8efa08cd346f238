// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter's options, checked before any I/O, its wall clock, and the
// expireIn it gives KV.

import { ValidationError } from "../errors.ts";
import { describe, validateDriftMargin, validateObject } from "../_validate.ts";
import { type KvKeyPart, prefixSize, validatePrefix } from "./_kv_record.ts";
import type { DenoKvAdapterOptions, DenoKvLike } from "./_kv_types.ts";

const DEFAULT_PREFIX: readonly KvKeyPart[] = Object.freeze(["locco"]);
const DEFAULT_DRIFT_MARGIN_MS = 50;

/** The checked options of a DenoKvAdapter. */
export interface KvSettings {
  kv: DenoKvLike;
  prefix: readonly KvKeyPart[];
  prefixSize: number;
  margin: number;
  now: () => number;
  /** Whether waiters are woken by `kv.watch()` (else they poll). */
  watch: boolean;
}

function isDenoKv(kv: unknown): boolean {
  const Kv = (globalThis as { Deno?: { Kv?: unknown } }).Deno?.Kv;
  return typeof Kv === "function" && kv instanceof Kv;
}

/** Checks the options; ValidationError naming the bad one. */
export function kvSettings(options: DenoKvAdapterOptions): KvSettings {
  validateObject(options, "options");
  const {
    kv,
    prefix = DEFAULT_PREFIX,
    clockDriftMargin = DEFAULT_DRIFT_MARGIN_MS,
    now = Date.now,
    waitStrategy,
  } = options;
  if (
    typeof kv !== "object" || kv === null || typeof kv.get !== "function" ||
    typeof kv.atomic !== "function"
  ) {
    throw new ValidationError(
      `options.kv should be a Deno KV handle with get() and atomic(): got ${describe(kv)}`,
      "options.kv",
    );
  }
  const checkedPrefix = validatePrefix(prefix);
  validateDriftMargin(clockDriftMargin);
  if (typeof now !== "function") {
    throw new ValidationError(
      `options.now should be a function: got ${describe(now)}`,
      "options.now",
    );
  }
  if (waitStrategy !== undefined && waitStrategy !== "watch" && waitStrategy !== "poll") {
    throw new ValidationError(
      `options.waitStrategy should be "watch" or "poll": got ${describe(waitStrategy)}`,
      "options.waitStrategy",
    );
  }
  const canWatch = typeof kv.watch === "function";
  if (waitStrategy === "watch" && !canWatch) {
    throw new ValidationError(
      'options.waitStrategy is "watch" but options.kv has no watch() method',
      "options.waitStrategy",
    );
  }
  return {
    kv,
    prefix: checkedPrefix,
    prefixSize: prefixSize(checkedPrefix),
    margin: clockDriftMargin,
    now,
    watch: canWatch && (waitStrategy ?? (isDenoKv(kv) ? "watch" : "poll")) === "watch",
  };
}

/** Reads the clock `now`; ValidationError ("options.now") unless it gives a finite number. */
export function readClock(now: () => number): number {
  const time = now();
  if (typeof time !== "number" || !Number.isFinite(time)) {
    throw new ValidationError(
      `options.now should return epoch milliseconds: got ${describe(time)}`,
      "options.now",
    );
  }
  return time;
}

// expireIn is garbage collection only: the store deletes an entry at the
// earliest that long after the write (by the store's clock), well after the
// lease (by the hosts' clocks) plus the margin.
const GC_SLACK_MS = 60_000;

/** The `expireIn` of a lock entry written with `ttl`: ttl + margin + 60 s. */
export function gcExpireIn(ttl: number, margin: number): number {
  return ttl + margin + GC_SLACK_MS;
}

// Copyright 2026 the locco authors. MIT license.
// What DenoKvAdapter stores and how it names it: the lock record (UTF-8 JSON
// bytes), the KV key of a lock and its size limit, and the fencing token read
// from a commit's versionstamp.

import { LoccoError, ValidationError } from "../errors.ts";
import { describe, isWellFormed } from "../_validate.ts";

/**
 * One part of a KV key, as `Deno.KvKeyPart`: the type of
 * `DenoKvAdapterOptions.prefix` elements.
 *
 * @example A prefix of two parts
 * ```ts
 * import type { KvKeyPart } from "@kontsedal/locco/kv";
 * const prefix: KvKeyPart[] = ["my-app", 1];
 * console.assert(prefix.length === 2);
 * ```
 */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean;

/**
 * What a lock entry holds: its owner, its expiry in epoch ms by the owner's
 * host clock, and, once extended, the fence of the acquisition (an extension
 * rewrites the entry, so its versionstamp is no longer the acquisition's).
 */
export interface LockRecord {
  owner: string;
  expiresAt: number;
  fence?: number | undefined;
}

// Deno KV refuses keys over 2048 bytes and values over 64 KiB.
const MAX_KEY_BYTES = 2048;
/**
 * The most UTF-8 bytes a uniqueValue may take inside the record's JSON (after
 * JSON escaping, quotes excluded), which keeps a record far below 64 KiB.
 */
export const MAX_OWNER_BYTES = 32_768;
// JSON writes one UTF-16 code unit as at most 6 bytes ("\u0001").
const MAX_ESCAPED_UNIT_BYTES = 6;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The number of bytes a key part takes in a KV key (an upper bound for bigint). */
function partSize(part: KvKeyPart): number {
  if (typeof part === "string") return encodedStringSize(encoder.encode(part));
  if (part instanceof Uint8Array) return encodedStringSize(part);
  if (typeof part === "number") return 9;
  if (typeof part === "bigint") return 3 + Math.ceil(part.toString(16).length / 2);
  return 1;
}

// A tag byte, the bytes with every 0x00 escaped to two bytes, a 0x00 terminator.
function encodedStringSize(bytes: Uint8Array): number {
  let size = 2 + bytes.length;
  for (const byte of bytes) if (byte === 0) size++;
  return size;
}

/** Checks `options.prefix`: an array of KV key parts (strings well-formed, numbers finite). */
export function validatePrefix(prefix: unknown): readonly KvKeyPart[] {
  const parameter = "options.prefix";
  if (!Array.isArray(prefix)) {
    throw new ValidationError(
      `options.prefix should be an array of KV key parts: got ${describe(prefix)}`,
      parameter,
    );
  }
  const parts: KvKeyPart[] = [];
  for (const part of prefix as unknown[]) {
    const valid = (typeof part === "string" && isWellFormed(part)) ||
      (typeof part === "number" && Number.isFinite(part)) || typeof part === "bigint" ||
      typeof part === "boolean" || part instanceof Uint8Array;
    if (!valid) {
      throw new ValidationError(
        `options.prefix should hold only KV key parts (well-formed strings, finite numbers, bigints, booleans, Uint8Arrays): got ${
          describe(part)
        }`,
        parameter,
      );
    }
    parts.push(part instanceof Uint8Array ? part.slice() : part as KvKeyPart);
  }
  if (prefixSize(parts) > MAX_KEY_BYTES / 2) {
    throw new ValidationError(
      `options.prefix should take at most ${MAX_KEY_BYTES / 2} bytes as a KV key`,
      parameter,
    );
  }
  return Object.freeze(parts);
}

/** The bytes a prefix takes in a KV key. */
export function prefixSize(prefix: readonly KvKeyPart[]): number {
  return prefix.reduce<number>((sum, part) => sum + partSize(part), 0);
}

/** The KV key of a lock; ValidationError ("key") when KV would refuse it as too large. */
export function lockKey(prefix: readonly KvKeyPart[], size: number, key: string): KvKeyPart[] {
  if (size + partSize(key) > MAX_KEY_BYTES) {
    throw new ValidationError(
      `Key should take at most ${MAX_KEY_BYTES} bytes in a KV key with the prefix: got ${key.length} characters`,
      "key",
    );
  }
  return [...prefix, key];
}

/**
 * Checks that a uniqueValue fits in a record as JSON writes it (control
 * characters take 6 bytes, a quote or backslash 2); ValidationError
 * ("uniqueValue") otherwise.
 */
export function checkOwnerSize(uniqueValue: string): void {
  if (uniqueValue.length * MAX_ESCAPED_UNIT_BYTES <= MAX_OWNER_BYTES) return;
  const size = encoder.encode(JSON.stringify(uniqueValue)).length - 2;
  if (size > MAX_OWNER_BYTES) {
    throw new ValidationError(
      `uniqueValue should take at most ${MAX_OWNER_BYTES} bytes as UTF-8 JSON: got ${size} bytes`,
      "uniqueValue",
    );
  }
}

/** The stored form of a record: bytes, so that no client needs V8 serialization (Bun has none). */
export function encodeRecord(record: LockRecord): Uint8Array {
  const { owner, expiresAt, fence } = record;
  return encoder.encode(JSON.stringify(
    fence === undefined ? { owner, expiresAt } : {
      owner,
      expiresAt,
      fence,
    },
  ));
}

/**
 * The record in an entry's value, `undefined` for a missing entry. A value
 * that is not a lock record (another program wrote the key) is an error, never
 * contention.
 */
export function decodeRecord(value: unknown, key: string): LockRecord | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    if (value instanceof Uint8Array) {
      const record = JSON.parse(decoder.decode(value)) as Partial<LockRecord> | null;
      if (
        typeof record?.owner === "string" && typeof record.expiresAt === "number" &&
        Number.isFinite(record.expiresAt) &&
        (record.fence === undefined || Number.isSafeInteger(record.fence))
      ) {
        const { owner, expiresAt, fence } = record;
        return fence === undefined ? { owner, expiresAt } : { owner, expiresAt, fence };
      }
    }
  } catch {
    // Not UTF-8 JSON: reported below.
  }
  throw new LoccoError(
    `The KV entry of lock ${describe(key)} holds a value that is not a locco lock record`,
  );
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const VERSIONSTAMP = /^[0-9a-f]{20}$/i;

/**
 * The fencing token of a commit: the first 8 bytes of its versionstamp (the
 * database's commit version, big-endian; the last 2 bytes order the writes of
 * one batch) as a number, or `undefined` when that is not a safe integer.
 */
export function fenceOf(versionstamp: unknown): number | undefined {
  if (typeof versionstamp !== "string" || !VERSIONSTAMP.test(versionstamp)) return undefined;
  const version = BigInt(`0x${versionstamp.slice(0, 16)}`);
  return version <= MAX_SAFE ? Number(version) : undefined;
}

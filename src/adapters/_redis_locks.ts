// Copyright 2026 the locco authors. MIT license.
// The Redis lock logic that every Redis adapter runs, whatever its client
// family: the acquire, release and extend scripts and what their replies
// mean, fencing tokens, the grants that tell a resent acquire from the owner
// asking twice, hand-off waiting and the mapping of replies to errors. The
// public adapters (IoRedisAdapter, NodeRedisAdapter) validate their options,
// pick a transport and delegate here.

import type { ILockAdapter, LockIdentity, LockInfo, LockLease } from "../adapter.ts";
import { LockCreateError, LockExtendError, LockReleaseError, ValidationError } from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import {
  describe,
  isWellFormed,
  validateIdentity,
  validateKey,
  validateLease,
  validateObject,
  validateWait,
} from "../_validate.ts";
import { checkUniqueValue, Grants, unexpectedReply } from "./_redis_grants.ts";
import { RedisCore, type Script } from "./_redis_core.ts";
import { RedisHolders } from "./_redis_holders.ts";
import { RedisHandoff } from "./_redis_handoff.ts";
import { RedisMultiLocks } from "./_redis_multi.ts";
import {
  ACQUIRE_SCRIPT,
  ACQUIRE_SCRIPT_SHA,
  EXTEND_SCRIPT,
  EXTEND_SCRIPT_SHA,
  INSPECT_SCRIPT,
  INSPECT_SCRIPT_SHA,
  RELEASE_SCRIPT,
  RELEASE_SCRIPT_SHA,
  SCRIPT_DONE,
  SCRIPT_MISSING,
  SCRIPT_RELEASED_BEFORE,
  SCRIPT_TAKEN,
} from "./_redis_scripts.ts";
import { numberReply, type RedisTransport } from "./_redis_transport.ts";

// Defined once for the whole module: nothing is registered per adapter, per
// client or per call.
const ACQUIRE: Script = Object.freeze({ source: ACQUIRE_SCRIPT, sha: ACQUIRE_SCRIPT_SHA });
const RELEASE: Script = Object.freeze({ source: RELEASE_SCRIPT, sha: RELEASE_SCRIPT_SHA });
const EXTEND: Script = Object.freeze({ source: EXTEND_SCRIPT, sha: EXTEND_SCRIPT_SHA });
const INSPECT: Script = Object.freeze({ source: INSPECT_SCRIPT, sha: INSPECT_SCRIPT_SHA });

/** The options every Redis adapter takes besides its client, once validated. */
export interface RedisLockSettings {
  prefix: string;
  waitStrategy: "notify" | "poll";
}

/**
 * Validates the options every Redis adapter shares (`prefix`,
 * `waitStrategy`), applying their defaults.
 */
function validateRedisSettings(
  options: { prefix?: string | undefined; waitStrategy?: "notify" | "poll" | undefined },
): RedisLockSettings {
  const { prefix = "", waitStrategy = "notify" } = options;
  if (typeof prefix !== "string" || !isWellFormed(prefix)) {
    throw new ValidationError(
      `prefix should be a well-formed string (no unpaired surrogates): got ${describe(prefix)}`,
      "prefix",
    );
  }
  if (waitStrategy !== "notify" && waitStrategy !== "poll") {
    throw new ValidationError(
      `waitStrategy should be "notify" or "poll": got ${describe(waitStrategy)}`,
      "waitStrategy",
    );
  }
  return { prefix, waitStrategy };
}

/**
 * The locks of a Redis adapter constructed with `options`: validates them
 * (the client must have every method of `methods`; `what` describes it)
 * before any I/O, and sends through `transport(client)`.
 */
export function openRedisLocks<C>(
  options: {
    client: C;
    prefix?: string | undefined;
    waitStrategy?: "notify" | "poll" | undefined;
  },
  methods: readonly string[],
  what: string,
  transport: (client: C) => RedisTransport,
): RedisLocks {
  validateObject(options, "options");
  const client = validateRedisClient<C>(options.client, methods, what);
  return new RedisLocks(transport(client), validateRedisSettings(options));
}

/**
 * Throws a ValidationError naming `client` unless `client` is an object
 * with every method of `methods`; `what` describes the expected client.
 */
function validateRedisClient<T>(
  client: unknown,
  methods: readonly string[],
  what: string,
): T {
  if ((typeof client !== "object" && typeof client !== "function") || client === null) {
    throw new ValidationError(`client should be ${what}: got ${describe(client)}`, "client");
  }
  for (const method of methods) {
    if (typeof (client as Record<string, unknown>)[method] !== "function") {
      throw new ValidationError(
        `client should be ${what}: "${method}" is not a function`,
        "client",
      );
    }
  }
  return client as T;
}

/** The locks of one Redis adapter: the four-method contract, waiting and closing. */
export class RedisLocks {
  #core: RedisCore;
  #handoff: RedisHandoff;
  #holders: RedisHolders;
  #closing: Promise<void> | undefined;
  /** Locks this adapter granted, `sent key + "\n" + unique value`, until their ttl ends. */
  #grants: Grants = new Grants();
  #multi: RedisMultiLocks | undefined;

  constructor(transport: RedisTransport, settings: RedisLockSettings) {
    this.#core = new RedisCore(transport, settings.prefix);
    this.#handoff = new RedisHandoff(
      this.#core,
      settings.waitStrategy === "notify" && transport.canSubscribe,
    );
    this.#holders = new RedisHolders(this.#core, this.#handoff);
  }

  /** The adapter of the slots of semaphores of `limit` holders (validated). */
  semaphore(limit: number): ILockAdapter {
    return this.#holders.semaphore(limit);
  }

  /** The adapter of the `mode` side of read-write locks (validated). */
  readWrite(mode: "read" | "write"): ILockAdapter {
    return this.#holders.readWrite(mode);
  }

  async createLock(lease: LockLease): Promise<{ fence: number }> {
    const { key, uniqueValue, ttl } = checkUniqueValue(validateLease(lease));
    const core = this.#core;
    const sent = core.key(key);
    const sentAt = monotonicNow();
    const [entry, refresh] = this.#handoff.queueArgs(sent, uniqueValue);
    const grant = `${sent}\n${uniqueValue}`;
    const until = this.#grants.get(grant);
    const ours = until === undefined || sentAt >= until ? "1" : "";
    const reply = await core.eval(ACQUIRE, [
      sent,
      core.companion(sent, ":fence"),
      core.companion(sent, ":waiters"),
    ], entry === "" ? [uniqueValue, ttl, ours] : [uniqueValue, ttl, ours, entry, refresh]);
    const code = numberReply(reply);
    if (typeof code === "number" && Number.isSafeInteger(code) && code !== 0) {
      if (code > 0) return this.#granted(sentAt + ttl, sent, uniqueValue, code);
      this.#handoff.sawHeld(sent, uniqueValue, -1 - code);
      throw new LockCreateError(`Key ${describe(key)} is already locked`);
    }
    if (Array.isArray(reply) && reply.length === 1) {
      // The key holds our own unique value. Unless this adapter had a live
      // grant of it when sending (the owner asks twice), this is this very
      // acquire, resent by the client after a reconnect (ioredis resends
      // unanswered commands) once its first run had taken the key, or a lease
      // that ended here before the server expired it; the script then made
      // the key live ttl from now: answer as a fresh acquire would.
      const fence = numberReply(reply[0]);
      if (ours === "1" && typeof fence === "number" && Number.isSafeInteger(fence) && fence > 0) {
        return this.#granted(sentAt + ttl, sent, uniqueValue, fence);
      }
      throw new LockCreateError(`Key ${describe(key)} is already locked`);
    }
    throw unexpectedReply("the acquire script", reply);
  }

  async releaseLock(identity: LockIdentity): Promise<void> {
    const { key, uniqueValue } = checkUniqueValue(validateIdentity(identity));
    const core = this.#core;
    const sent = core.key(key);
    this.#grants.delete(`${sent}\n${uniqueValue}`);
    const reply = await this.#runScript(RELEASE, [
      sent,
      core.companion(sent, ":waiters"),
      core.companion(sent, ":released"),
    ], [uniqueValue, this.#handoff.exactCounts]);
    if (reply === SCRIPT_DONE || reply === SCRIPT_RELEASED_BEFORE) return;
    if (reply === SCRIPT_MISSING) throw new LockReleaseError("Lock is already expired");
    throw new LockReleaseError("Lock is already taken");
  }

  async extendLock(lease: LockLease): Promise<void> {
    const { key, uniqueValue, ttl } = checkUniqueValue(validateLease(lease));
    const sent = this.#core.key(key);
    const sentAt = monotonicNow();
    const reply = await this.#runScript(EXTEND, [sent], [uniqueValue, ttl]);
    if (reply === SCRIPT_DONE) {
      // The owner's lease now runs to at least sentAt + ttl: a createLock() of
      // it before then is the owner asking twice, not a resend.
      this.#grants.remember(`${sent}\n${uniqueValue}`, sentAt + ttl);
      return;
    }
    if (reply === SCRIPT_MISSING) throw new LockExtendError("Lock is already expired");
    throw new LockExtendError("Lock is already taken");
  }

  async isValidLock(identity: LockIdentity): Promise<boolean> {
    const { key, uniqueValue } = checkUniqueValue(validateIdentity(identity));
    return (await this.#core.transport.get(this.#core.key(key))) === uniqueValue;
  }

  async inspectLock(key: string): Promise<LockInfo | undefined> {
    const core = this.#core;
    const sent = core.key(validateKey(key));
    const reply = await core.eval(INSPECT, [sent, core.companion(sent, ":fence")], []);
    if (numberReply(reply) === 0) return undefined;
    if (Array.isArray(reply) && (reply.length === 1 || reply.length === 2)) {
      const pttl = Number(numberReply(reply[0]));
      // -1: a key without expiry, written by something other than locco.
      const expiresIn = pttl === -1 ? Infinity : Math.max(1, pttl);
      const fence = reply[1] === null || reply[1] === undefined
        ? NaN
        : Number(numberReply(reply[1]));
      if (Number.isSafeInteger(pttl)) {
        return Number.isSafeInteger(fence) && fence > 0 ? { expiresIn, fence } : { expiresIn };
      }
    }
    throw unexpectedReply("the inspect script", reply);
  }

  async waitForUnlock(
    identity: LockIdentity,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const valid = checkUniqueValue(validateWait(identity, maxWaitMs, signal));
    await this.#handoff.wait(valid, maxWaitMs, signal);
  }

  close(): Promise<void> {
    this.#closing ??= this.#holders.close().then(() => this.#handoff.close());
    return this.#closing;
  }

  /** The adapter of a lock on all of `keys`, taken atomically (see _redis_multi.ts). */
  multi(keys: unknown): ILockAdapter {
    this.#multi ??= new RedisMultiLocks(this.#core, this.#handoff);
    return this.#multi.lock(keys);
  }

  #granted(until: number, sent: string, uniqueValue: string, fence: number): { fence: number } {
    this.#handoff.took(sent, uniqueValue);
    this.#grants.remember(`${sent}\n${uniqueValue}`, until);
    return { fence };
  }

  async #runScript(script: Script, keys: string[], args: (string | number)[]): Promise<number> {
    const reply = await this.#core.eval(script, keys, args);
    const code = numberReply(reply);
    if (
      code === SCRIPT_DONE || code === SCRIPT_MISSING || code === SCRIPT_TAKEN ||
      (code === SCRIPT_RELEASED_BEFORE && script === RELEASE)
    ) {
      return code;
    }
    throw unexpectedReply(script === RELEASE ? "the release script" : "the extend script", reply);
  }
}

// Copyright 2026 the locco authors. MIT license.
// What the Redis lock logic and its hand-off share, whatever the client
// family: the transport, how lock keys and their companions are named
// (prefixes, Cluster slots) and how scripts run.

import type { RedisTransport } from "./_redis_transport.ts";

/** A Lua script and its SHA-1, for EVALSHA. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

/**
 * Whether Redis hashes the part between the first `{` and the next `}`
 * (a Cluster hash tag) rather than the whole key.
 */
function hasHashTag(key: string): boolean {
  const open = key.indexOf("{");
  if (open < 0) return false;
  const close = key.indexOf("}", open + 1);
  return close > open + 1;
}

function isNoScriptError(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message.startsWith("NOSCRIPT");
}

/** The transport of one adapter, with the key naming and script runner around it. */
export class RedisCore {
  readonly transport: RedisTransport;
  /** The adapter's own prefix, put before every lock key. */
  readonly prefix: string;
  /** The client's own `keyPrefix`, which ioredis puts before every key it sends. */
  readonly clientPrefix: string;
  /** Whether the client is a Redis Cluster client. */
  readonly cluster: boolean;

  constructor(transport: RedisTransport, prefix: string) {
    this.transport = transport;
    this.prefix = prefix;
    this.clientPrefix = transport.clientPrefix;
    this.cluster = transport.cluster;
  }
  /** The key to send for a lock key (the client adds its own prefix). */
  key(key: string): string {
    return this.prefix + key;
  }

  /**
   * The key to send for a companion of the lock key `sent` (its fence
   * counter, queue or release record), so that it lands in the same Redis
   * Cluster slot once the client added its prefix: `sent + suffix` when the
   * full key has a hash tag, else `"{" + full key + "}" + suffix`, whose tag
   * is the whole full key. A full key that contains `}` but no valid tag
   * cannot be wrapped like that: its companion lands in another slot, which
   * only Redis Cluster minds (it answers CROSSSLOT, passed on unchanged).
   */
  companion(sent: string, suffix: string): string {
    const full = this.clientPrefix + sent;
    return hasHashTag(full) ? sent + suffix : `{${full}}${suffix}`;
  }

  /**
   * Runs a script by EVALSHA, and by EVAL only when the server lost its
   * script cache. Every key a script touches is in `keys`, so Redis Cluster
   * routes it to their slot.
   */
  async eval(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.transport.evalsha(script.sha, keys, args);
    } catch (error) {
      if (!isNoScriptError(error) && this.transport.isNoScript?.(error) !== true) throw error;
      return await this.transport.eval(script.source, keys, args);
    }
  }
}

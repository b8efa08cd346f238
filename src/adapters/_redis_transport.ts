// Copyright 2026 the locco authors. MIT license.
// What the Redis lock logic needs from a client family, and nothing more:
// run a script (by digest or by source), read a key, and open one subscriber
// connection. Every Redis behaviour (scripts, fencing, hand-off, waiting,
// error mapping) lives once, above this interface; a transport only turns
// those few requests into the calls of one driver (ioredis and its forks,
// node-redis, Valkey GLIDE) and its replies back into plain values.

/**
 * The subscriber connection a transport opened for the hand-off channels.
 * One is shared by every adapter over the same client (see
 * _redis_subscriber.ts), each adapter on its own channel.
 */
export interface RedisConnection {
  /** Subscribes to `channel` (connecting first when the driver needs it). */
  subscribe(channel: string): Promise<unknown>;
  /** Unsubscribes from `channel`; errors are the caller's to ignore. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Whether the connection closed for good: it will not reconnect by itself. */
  readonly ended: boolean;
  /** Closes the connection: gracefully, or at once when that fails. */
  close(): Promise<void>;
}

/** One client family's way of sending what the Redis lock logic sends. */
export interface RedisTransport {
  /** The prefix the client itself puts before every key it sends (ioredis `keyPrefix`), else "". */
  readonly clientPrefix: string;
  /** Whether the client is a Redis Cluster client. */
  readonly cluster: boolean;
  /**
   * `EVALSHA`: rejects with the driver's error, whose message starts with
   * `NOSCRIPT` when the server lacks the script.
   */
  evalsha(sha: string, keys: string[], args: (string | number)[]): Promise<unknown>;
  /** `EVAL`: runs the script and caches it on the server. */
  eval(source: string, keys: string[], args: (string | number)[]): Promise<unknown>;
  /**
   * Optional: whether an error of `evalsha` says the server lacks the
   * script, for a driver whose message does not start with `NOSCRIPT`.
   */
  isNoScript?(error: unknown): boolean;
  /** `GET`: the value as a string, or null. */
  get(key: string): Promise<string | null>;
  /** Whether the client can open a subscriber connection at all. */
  readonly canSubscribe: boolean;
  /** The user's client: adapters over the same one share its subscriber connection. */
  readonly client: object;
  /**
   * Opens a new connection like the client's for pub/sub. `onMessage` gets
   * every message; `onLost` is called whenever messages may have been
   * missed (the connection dropped, is reconnecting or ended). Throws when
   * the client cannot duplicate itself.
   */
  openSubscriber(
    onMessage: (channel: string, message: string) => void,
    onLost: () => void,
  ): RedisConnection;
  /**
   * Calls `listener` once the user's client ends for good, when the client
   * tells; returns the function that removes the listener again.
   */
  onEnd(listener: () => void): () => void;
}

/** The text of a reply that may come as bytes (Buffer or Uint8Array), else the reply. */
export function decodeReply(reply: unknown): unknown {
  return reply instanceof Uint8Array ? new TextDecoder().decode(reply) : reply;
}

/**
 * An integer reply as a number, whatever the driver made of it: ioredis with
 * `stringNumbers` answers "123", a RESP3 type mapping may answer 123n.
 */
export function numberReply(reply: unknown): unknown {
  const value = decodeReply(reply);
  if (typeof value === "string") return Number(value);
  if (typeof value === "bigint") return Number(value);
  return value;
}

/**
 * Adds `listener` for each of `events` on an emitter, when the object is
 * one; returns the function that removes them again (`off` or
 * `removeListener`).
 */
export function listen(
  emitter: unknown,
  events: readonly string[],
  listener: (...args: unknown[]) => void,
): () => void {
  const target = emitter as { on?: unknown; off?: unknown; removeListener?: unknown } | null;
  const on = target?.on;
  if (typeof on !== "function") return () => {};
  for (const event of events) on.call(emitter, event, listener);
  return () => {
    const off = typeof target!.off === "function" ? target!.off : target!.removeListener;
    if (typeof off !== "function") return;
    for (const event of events) off.call(emitter, event, listener);
  };
}

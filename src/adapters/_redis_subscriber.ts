// Copyright 2026 the locco authors. MIT license.
// One subscriber connection per user client, shared by every adapter over
// that client: duplicating a client can be expensive (a node-redis Cluster
// client connects to every primary, tens of ms of CPU each), and an
// application may build many adapters over one client. Each adapter keeps
// its own channel, its own waiters and its own closing; the shared part
// routes messages by channel, tells every adapter when messages may have
// been missed, replaces a connection that ended for good, and holds the one
// listener on the user's client's end, removed with the last adapter.

import type { RedisConnection, RedisTransport } from "./_redis_transport.ts";

/** What the shared connection tells one adapter. */
export interface SubscriptionListener {
  /** A message on the adapter's own channel. */
  onMessage(message: string): void;
  /** Messages may have been missed: subscribe again and ask Redis. */
  onLost(): void;
  /** The user's client ended for good. */
  onEnd(): void;
}

/** One adapter's use of the shared subscriber connection. */
export interface RedisSubscription {
  /** Subscribes to the adapter's channel, opening (or replacing) the connection when needed. */
  subscribe(): Promise<unknown>;
  /** Leaves: unsubscribes, and closes the connection when no adapter uses it any more. */
  close(): Promise<void>;
}

const shared: WeakMap<object, SharedSubscriber> = new WeakMap();

/**
 * The subscription of one adapter on `channel`, over the connection shared
 * by every adapter over `transport.client`. Throws when the client cannot
 * open a subscriber connection (checked when it is first opened).
 */
export function openSubscription(
  transport: RedisTransport,
  channel: string,
  listener: SubscriptionListener,
): RedisSubscription {
  let entry = shared.get(transport.client);
  if (entry === undefined) {
    entry = new SharedSubscriber(transport);
    entry.connection(); // throws before anything is registered when it cannot duplicate
    shared.set(transport.client, entry);
  }
  return entry.join(channel, listener);
}

class SharedSubscriber {
  #transport: RedisTransport;
  #connection: RedisConnection | undefined;
  #listeners: Map<string, SubscriptionListener> = new Map();
  #removeEndListener: (() => void) | undefined;

  constructor(transport: RedisTransport) {
    this.#transport = transport;
  }

  /** The open connection, replacing one that ended for good. */
  connection(): RedisConnection {
    const current = this.#connection;
    if (current !== undefined && !current.ended) return current;
    this.#connection = this.#transport.openSubscriber(
      (channel, message) => this.#listeners.get(channel)?.onMessage(message),
      () => this.#lost(),
    );
    if (current !== undefined) {
      void current.close().catch(() => {});
      // Every adapter subscribes again, on the new connection.
      this.#lost();
    }
    return this.#connection;
  }

  join(channel: string, listener: SubscriptionListener): RedisSubscription {
    this.#listeners.set(channel, listener);
    this.#removeEndListener ??= this.#transport.onEnd(() => {
      for (const each of [...this.#listeners.values()]) each.onEnd();
    });
    let left = false;
    return {
      subscribe: async () => {
        if (left) throw new Error("The subscription is closed");
        return await this.connection().subscribe(channel);
      },
      close: async () => {
        if (left) return;
        left = true;
        await this.#leave(channel);
      },
    };
  }

  async #leave(channel: string): Promise<void> {
    this.#listeners.delete(channel);
    const connection = this.#connection;
    if (this.#listeners.size > 0) {
      if (connection !== undefined && !connection.ended) {
        await connection.unsubscribe(channel).catch(() => {});
      }
      return;
    }
    // The last adapter left: the next one opens a connection of its own.
    if (shared.get(this.#transport.client) === this) shared.delete(this.#transport.client);
    this.#removeEndListener?.();
    this.#removeEndListener = undefined;
    this.#connection = undefined;
    if (connection !== undefined) await connection.close();
  }

  #lost(): void {
    for (const listener of [...this.#listeners.values()]) listener.onLost();
  }
}

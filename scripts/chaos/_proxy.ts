// Copyright 2026 the locco authors. MIT license.
// A small loopback TCP proxy between the chaos workers and the lock store, so
// the harness can add latency, reset every connection, silently stop
// forwarding (half-open connections), or drop one reply and reset that
// connection (the client resends a command that may have run already), and
// switch the upstream port when a restarted store comes back elsewhere.
// Loopback only: it listens on and connects to 127.0.0.1.

import { createConnection, createServer, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream: Socket;
  /** While set, bytes are dropped in both directions (a half-open link). */
  blackholed: boolean;
  /** The client subscribed on this connection: it carries pushes, not replies. */
  subscriber: boolean;
}

// A RESP bulk string "subscribe" (or psubscribe, ssubscribe): a command, not a script's text.
const SUBSCRIBE = /\r\n[ps]?subscribe\r\n/i;

/** What the proxy has done so far. */
export interface ProxyStats {
  connections: number;
  resets: number;
  blackholes: number;
  delays: number;
  droppedReplies: number;
}

function hardClose(socket: Socket): void {
  const withReset = socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof withReset.resetAndDestroy === "function") {
    try {
      withReset.resetAndDestroy();
      return;
    } catch {
      // not connected yet: fall through
    }
  }
  socket.destroy();
}

/** The proxy. Create it with {@linkcode FaultProxy.start}. */
export class FaultProxy {
  readonly port: number;
  readonly stats: ProxyStats = {
    connections: 0,
    resets: 0,
    blackholes: 0,
    delays: 0,
    droppedReplies: 0,
  };
  #server: Server;
  #upstreamPort: number;
  #pairs = new Set<Pair>();
  #delayMs = 0;
  #blackholeNew = false;
  #dropNext = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(server: Server, port: number, upstreamPort: number) {
    this.#server = server;
    this.port = port;
    this.#upstreamPort = upstreamPort;
    server.on("connection", (client) => this.#accept(client));
  }

  /** Listens on a free loopback port and forwards to 127.0.0.1:`upstreamPort`. */
  static start(upstreamPort: number): Promise<FaultProxy> {
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        resolve(new FaultProxy(server, port, upstreamPort));
      });
    });
  }

  /** New connections go to this port from now on (existing ones are left alone). */
  setUpstream(port: number): void {
    this.#upstreamPort = port;
  }

  /** Adds `ms` of latency to every chunk, both ways, for `durationMs`. */
  delay(ms: number, durationMs: number): void {
    this.stats.delays++;
    this.#delayMs = ms;
    this.#later(durationMs, () => this.#delayMs = 0);
  }

  /** Resets every open connection at once (RST where the runtime can send one). */
  cut(): void {
    this.stats.resets++;
    for (const pair of this.#pairs) this.#close(pair);
  }

  /**
   * Stops forwarding on every connection, open or new, for `durationMs`,
   * without closing anything (the peers see a half-open link), then resets
   * the connections that were black-holed.
   */
  blackhole(durationMs: number): void {
    this.stats.blackholes++;
    for (const pair of this.#pairs) pair.blackholed = true;
    this.#blackholeNew = true;
    this.#later(durationMs, () => {
      this.#blackholeNew = false;
      for (const pair of this.#pairs) if (pair.blackholed) this.#close(pair);
    });
  }

  /**
   * Drops the next reply the store sends on a command connection (not a
   * subscriber's) and resets that connection, as when a connection dies
   * after the store ran a command and before its reply arrived: ioredis
   * reconnects and sends the unanswered command again.
   */
  dropReply(): void {
    this.#dropNext = true;
  }

  /** Closes every connection and the listener, and cancels pending faults. */
  close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const pair of this.#pairs) this.#close(pair);
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #close(pair: Pair): void {
    this.#pairs.delete(pair);
    hardClose(pair.client);
    hardClose(pair.upstream);
  }

  #accept(client: Socket): void {
    this.stats.connections++;
    const upstream = createConnection({ host: "127.0.0.1", port: this.#upstreamPort });
    const pair: Pair = { client, upstream, blackholed: this.#blackholeNew, subscriber: false };
    this.#pairs.add(pair);
    const onEnd = () => {
      if (this.#pairs.has(pair)) this.#close(pair);
    };
    for (const socket of [client, upstream]) {
      socket.on("error", onEnd);
      socket.on("close", onEnd);
    }
    this.#pipe(pair, client, upstream);
    this.#pipe(pair, upstream, client);
  }

  // Chunks keep their order: each waits for the one before it.
  #pipe(pair: Pair, from: Socket, to: Socket): void {
    let tail: Promise<void> = Promise.resolve();
    const replies = from === pair.upstream;
    from.on("data", (chunk: Uint8Array) => {
      if (pair.blackholed) return;
      if (!replies && !pair.subscriber && SUBSCRIBE.test(new TextDecoder().decode(chunk))) {
        pair.subscriber = true;
      }
      if (replies && this.#dropNext && !pair.subscriber) {
        this.#dropNext = false;
        this.stats.droppedReplies++;
        this.#close(pair);
        return;
      }
      const ms = this.#delayMs;
      tail = tail.then(() =>
        ms === 0 ? undefined : new Promise<void>((resolve) => this.#later(ms, resolve))
      ).then(() => {
        if (!pair.blackholed && !to.destroyed) to.write(chunk);
      });
    });
  }
}

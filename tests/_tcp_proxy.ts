// Copyright 2026 the locco authors. MIT license.
// A loopback TCP proxy for tests that need a server to stop answering: it
// forwards to 127.0.0.1:`upstreamPort` until `silence()`, after which it
// drops every byte both ways and leaves the connections open (a half-open
// link, as when a network path dies), new ones included. `close()` destroys
// everything.

import { createConnection, createServer, type Server, type Socket } from "node:net";

export class SilentProxy {
  readonly port: number;
  #server: Server;
  #sockets = new Set<Socket>();
  #silent = false;

  constructor(server: Server, port: number, upstreamPort: number) {
    this.#server = server;
    this.port = port;
    server.on("connection", (client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort });
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => {
          this.#sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on("data", (chunk) => {
        if (!this.#silent) upstream.write(chunk);
      });
      upstream.on("data", (chunk) => {
        if (!this.#silent) client.write(chunk);
      });
    });
  }

  /** Listens on a free loopback port. */
  static start(upstreamPort: number): Promise<SilentProxy> {
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        resolve(new SilentProxy(server, port, upstreamPort));
      });
    });
  }

  /** From now on, nothing gets through, and nothing is closed. */
  silence(): void {
    this.#silent = true;
  }

  /** Destroys every connection and stops listening. */
  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

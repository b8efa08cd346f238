// Copyright 2026 the locco authors. MIT license.
// Redis for tests: the shared server (REDIS_URL, else 127.0.0.1:6379), which
// must be reachable (tests fail loudly otherwise), and private redis-server
// processes on free ports for tests that kill, restart or count commands.

import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer } from "node:net";
import process from "node:process";
import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
import type { AdapterBackend } from "./_adapter_contract.ts";

/** The shared test server. */
export const REDIS_URL: string = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || 6379) };
}

/** Sends one inline command over a fresh socket and resolves the first reply line. */
export function rawCommand(url: string, command: string, timeoutMs = 1000): Promise<string> {
  const { host, port } = hostAndPort(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No reply from Redis at ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      data += chunk;
      const end = data.indexOf("\r\n");
      if (end >= 0) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data.slice(0, end));
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** Throws a loud, explanatory error when the shared test server does not answer PING. */
export async function assertRedisReachable(url: string = REDIS_URL): Promise<void> {
  let reply: string;
  try {
    reply = await rawCommand(url, "PING");
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${url}: start redis-server or set REDIS_URL (these tests need a real Redis)`,
      { cause: error },
    );
  }
  if (reply !== "+PONG") throw new Error(`Redis at ${url} answered PING with ${reply}`);
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A private `redis-server` (no persistence) on a free loopback port, stopped by pid. */
export class RedisServer {
  readonly port: number;
  readonly url: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /** The running server's pid, or undefined while it is stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** (Re)starts the server on the same port, with an empty dataset. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error("redis-server is already running");
    const child = spawn("redis-server", [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ], { stdio: "ignore" });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    let spawnError: unknown;
    child.once("error", (error) => spawnError = error);
    const deadline = performance.now() + 5000;
    while (performance.now() < deadline) {
      if (spawnError !== undefined) break;
      try {
        if (await rawCommand(this.url, "PING", 500) === "+PONG") return;
      } catch {
        // not listening yet
      }
      await delay(20);
    }
    await this.stop();
    throw new Error(`redis-server did not start on port ${this.port}`, { cause: spawnError });
  }

  /** Kills the server by pid (SIGKILL: no shutdown save) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.#exited;
  }
}

/** What the tests need from an ioredis 5 or 6 client beyond the adapter's four methods. */
export interface TestRedisClient extends IoRedisLikeClient {
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * An {@linkcode AdapterBackend} over ioredis: every `connect()` opens a new
 * client (its own connection) to the same server; `close()` quits them all.
 * Fails loudly if the server does not answer.
 */
export async function openIoRedisBackend(
  makeClient: () => TestRedisClient,
  url: string = REDIS_URL,
  prefix = "",
): Promise<AdapterBackend & { clients: TestRedisClient[] }> {
  await assertRedisReachable(url);
  const clients: TestRedisClient[] = [];
  const adapters: IoRedisAdapter[] = [];
  return {
    clients,
    connect(): IoRedisAdapter {
      const client = makeClient();
      clients.push(client);
      const adapter = new IoRedisAdapter({ client, prefix });
      adapters.push(adapter);
      return adapter;
    },
    async close(): Promise<void> {
      await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
      await Promise.all(clients.splice(0).map((client) => client.quit()));
    },
  };
}

/** Per-command call counts from `INFO commandstats` ("set", "evalsha", "config|resetstat", ...). */
export async function commandCalls(
  admin: { info(section: "commandstats"): Promise<string> },
): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (
    const match of (await admin.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)
  ) {
    calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

/** One command seen by MONITOR: its arguments (name lowercased) and who sent it. */
export interface MonitoredCommand {
  args: string[];
  /** "ip:port" of the sending connection, or "lua" for a command run by a script. */
  source: string;
}

/**
 * Watches a server with MONITOR through its own connection. `settle()` sends
 * a marker and resolves, once the marker is seen, with every command sent by
 * clients (not by scripts, not the marker) since the previous `settle()`.
 */
export async function monitorCommands(
  makeClient: () => {
    monitor(): Promise<{
      on(
        event: "monitor",
        listener: (time: string, args: string[], source: string) => void,
      ): unknown;
      on(event: "error", listener: (error: Error) => void): unknown;
      disconnect(): void;
    }>;
    echo(message: string): Promise<string>;
    quit(): Promise<unknown>;
  },
): Promise<{ settle(): Promise<MonitoredCommand[]>; stop(): Promise<void> }> {
  const watcher = makeClient();
  const marker = makeClient();
  const monitor = await watcher.monitor();
  // A line MONITOR sends while disconnect() is under way reaches a connection
  // that expects no reply, and ioredis reports it as an error.
  monitor.on("error", () => {});
  let seen: MonitoredCommand[] = [];
  let onMarker: (() => void) | undefined;
  monitor.on("monitor", (_time, args, source) => {
    const [name = "", ...rest] = args;
    if (name.toLowerCase() === "echo" && rest[0] === "locco-monitor-marker") {
      onMarker?.();
      return;
    }
    if (source !== "lua") seen.push({ args: [name.toLowerCase(), ...rest], source });
  });
  return {
    async settle(): Promise<MonitoredCommand[]> {
      const markerSeen = new Promise<void>((resolve) => onMarker = resolve);
      await marker.echo("locco-monitor-marker");
      await markerSeen;
      const result = seen;
      seen = [];
      return result;
    },
    async stop(): Promise<void> {
      monitor.disconnect();
      await Promise.all([watcher.quit().catch(() => {}), marker.quit()]);
    },
  };
}

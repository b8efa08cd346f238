// Copyright 2026 the locco authors. MIT license.
// A private Redis Cluster for tests: 3 masters with `replicas` replicas each, every node a
// `redis-server` on free loopback ports (client port and cluster-bus port both picked, so
// port + 10000 never has to be free), created with `redis-cli --cluster create`, stopped by
// pid. Nodes can be killed (-9), restarted on the same port (their nodes.conf is kept, so
// they rejoin) and failed over by hand. Every wait has a deadline and fails loudly, with the
// reason and the tail of each node's log; a failed start leaves no process behind.
// Only node: modules are used, so the file also runs on Node and Bun (tests/_shim).

import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Buffer } from "node:buffer";
import { freePort, rawCommand } from "./_redis_server.ts";

/** A reply decoded from RESP2: an error reply rejects instead. */
export type RespReply = string | number | null | RespReply[];

/** One node as `CLUSTER NODES` describes it. */
export interface ClusterNodeView {
  id: string;
  port: number;
  flags: string[];
  /** The master's node id for a replica, else "-". */
  masterId: string;
  /** Slot ranges served, `[first, last]` inclusive (masters only). */
  slots: [number, number][];
}

/** A node of a {@linkcode RedisCluster}. */
export interface RedisClusterNode {
  port: number;
  url: string;
  /** The running process's pid, undefined while the node is killed. */
  pid: number | undefined;
}

/** Options of {@linkcode RedisCluster.start}. */
export interface RedisClusterOptions {
  /** Replicas per master (3 masters); 1 unless told. */
  replicas?: number;
}

const MASTERS = 3;
const SLOTS = 16384;
const NODE_TIMEOUT = 1000;
const POLL_INTERVAL = 25;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Parses one RESP2 reply at `offset`; undefined while incomplete. */
function parseReply(
  data: Buffer,
  offset: number,
): { value: RespReply | Error; next: number } | undefined {
  const end = data.indexOf("\r\n", offset);
  if (end < 0) return undefined;
  const type = String.fromCharCode(data[offset]!);
  const line = data.toString("utf8", offset + 1, end);
  switch (type) {
    case "+":
      return { value: line, next: end + 2 };
    case "-":
      return { value: new Error(line), next: end + 2 };
    case ":":
      return { value: Number(line), next: end + 2 };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next: end + 2 };
      if (data.length < end + 2 + length + 2) return undefined;
      return {
        value: data.toString("utf8", end + 2, end + 2 + length),
        next: end + 2 + length + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: end + 2 };
      const items: RespReply[] = [];
      let next = end + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(data, next);
        if (item === undefined) return undefined;
        if (item.value instanceof Error) return item;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      return { value: new Error(`Unexpected RESP type ${JSON.stringify(type)}`), next: end + 2 };
  }
}

/**
 * Sends one command (RESP array, so any argument is safe) over a fresh socket to
 * 127.0.0.1:`port` and resolves its decoded reply; an error reply rejects.
 */
export function respCommand(port: number, args: string[], timeoutMs = 1000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let data = Buffer.alloc(0);
    const finish = (error: Error | undefined, value?: RespReply) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value ?? null);
    };
    const timer = setTimeout(
      () => finish(new Error(`No reply to ${args[0]} from 127.0.0.1:${port} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("connect", () => {
      let request = `*${args.length}\r\n`;
      for (const arg of args) request += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      socket.write(request);
    });
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const reply = parseReply(data, 0);
      if (reply === undefined) return;
      if (reply.value instanceof Error) {
        finish(new Error(`${args.join(" ")} on port ${port}: ${reply.value.message}`));
      } else {
        finish(undefined, reply.value);
      }
    });
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error(`Connection to port ${port} closed`)));
  });
}

/** Parses `CLUSTER NODES` output. */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  const nodes: ClusterNodeView[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    if (fields.length < 8) continue;
    const [id, address, flags, masterId, , , , , ...slotFields] = fields;
    const port = Number(/:(\d+)@/.exec(address!)?.[1] ?? NaN);
    const slots: [number, number][] = [];
    for (const field of slotFields) {
      if (field.startsWith("[")) continue; // a slot being migrated or imported
      const [first, last = first] = field.split("-");
      slots.push([Number(first), Number(last)]);
    }
    nodes.push({ id: id!, port, flags: flags!.split(","), masterId: masterId!, slots });
  }
  return nodes;
}

function info(text: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*?)\\r?$`, "m").exec(text)?.[1];
}

function isFailing(node: ClusterNodeView): boolean {
  return node.flags.includes("fail") || node.flags.includes("fail?") ||
    node.flags.includes("handshake") || node.flags.includes("noaddr");
}

interface NodeProcess {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

/**
 * A Redis Cluster of `3 × (1 + replicas)` private `redis-server` processes on loopback
 * (no persistence, `cluster-node-timeout` 1000 ms), for tests that kill and fail over nodes.
 * Always `stop()` it (in a `finally`).
 */
export class RedisCluster {
  readonly replicas: number;
  readonly #dir: string;
  readonly #nodes: NodeProcess[] = [];
  #stopped = false;
  readonly #onExit = () => {
    for (const node of this.#nodes) {
      if (node.child?.pid !== undefined && node.child.exitCode === null) {
        try {
          process.kill(node.child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  };

  /** An empty cluster in `dir` (no process yet): use {@linkcode RedisCluster.start}. */
  constructor(dir: string, replicas: number) {
    this.#dir = dir;
    this.replicas = replicas;
  }

  /** Starts the nodes, creates the cluster and waits until it is fully healthy. */
  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
    }
    const cluster = new RedisCluster(
      await mkdtemp(join(tmpdir(), "locco-redis-cluster-")),
      replicas,
    );
    // Last resort if stop() is never reached: Deno.exit() fires only "unload", process.exit() both.
    process.on("exit", cluster.#onExit);
    globalThis.addEventListener?.("unload", cluster.#onExit);
    try {
      await cluster.#startNodes(MASTERS * (1 + replicas));
      await cluster.#create();
      await cluster.#waitUntil(
        "the new cluster to be healthy",
        15000,
        () => cluster.#unhealthy(true),
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Every node, in start order. */
  get nodes(): RedisClusterNode[] {
    return this.#nodes.map((node) => ({
      port: node.port,
      url: `redis://127.0.0.1:${node.port}`,
      pid: this.#running(node) ? node.child!.pid : undefined,
    }));
  }

  /** Seed nodes for an ioredis `Cluster`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.#nodes.map((node) => ({ host: "127.0.0.1", port: node.port }));
  }

  /** Sends one command to the node on `port`. */
  command(port: number, ...args: string[]): Promise<RespReply> {
    return respCommand(port, args);
  }

  /** The hash slot of `key`, as the cluster computes it. */
  async slotOf(key: string): Promise<number> {
    return Number(await respCommand(this.#live()[0]!.port, ["CLUSTER", "KEYSLOT", key]));
  }

  /** The live master serving `key`'s slot, as that master itself confirms. */
  async masterOf(key: string): Promise<{ port: number; pid: number }> {
    const slot = await this.slotOf(key);
    let found: { port: number; pid: number } | undefined;
    await this.#waitUntil(`a live master for slot ${slot}`, 5000, async () => {
      for (const asked of this.#live()) {
        const view = await this.#view(asked.port).catch(() => undefined);
        const owner = view?.find((node) =>
          node.flags.includes("master") && !isFailing(node) &&
          node.slots.some(([first, last]) => first <= slot && slot <= last)
        );
        const owned = owner && this.#nodes.find((node) => node.port === owner.port);
        if (!owned || !this.#running(owned)) continue;
        const own = (await this.#view(owner.port).catch(() => []))
          .find((node) => node.flags.includes("myself"));
        if (
          own?.flags.includes("master") &&
          own.slots.some(([first, last]) => first <= slot && slot <= last)
        ) {
          found = { port: owner.port, pid: owned.child!.pid! };
          return undefined;
        }
      }
      return `no live node confirms it serves slot ${slot}`;
    });
    return found!;
  }

  /** A live replica of the master on `masterPort`. */
  async replicaOf(masterPort: number): Promise<{ port: number; pid: number }> {
    const view = await this.#view(masterPort);
    const master = view.find((node) => node.port === masterPort);
    if (!master?.flags.includes("master")) {
      throw new Error(`Port ${masterPort} is not a master: ${master?.flags.join(",")}`);
    }
    for (const node of view) {
      if (!node.flags.includes("slave") || node.masterId !== master.id || isFailing(node)) continue;
      const owned = this.#nodes.find((candidate) => candidate.port === node.port);
      if (owned && this.#running(owned)) return { port: node.port, pid: owned.child!.pid! };
    }
    throw new Error(`The master on port ${masterPort} has no live replica`);
  }

  /** Kills the node on `port` with SIGKILL (no shutdown, no save) and waits for it to exit. */
  async kill(port: number): Promise<void> {
    const node = this.#node(port);
    const child = node.child;
    if (!child) throw new Error(`The node on port ${port} is not running`);
    node.child = undefined;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await node.exited;
  }

  /**
   * Starts a killed node again on the same port with an empty dataset and its nodes.conf, and
   * waits until it has rejoined and the cluster is healthy (a killed master whose replica was
   * promoted comes back as that replica's replica).
   */
  async restart(port: number): Promise<void> {
    const node = this.#node(port);
    if (this.#running(node)) throw new Error(`The node on port ${port} is already running`);
    node.child = undefined;
    await rm(join(node.dir, "dump.rdb"), { force: true });
    await this.#spawn(node);
    await this.#waitUntil(`the restarted node ${port} to rejoin`, 15000, () => this.#unhealthy());
  }

  /**
   * Runs `CLUSTER FAILOVER` on the replica on `replicaPort` and waits until it is a master
   * serving slots and the cluster is healthy again.
   */
  async failover(replicaPort: number): Promise<void> {
    const reply = await respCommand(replicaPort, ["CLUSTER", "FAILOVER"]);
    if (reply !== "OK") throw new Error(`CLUSTER FAILOVER on ${replicaPort} replied ${reply}`);
    await this.waitForPromotion(replicaPort);
  }

  /** Waits until the node on `port` is a master serving slots and the cluster is healthy. */
  async waitForPromotion(port: number, timeoutMs = 15000): Promise<void> {
    await this.#waitUntil(`node ${port} to become a master`, timeoutMs, async () => {
      const own = (await this.#view(port)).find((node) => node.flags.includes("myself"));
      if (!own?.flags.includes("master") || own.slots.length === 0) {
        return `node ${port} is ${own?.flags.join(",")} with ${own?.slots.length} slot ranges`;
      }
      return this.#unhealthy();
    });
  }

  /**
   * Waits until every live node reports `cluster_state:ok` and the cluster is healthy (all
   * slots served by live masters every live node agrees on, no live node flagged failing,
   * replicas linked), or, for `false`, until every live node reports `cluster_state:fail`.
   */
  async waitForState(ok: boolean, timeoutMs = 15000): Promise<void> {
    if (ok) {
      await this.#waitUntil("cluster_state:ok", timeoutMs, () => this.#unhealthy());
      return;
    }
    await this.#waitUntil("cluster_state:fail on every live node", timeoutMs, async () => {
      for (const node of this.#live()) {
        const state = info(
          String(await respCommand(node.port, ["CLUSTER", "INFO"])),
          "cluster_state",
        );
        if (state !== "fail") return `node ${node.port} reports cluster_state:${state}`;
      }
      return undefined;
    });
  }

  /** Waits until every live replica has applied everything its master has written so far. */
  async waitForReplication(timeoutMs = 5000): Promise<void> {
    await this.#waitUntil("the replicas to catch up", timeoutMs, async () => {
      for (const node of this.#live()) {
        const replication = String(await respCommand(node.port, ["INFO", "replication"]));
        if (info(replication, "role") !== "slave") continue;
        const masterPort = Number(info(replication, "master_port"));
        const master = String(await respCommand(masterPort, ["INFO", "replication"]));
        const wanted = Number(info(master, "master_repl_offset"));
        const applied = Number(info(replication, "slave_repl_offset"));
        if (info(replication, "master_link_status") !== "up" || applied < wanted) {
          return `replica ${node.port} is at offset ${applied} of ${wanted} (master ${masterPort})`;
        }
      }
      return undefined;
    });
  }

  /** Kills every node by pid, waits for them to exit and removes the temp dir. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.#nodes.filter((node) => node.child).map((node) => this.kill(node.port)));
    process.off("exit", this.#onExit);
    globalThis.removeEventListener?.("unload", this.#onExit);
    await rm(this.#dir, { recursive: true, force: true });
  }

  #node(port: number): NodeProcess {
    const node = this.#nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`No node of this cluster listens on port ${port}`);
    return node;
  }

  #running(node: NodeProcess): boolean {
    return node.child?.pid !== undefined && node.child.exitCode === null &&
      node.child.signalCode === null;
  }

  #live(): NodeProcess[] {
    const live = this.#nodes.filter((node) => this.#running(node));
    if (live.length === 0) throw new Error("No node of the cluster is running");
    return live;
  }

  async #view(port: number): Promise<ClusterNodeView[]> {
    return parseClusterNodes(String(await respCommand(port, ["CLUSTER", "NODES"])));
  }

  async #startNodes(count: number): Promise<void> {
    const taken = new Set<number>();
    const pick = async () => {
      for (;;) {
        const port = await freePort();
        if (!taken.has(port)) {
          taken.add(port);
          return port;
        }
      }
    };
    for (let i = 0; i < count; i++) {
      this.#nodes.push({
        port: await pick(),
        busPort: await pick(),
        dir: "",
        child: undefined,
        exited: Promise.resolve(),
      });
    }
    const results = await Promise.allSettled(this.#nodes.map(async (node) => {
      // A port taken between freePort() and bind() makes the server exit: pick others.
      for (let attempt = 1;; attempt++) {
        node.dir = join(this.#dir, String(node.port));
        try {
          await this.#spawn(node);
          return;
        } catch (error) {
          if (attempt === 3) throw error;
          node.port = await pick();
          node.busPort = await pick();
        }
      }
    }));
    const failure = results.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
  }

  async #spawn(node: NodeProcess): Promise<void> {
    await mkdir(node.dir, { recursive: true });
    const child = spawn("redis-server", [
      "--port",
      String(node.port),
      "--cluster-port",
      String(node.busPort),
      "--bind",
      "127.0.0.1",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(node.dir, "nodes.conf"),
      "--cluster-node-timeout",
      String(NODE_TIMEOUT),
      "--cluster-replica-validity-factor",
      "0",
      "--repl-diskless-sync-delay",
      "0",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      node.dir,
      "--logfile",
      join(node.dir, "redis.log"),
    ], { stdio: "ignore" });
    node.child = child;
    let spawnError: unknown;
    node.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once("exit", () => resolve());
      // A process that could not be spawned (no redis-server on PATH) emits "error", never "exit".
      child.once("error", (error) => {
        spawnError = error;
        if (child.pid === undefined) resolve();
      });
    });
    const url = `redis://127.0.0.1:${node.port}`;
    const deadline = performance.now() + 5000;
    while (performance.now() < deadline && spawnError === undefined && this.#running(node)) {
      try {
        if (await rawCommand(url, "PING", 500) === "+PONG") return;
      } catch {
        // not listening yet
      }
      await delay(20);
    }
    const log = await this.#logTail(node);
    await this.kill(node.port).catch(() => {});
    throw new Error(
      `redis-server did not start on port ${node.port} (cluster bus ${node.busPort})` +
        (spawnError === undefined ? "" : `: ${spawnError} (is redis-server on PATH?)`) +
        `\n${log}`,
      { cause: spawnError },
    );
  }

  async #create(): Promise<void> {
    const args = [
      "--cluster",
      "create",
      ...this.#nodes.map((node) => `127.0.0.1:${node.port}`),
      "--cluster-replicas",
      String(this.replicas),
      "--cluster-yes",
    ];
    const child = spawn("redis-cli", args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => output += chunk);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => output += chunk);
    const timer = setTimeout(() => {
      output += "\n(killed after 20000 ms)";
      child.kill("SIGKILL");
    }, 20000);
    const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.once("error", (error) => resolve({ code: null, error }));
      child.once("close", (code) => resolve({ code }));
    });
    clearTimeout(timer);
    if (result.code !== 0 || !output.includes("All 16384 slots covered")) {
      throw new Error(
        `redis-cli ${args.join(" ")} failed (exit code ${result.code})` +
          (result.error ? `: ${result.error.message}` : "") + `\n${output}`,
        { cause: result.error },
      );
    }
  }

  /**
   * Why the cluster is not healthy yet, or undefined when it is: every live node reports
   * cluster_state:ok with all slots ok, every live node sees the same live masters serving
   * all 16384 slots and flags no live node as failing, every other live node replicates one of
   * those masters, and every live replica's link to its master is up. `full` also wants every master to have `replicas` live replicas.
   */
  async #unhealthy(full = false): Promise<string | undefined> {
    const live = this.#live();
    const livePorts = new Set(live.map((node) => node.port));
    let agreed: string | undefined;
    for (const node of live) {
      const clusterInfo = String(await respCommand(node.port, ["CLUSTER", "INFO"]));
      const state = info(clusterInfo, "cluster_state");
      const slotsOk = Number(info(clusterInfo, "cluster_slots_ok"));
      if (state !== "ok" || slotsOk !== SLOTS) {
        return `node ${node.port}: cluster_state:${state}, cluster_slots_ok:${slotsOk}`;
      }
      const view = await this.#view(node.port);
      const failing = view.find((other) => livePorts.has(other.port) && isFailing(other));
      if (failing) return `node ${node.port} sees ${failing.port} as ${failing.flags.join(",")}`;
      const masters = view.filter((other) => other.flags.includes("master") && other.slots.length);
      const dead = masters.find((master) => !livePorts.has(master.port) || isFailing(master));
      if (dead) return `node ${node.port} sees slots served by the dead node ${dead.port}`;
      const covered = masters.reduce(
        (sum, master) => master.slots.reduce((s, [first, last]) => s + last - first + 1, sum),
        0,
      );
      if (covered !== SLOTS) return `node ${node.port} sees ${covered} of ${SLOTS} slots served`;
      const masterIds = new Set(masters.map((master) => master.id));
      const idle = view.find((other) =>
        livePorts.has(other.port) && !masterIds.has(other.id) &&
        !(other.flags.includes("slave") && masterIds.has(other.masterId))
      );
      if (idle) {
        return `node ${node.port} sees ${idle.port} as ${idle.flags.join(",")} ` +
          `(neither serving slots nor replicating a master that does)`;
      }
      const signature = masters
        .map((master) => `${master.port}:${master.slots.map((range) => range.join("-"))}`)
        .sort()
        .join(" ");
      if (agreed !== undefined && signature !== agreed) {
        return `nodes disagree on slot owners: ${agreed} versus ${signature} (node ${node.port})`;
      }
      agreed = signature;
      const own = view.find((other) => other.flags.includes("myself"));
      if (own?.flags.includes("slave")) {
        const replication = String(await respCommand(node.port, ["INFO", "replication"]));
        const link = info(replication, "master_link_status");
        if (link !== "up") return `replica ${node.port}: master_link_status:${link}`;
      }
      if (full) {
        for (const master of masters) {
          const replicas = view.filter((other) =>
            other.masterId === master.id && livePorts.has(other.port) && !isFailing(other)
          );
          if (replicas.length !== this.replicas) {
            return `node ${node.port} sees ${replicas.length} replicas of master ${master.port}`;
          }
        }
        if (masters.length !== MASTERS) return `node ${node.port} sees ${masters.length} masters`;
      }
    }
    return undefined;
  }

  async #waitUntil(
    what: string,
    timeoutMs: number,
    problem: () => Promise<string | undefined>,
  ): Promise<void> {
    const started = performance.now();
    let last = "not checked yet";
    for (;;) {
      try {
        const reason = await problem();
        if (reason === undefined) return;
        last = reason;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (performance.now() - started > timeoutMs) break;
      await delay(POLL_INTERVAL);
    }
    const logs = await Promise.all(this.#nodes.map((node) => this.#logTail(node)));
    throw new Error(
      `Redis Cluster: timed out after ${timeoutMs} ms waiting for ${what}; last problem: ${last}` +
        `\n${logs.join("\n")}`,
    );
  }

  async #logTail(node: NodeProcess, lines = 8): Promise<string> {
    const text = await readFile(join(node.dir, "redis.log"), "utf8").catch(() => "");
    const tail = text.trimEnd().split("\n").slice(-lines).map((line) => `  ${line}`).join("\n");
    return `--- node ${node.port} (${
      this.#running(node) ? "running" : "stopped"
    }) log tail:\n${tail}`;
  }
}

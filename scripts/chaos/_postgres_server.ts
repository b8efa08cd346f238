// Copyright 2026 the locco authors. MIT license.
// A private PostgreSQL server for a chaos run, so that its restart fault hits
// nobody else: initdb into a temporary directory, then the postgres binary on
// a free loopback port (as the postgres user when run as root, which
// PostgreSQL refuses), trust authentication, fsync off (a killed server
// keeps its data in the OS cache; the machine is not crashed). Stopped by pid
// and its directory removed at the end.

import { type ChildProcess, spawn } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// Runs a PostgreSQL binary as the postgres user when this process is root.
function asPostgres(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return {
    command: "setpriv",
    args: ["--reuid=postgres", "--regid=postgres", "--init-groups", command, ...args],
  };
}

function run(command: string, args: string[]): Promise<void> {
  const cmd = asPostgres(command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.command, cmd.args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} exited ${code}: ${stderr.trim().slice(-2000)}`));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("pg_isready", ["-q", "-h", "127.0.0.1", "-p", String(port)], {
      stdio: "ignore",
    });
    child.once("error", () => resolve(false));
    child.once("close", (code) => resolve(code === 0));
  });
}

/** A PostgreSQL server of this run's own. */
export class PrivatePostgres {
  readonly port: number;
  #dir: string;
  #child: ChildProcess | undefined;

  constructor(dir: string, port: number) {
    this.#dir = dir;
    this.port = port;
  }

  /** Creates the cluster and starts the server; rejects, loudly, if PostgreSQL cannot start here. */
  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), "locco-chaos-pg-"));
    try {
      if (process.getuid?.() === 0) {
        const { uid, gid } = await postgresIds();
        chownSync(dir, uid, gid);
      }
      await run("initdb", [
        "-D",
        join(dir, "data"),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
      ]);
      const server = new PrivatePostgres(dir, await freePort());
      await server.#launch();
      return server;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`could not start a private PostgreSQL (initdb/postgres on the PATH?)`, {
        cause: error,
      });
    }
  }

  /** A URL of database `database` on this server, on port `port` (a proxy's, or its own). */
  url(port: number = this.port, database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${port}/${database}`;
  }

  /** Stops the server (fast shutdown, SIGINT) and starts it again on the same port and data. */
  async restart(): Promise<void> {
    await this.#halt();
    await this.#launch();
  }

  /** Stops the server by pid and removes its directory. */
  async stop(): Promise<void> {
    try {
      await this.#halt();
    } finally {
      rmSync(this.#dir, { recursive: true, force: true });
    }
  }

  async #launch(): Promise<void> {
    const cmd = asPostgres("postgres", [
      "-D",
      join(this.#dir, "data"),
      "-p",
      String(this.port),
      "-k",
      this.#dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "max_connections=200",
    ]);
    const child = spawn(cmd.command, cmd.args, { stdio: ["ignore", "ignore", "ignore"] });
    this.#child = child;
    let exited = false;
    child.once("exit", () => (exited = true));
    for (let tries = 0; tries < 300; tries++) {
      if (exited) throw new Error("postgres exited while starting");
      if (await canConnect(this.port)) return;
      await sleep(100);
    }
    throw new Error("postgres did not accept connections within 30 s");
  }

  async #halt(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) => {
      const child = spawn("id", [flag, "postgres"], { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.once("error", reject);
      child.once("close", (code) =>
        code === 0 ? resolve(Number(out.trim())) : reject(new Error("no postgres user")));
    });
  return { uid: await id("-u"), gid: await id("-g") };
}

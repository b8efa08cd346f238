// Copyright 2026 the locco authors. MIT license.
// Starts the jongodb MongoDB stand-in (jongodb, a MongoDB wire-compatible server) on a free port and
// stops it by pid. Uses node: APIs only, so it runs on Deno, Node and Bun.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import process from "node:process";

/** A running jongodb server. */
export interface Jongodb {
  /** The connection string, e.g. `mongodb://127.0.0.1:40123/test`. */
  uri: string;
  /** The server's process id. */
  pid: number;
  /** Stops the server (SIGTERM) and resolves once it has exited. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 10_000;

function jongodbBinary(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("@jongodb/memory-server-bin-linux-x64-gnu/package.json");
  return manifest.replace(/package\.json$/, "bin/jongodb");
}

/** Starts jongodb on 127.0.0.1 with a port the OS picks; rejects if it is not ready within 10 s. */
export function startJongodb(): Promise<Jongodb> {
  const child = spawn(jongodbBinary(), ["--host=127.0.0.1", "--port=0"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<Jongodb>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error("jongodb did not start within 10 s")),
      STARTUP_TIMEOUT_MS,
    );
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.removeListener("data", onData);
      child.removeListener("exit", onExit);
      child.removeListener("error", fail);
    }
    function fail(error: Error): void {
      cleanup();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      exited.then(() => reject(error), () => reject(error));
    }
    function onExit(code: number | null, signal: string | null): void {
      fail(new Error(`jongodb exited before it was ready (code ${code}, signal ${signal})`));
    }
    function onData(chunk: Buffer): void {
      output += chunk.toString();
      const match = output.match(/JONGODB_URI=(\S+)/);
      if (match === null) return;
      cleanup();
      // Keep draining stdout so the server never blocks on a full pipe.
      child.stdout.resume();
      const pid = child.pid!;
      resolve({
        uri: match[1]!,
        pid,
        stop(): Promise<void> {
          if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGTERM");
          return exited;
        },
      });
    }
    child.stdout.on("data", onData);
    child.once("exit", onExit);
    child.once("error", fail);
  });
}

// Copyright 2026 the locco authors. MIT license.
// A child process on the current runtime whose output the test reads as it
// comes: wait for a line, then kill the child or wait for its exit.

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { runtimeCommand } from "../_helpers.ts";

/** A running test script. */
export class Child {
  #child: ChildProcess;
  #stdout = "";
  #stderr = "";
  #onOutput: Array<() => void> = [];
  /** Resolves with the exit code and signal once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor(script: string, args: string[]) {
    const { command, args: argv } = runtimeCommand(script, args);
    this.#child = spawn(command, argv, { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    this.#child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.#stdout += d;
      for (const notify of this.#onOutput.splice(0)) notify();
    });
    this.#child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.#stderr += d));
    this.exited = new Promise((resolve, reject) => {
      this.#child.once("error", reject);
      this.#child.once("close", (code, signal) => {
        for (const notify of this.#onOutput.splice(0)) notify();
        resolve({ code, signal });
      });
    });
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The first complete stdout line starting with `prefix`; rejects after `timeoutMs` or at exit. */
  async line(prefix: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#stdout.split("\n").slice(0, -1).find((l) => l.startsWith(prefix));
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`no "${prefix}" line; stdout: ${this.#stdout}; stderr: ${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#onOutput.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Kills the process (if it still runs) with SIGKILL. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill("SIGKILL");
    }
  }
}

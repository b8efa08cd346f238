// Copyright 2026 the locco authors. MIT license.
// One OS process of the PostgreSQL multi-process test (postgres_process_test.ts):
// waits until every worker is ready, then `iterations` times reads a shared
// counter and writes it back plus one (a plain read, then a write), under a
// PostgresAdapter lock ("lock": the write is fenced, `WHERE fence < $fence`)
// or without one ("nolock", the control). Prints "<value read> <fence>" per
// locked increment (a write refused because this process stalled past its
// lease is done again; one refused while the lease was valid fails). Runs on Deno, Node (through tsx) and Bun; no top-level
// await (Node's CJS run).

import process from "node:process";
import { Locker } from "@kontsedal/locco";
import { PostgresAdapter } from "@kontsedal/locco/postgres";
import { CLIENT_KINDS } from "../_postgres.ts";

function query(
  client: unknown,
  text: string,
  values: unknown[],
): Promise<Record<string, unknown>[]> {
  const pgLike = client as { query?: (t: string, v: unknown[]) => Promise<{ rows: [] }> };
  if (typeof pgLike.query === "function") return pgLike.query(text, values).then((r) => r.rows);
  const sql = client as { unsafe(t: string, v: unknown[]): Promise<Record<string, unknown>[]> };
  return sql.unsafe(text, values).then((rows) => Array.from(rows));
}

const TTL_MS = 2000;
const EXPIRE_AT = 74;

async function main(): Promise<void> {
  const [kindArg, url, table, key, workersArg, iterationsArg, mode] = process.argv.slice(2);
  if (!kindArg || !url || !table || !key || !workersArg || !iterationsArg || !mode) {
    throw new Error(
      "usage: _postgres_worker <kind> <url> <table> <key> <workers> <iterations> <lock|nolock>",
    );
  }
  const kind = CLIENT_KINDS[Number(kindArg)]!;
  const { client, close } = await kind.open("locco-process", url);
  const adapter = new PostgresAdapter({ client, tableName: table });
  const lines: string[] = [];
  try {
    await query(client, `INSERT INTO "${table}_ready" VALUES ($1)`, [String(process.pid)]);
    for (;;) {
      const [row] = await query(client, `SELECT count(*)::int AS n FROM "${table}_ready"`, []);
      if (Number(row?.n) >= Number(workersArg)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const locker = new Locker({
      adapter,
      retrySettings: { retryDelayFn: () => 50 + Math.random() * 50, totalTime: 90_000 },
    });
    for (let i = 0; i < Number(iterationsArg); i++) {
      if (mode === "nolock") {
        const [row] = await query(client, `SELECT value FROM "${table}_counter"`, []);
        await new Promise((resolve) => setTimeout(resolve, 1));
        await query(client, `UPDATE "${table}_counter" SET value = $1`, [Number(row?.value) + 1]);
        continue;
      }
      // One lock per worker is left to expire instead of released: fences
      // must grow across both. The ttl leaves room for a loaded 2-core
      // machine (a holder stalled past it would have its write refused).
      const lock = await locker.lock(key, TTL_MS).acquire();
      const [row] = await query(client, `SELECT value FROM "${table}_counter"`, []);
      const value = Number(row?.value);
      const written = await query(
        client,
        `UPDATE "${table}_counter" SET value = $1, fence = $2 WHERE fence < $2 RETURNING 1`,
        [value + 1, String(lock.fence)],
      );
      if (written.length !== 1) {
        // Refused: a holder with a newer fence wrote. That is only allowed if
        // this lease had already lapsed (the process stalled past its ttl);
        // then the fence did its job, and the increment is done again.
        if (lock.remainingTtl() > 0) {
          throw new Error(`fenced write refused at value ${value} while the lease was valid`);
        }
        process.stderr.write(`stalled past the ttl at value ${value}: write refused, redone\n`);
        i--;
        continue;
      }
      lines.push(`${value} ${lock.fence}`);
      if (i !== EXPIRE_AT) await lock.release();
      else await new Promise((resolve) => setTimeout(resolve, TTL_MS + 20));
    }
  } finally {
    await adapter.close();
    await close();
  }
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});

// Copyright 2026 the locco authors. MIT license.
// One transport over the two PostgreSQL clients people use, told apart by
// shape: node-postgres (`pg`: Pool, Client or PoolClient; `query(text,
// values)` resolves to `{ rows }`) and postgres.js (`sql.unsafe(text,
// values)` resolves to the rows). It runs one statement at a time, and opens
// the one listening connection the adapter owns.

import type {
  PgLikeClient,
  PgLikeListenConnection,
  PgLikePool,
  PostgresJsLikeSql,
  PostgresLikeClient,
} from "./_postgres_types.ts";

/** A row's values, in the order of the statement's columns. */
export type Row = unknown[];

/** An active LISTEN; `close()` stops it and gives back what it took. */
export interface Listening {
  close(): Promise<void>;
}

/** What the adapter does on a listening connection. */
export interface ListenHandlers {
  /** A NOTIFY on the channel, with its payload. */
  notify(payload: string): void;
  /** LISTEN took effect (first time, or again after a reconnect): notifications before it were missed. */
  listening(): void;
  /** The connection is gone: nothing arrives until the adapter listens again. */
  lost(): void;
}

/** A client, seen through the one interface the adapter needs. */
export interface Transport {
  /**
   * Runs one statement as a simple query (no parameters). Rejects with the
   * driver's error, unchanged. Rows come back as their values by position.
   */
  query(text: string): Promise<Row[]>;
  /**
   * Starts listening on `channel`, or `undefined` when this client cannot
   * open a listening connection. Aborting `signal` gives up a listen still
   * under way.
   */
  listen:
    | ((channel: string, handlers: ListenHandlers, signal: AbortSignal) => Promise<Listening>)
    | undefined;
}

function isPostgresJs(client: PostgresLikeClient): client is PostgresJsLikeSql {
  return typeof (client as PostgresJsLikeSql).unsafe === "function";
}

// A pg Pool hands out connections; a pg Client's connect() connects itself
// (and rejects when already connected), so it must never be called.
function isPgPool(client: PgLikeClient | PgLikePool): client is PgLikePool {
  const pool = client as Partial<PgLikePool>;
  return typeof pool.connect === "function" && typeof pool.totalCount === "number";
}

// A pool of one connection cannot lend it for LISTEN: every statement would
// then wait for it forever. Such a pool's waiters poll.
function poolCanListen(pool: PgLikePool): boolean {
  const max = pool.options?.max;
  return typeof max !== "number" || !(max < 2);
}

const rowValues = (row: unknown): Row =>
  typeof row === "object" && row !== null ? Object.values(row) : [];

/** Whether `client` has the shape of either driver. */
export function isPostgresClient(client: unknown): client is PostgresLikeClient {
  if ((typeof client !== "object" && typeof client !== "function") || client === null) return false;
  const candidate = client as { unsafe?: unknown; query?: unknown };
  return typeof candidate.unsafe === "function" || typeof candidate.query === "function";
}

/** The transport of `client`; `listen` is only used when `notify` is true. */
export function transportOf(client: PostgresLikeClient, notify: boolean): Transport {
  if (isPostgresJs(client)) {
    const listen = client.listen;
    return {
      // No parameters: postgres.js then sends a simple query.
      query: async (text) => Array.from(await client.unsafe(text, []), rowValues),
      listen: notify && typeof listen === "function"
        ? (channel, handlers) => listenPostgresJs(client, channel, handlers)
        : undefined,
    };
  }
  return {
    // No values: node-postgres then sends a simple query.
    query: async (text) => (await client.query(text, [])).rows.map(rowValues),
    listen: notify && isPgPool(client) && poolCanListen(client)
      ? (channel, handlers, signal) => listenPgPool(client, channel, handlers, signal)
      : undefined,
  };
}

// postgres.js keeps one listening connection per `sql` instance, shared by
// all its listeners, reconnects it by itself and calls `onlisten` again then.
async function listenPostgresJs(
  sql: PostgresJsLikeSql,
  channel: string,
  handlers: ListenHandlers,
): Promise<Listening> {
  let active = true;
  const meta = await sql.listen!(
    channel,
    (payload) => {
      if (active) handlers.notify(String(payload));
    },
    () => {
      if (active) handlers.listening();
    },
  );
  return {
    async close() {
      if (!active) return;
      active = false;
      // UNLISTEN goes to a server that may be unreachable: bounded.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.resolve(meta.unlisten()).catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, UNLISTEN_TIMEOUT_MS)),
      ]);
      clearTimeout(timer);
    },
  };
}

// How long close() waits for postgres.js's UNLISTEN.
const UNLISTEN_TIMEOUT_MS = 1000;

// One connection checked out of the pool for as long as the adapter listens.
// It is never given back for reuse: closing destroys it (release(true)), so
// neither UNLISTEN on a possibly dead connection nor a pooled connection
// still listening is ever needed.
async function listenPgPool(
  pool: PgLikePool,
  channel: string,
  handlers: ListenHandlers,
  signal: AbortSignal,
): Promise<Listening> {
  const connection: PgLikeListenConnection = await pool.connect();
  let active = true;
  const onNotification = (message: { channel?: unknown; payload?: unknown }) => {
    if (active && message?.channel === channel) handlers.notify(String(message.payload ?? ""));
  };
  // A terminated backend, a dropped socket, close(), an abort: the pool must
  // not get the connection back, so it is released with an error (destroyed).
  function destroy(error: unknown): boolean {
    if (!active) return false;
    active = false;
    connection.removeListener("notification", onNotification);
    connection.removeListener("error", onLost);
    connection.removeListener("end", onLost);
    signal.removeEventListener("abort", onAbort);
    connection.on("error", ignore);
    connection.release(error instanceof Error ? error : new Error(String(error)));
    return true;
  }
  function onLost(error?: unknown): void {
    if (destroy(error ?? new Error("listening connection ended"))) handlers.lost();
  }
  function onAbort(): void {
    destroy(new Error("the adapter was closed"));
  }
  connection.on("notification", onNotification);
  connection.on("error", onLost);
  connection.on("end", onLost);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort);
  try {
    await connection.query(`LISTEN "${channel}"`, []);
  } catch (error) {
    destroy(error);
    throw error;
  }
  if (!active) throw new Error("listening connection lost before LISTEN took effect");
  handlers.listening();
  return {
    close() {
      destroy(new Error("the adapter was closed"));
      return Promise.resolve();
    },
  };
}

// A destroyed connection may still report its end: nobody needs to hear it.
function ignore(): void {}

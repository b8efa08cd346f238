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
} from "./postgres.ts";

/** A row as the drivers return it. */
export type Row = Record<string, unknown>;

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
  /** Runs one statement with its parameters. Rejects with the driver's error, unchanged. */
  query(text: string, values: string[]): Promise<Row[]>;
  /** Starts listening on `channel`, or `undefined` when this client cannot open a listening connection. */
  listen: ((channel: string, handlers: ListenHandlers) => Promise<Listening>) | undefined;
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
      query: async (text, values) => Array.from(await client.unsafe(text, values)),
      listen: notify && typeof listen === "function"
        ? (channel, handlers) => listenPostgresJs(client, channel, handlers)
        : undefined,
    };
  }
  return {
    query: async (text, values) => (await client.query(text, values)).rows,
    listen: notify && isPgPool(client)
      ? (channel, handlers) => listenPgPool(client, channel, handlers)
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
      await meta.unlisten();
    },
  };
}

// One connection checked out of the pool for as long as the adapter listens.
async function listenPgPool(
  pool: PgLikePool,
  channel: string,
  handlers: ListenHandlers,
): Promise<Listening> {
  const connection: PgLikeListenConnection = await pool.connect();
  let active = true;
  const onNotification = (message: { channel?: unknown; payload?: unknown }) => {
    if (active && message?.channel === channel) handlers.notify(String(message.payload ?? ""));
  };
  const detach = () => {
    connection.removeListener("notification", onNotification);
    connection.removeListener("error", onLost);
    connection.removeListener("end", onLost);
  };
  // A terminated backend or a dropped socket: the pool must not get the
  // broken connection back, so it is released with the error (destroyed).
  function onLost(error?: unknown): void {
    if (!active) return;
    active = false;
    detach();
    connection.on("error", ignore);
    connection.release(error instanceof Error ? error : new Error("listening connection ended"));
    handlers.lost();
  }
  connection.on("notification", onNotification);
  connection.on("error", onLost);
  connection.on("end", onLost);
  try {
    await connection.query(`LISTEN "${channel}"`, []);
  } catch (error) {
    if (active) {
      active = false;
      detach();
      connection.on("error", ignore);
      connection.release(error instanceof Error ? error : new Error(String(error)));
    }
    throw error;
  }
  if (active) handlers.listening();
  return {
    async close() {
      if (!active) return;
      active = false;
      try {
        await connection.query(`UNLISTEN "${channel}"`, []);
      } catch (error) {
        detach();
        connection.on("error", ignore);
        connection.release(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      detach();
      connection.release();
    },
  };
}

// A destroyed connection may still report its end: nobody needs to hear it.
function ignore(): void {}

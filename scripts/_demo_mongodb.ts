// Copyright 2026 the locco authors. MIT license.
// The demo's MongoDB backend: a MongoAdapter and a shared counter on one
// MongoClient. Without a url it starts the jongodb stand-in and stops it on close().

import { MongoClient } from "mongodb";
import { MongoAdapter } from "@kontsedal/locco/mongodb";
import { startJongodb } from "../tests/_jongodb.ts";

/** What the demo needs from a backend. */
export interface MongoDemoBackend {
  /** The adapter the demo's Lockers use. */
  adapter: MongoAdapter;
  /** A number stored next to the locks, read and written under the lock. */
  counter: { get(): Promise<number>; set(n: number): Promise<void> };
  /** Closes the client (and stops the stand-in when one was started). */
  close(): Promise<void>;
}

interface CounterDocument {
  _id: string;
  value: number;
}

/** Connects to `url`, or starts the jongodb stand-in when no url is given. */
export async function mongoBackend(url?: string): Promise<MongoDemoBackend> {
  const server = url === undefined ? await startJongodb() : undefined;
  const client = new MongoClient(
    url ?? server!.uri,
    server === undefined ? { maxPoolSize: 10 } : { directConnection: true, maxPoolSize: 10 },
  );
  const dbName = "locco-demo";
  const counters = client.db(dbName).collection<CounterDocument>("demo-counters");
  return {
    adapter: new MongoAdapter({ client, dbName }),
    counter: {
      async get(): Promise<number> {
        const document = await counters.findOne({ _id: "counter" });
        return document?.value ?? 0;
      },
      async set(n: number): Promise<void> {
        await counters.updateOne({ _id: "counter" }, { $set: { value: n } }, { upsert: true });
      },
    },
    async close(): Promise<void> {
      try {
        await client.close();
      } finally {
        await server?.stop();
      }
    },
  };
}

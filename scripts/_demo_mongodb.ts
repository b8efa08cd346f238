// Copyright 2026 the locco authors. MIT license.
// The demo's MongoDB backend (`deno task demo --mongodb <url>`, or
// `--mongodb ""` for the bundled jongodb stand-in): each worker gets a
// MongoAdapter on its own MongoClient, and the shared counter is a document
// read and written in two round trips.

import { MongoClient, type MongoClientOptions } from "mongodb";
import { MongoAdapter } from "@kontsedal/locco/mongodb";
import { startJongodb } from "../tests/_jongodb.ts";
import type { DemoBackend } from "./demo.ts";

interface CounterDocument {
  _id: string;
  value: number;
}

const DB_NAME = "locco-demo";

/** Connects to `url`, or starts the jongodb stand-in when no url is given. */
export async function mongoBackend(url?: string): Promise<DemoBackend> {
  const server = url === undefined ? await startJongodb() : undefined;
  const uri = url ?? server!.uri;
  const options: MongoClientOptions = server === undefined
    ? { maxPoolSize: 2, serverSelectionTimeoutMS: 3000 }
    : { directConnection: true, maxPoolSize: 2 };
  const main = new MongoClient(uri, options);
  const clients = [main];
  const counters = main.db(DB_NAME).collection<CounterDocument>("demo-counters");
  return {
    name: server === undefined ? `MongoDB at ${url}` : `the MongoDB stand-in (jongodb) at ${uri}`,
    adapter() {
      const client = new MongoClient(uri, options);
      clients.push(client);
      return new MongoAdapter({ client, dbName: DB_NAME });
    },
    counter: {
      async get(): Promise<number> {
        return (await counters.findOne({ _id: "counter" }))?.value ?? 0;
      },
      async set(value: number): Promise<void> {
        await counters.updateOne({ _id: "counter" }, { $set: { value } }, { upsert: true });
      },
    },
    async close(): Promise<void> {
      try {
        await Promise.all(clients.map((client) => client.close()));
      } finally {
        await server?.stop();
      }
    },
  };
}

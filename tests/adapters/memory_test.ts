// Copyright 2026 the locco authors. MIT license.

import { InMemoryAdapter } from "@kontsedal/locco/memory";
import { testAdapterContract } from "../_adapter_contract.ts";

testAdapterContract("InMemoryAdapter", () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({ connect: () => adapter, close: () => Promise.resolve() });
});

// Copyright 2026 the locco authors. MIT license.

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

// Random bytes are drawn from the platform CSPRNG a pool at a time: one call
// per 256 unique values instead of one per lock.
const POOL: Uint8Array = new Uint8Array(16 * 256);
let offset = POOL.length;

/** 16 bytes from the platform CSPRNG as 32 lowercase hex characters. */
export function randomUniqueValue(): string {
  if (offset === POOL.length) {
    crypto.getRandomValues(POOL);
    offset = 0;
  }
  let out = "";
  for (let i = offset; i < offset + 16; i++) out += HEX[POOL[i]!];
  offset += 16;
  return out;
}

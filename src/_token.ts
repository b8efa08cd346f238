// Copyright 2026 the locco authors. MIT license.

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** 16 bytes from the platform CSPRNG as 32 lowercase hex characters. */
export function randomUniqueValue(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let out = "";
  for (const byte of bytes) out += HEX[byte];
  return out;
}

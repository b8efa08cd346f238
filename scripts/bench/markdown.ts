// Copyright 2026 the locco authors. MIT license.
// Markdown for the benchmark's results: aligned tables (as `deno fmt` leaves
// them) and generated blocks between `<!-- bench:NAME -->` and
// `<!-- /bench:NAME -->` lines, replaced whole by each full run.

/** A table whose columns are padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(3, header.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** `text` with the block `name` replaced by `content`; throws when the markers are missing. */
export function replaceBlock(text: string, name: string, content: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`markers ${start} ... ${end} not found`);
  return `${text.slice(0, from + start.length)}\n\n${content.trim()}\n\n${text.slice(to)}`;
}

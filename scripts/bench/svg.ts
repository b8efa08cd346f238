// Copyright 2026 the locco authors. MIT license.
// Renders the benchmark's results as a small, dependency-free SVG: one panel
// of throughput (ratio to the floor) per scenario, one of fairness and one of
// Redis commands per critical section for the contended scenarios.

interface ScenarioInfo {
  id: string;
  title: string;
  contended: boolean;
}

type Row = Record<string, string | number>;

const COLORS: Record<string, string> = {
  "raw floor": "#9e9e9e",
  "script floor (SET NX in Lua)": "#cfcfcf",
  "locco (this)": "#1565c0",
  "locco (this, node-redis)": "#42a5f5",
  "locco 0.1.0": "#90caf9",
  "@sesamecare-oss/redlock": "#ef6c00",
  "redlock-universal": "#8e24aa",
  "redlock-universal (node-redis)": "#ce93d8",
  "redis-semaphore Mutex": "#2e7d32",
};

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function panel(
  title: string,
  groups: Array<{ label: string; bars: Array<{ library: string; value: number; text: string }> }>,
  top: number,
  max: number,
): { svg: string; height: number } {
  const barH = 12;
  const left = 250;
  const width = 420;
  let y = top + 22;
  let svg = `<text x="10" y="${top + 14}" font-weight="bold">${escape(title)}</text>`;
  for (const group of groups) {
    svg += `<text x="10" y="${y + 10}" fill="#333">${escape(group.label)}</text>`;
    for (const bar of group.bars) {
      const w = Math.max(1, Math.min(1, bar.value / max) * width);
      svg += `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${
        COLORS[bar.library] ?? "#555"
      }"/>`;
      svg += `<text x="${left + w + 4}" y="${y + 9}" font-size="10">${escape(bar.text)}</text>`;
      y += barH;
    }
    y += 8;
  }
  return { svg, height: y - top };
}

/** The chart for README.md. */
export function renderSvg(scenarios: ScenarioInfo[], rows: Row[], machine: string): string {
  const libraries = [...new Set(rows.map((r) => String(r.library)))];
  const of = (id: string) => rows.filter((r) => r.scenario === id);
  let y = 10;
  let body = "";
  const throughput = panel(
    "Throughput, ratio to the floor (uncontended: raw SET NX + script; contended: 1/(hold+RTT))",
    scenarios.map((s) => ({
      label: s.title,
      bars: of(s.id).map((r) => ({
        library: String(r.library),
        value: Number(r.ratio),
        text: `${Number(r.ratio).toFixed(2)}x (${Number(r.opsPerSec).toFixed(0)} ops/s)`,
      })),
    })),
    y,
    1.2,
  );
  body += throughput.svg;
  y += throughput.height + 10;
  const contended = scenarios.filter((s) => s.contended);
  const fairness = panel(
    "Fairness (least-served worker / even share; 1 = perfectly even)",
    contended.map((s) => ({
      label: s.title,
      bars: of(s.id).map((r) => ({
        library: String(r.library),
        value: Number(r.fairness),
        text: `${Number(r.fairness).toFixed(2)}, max wait ${Number(r.maxWaitMs).toFixed(0)} ms`,
      })),
    })),
    y,
    1,
  );
  body += fairness.svg;
  y += fairness.height + 10;
  const maxCommands = Math.max(
    ...contended.flatMap((s) => of(s.id).map((r) => Number(r.commandsPerOp))),
  );
  const commands = panel(
    "Redis commands per critical section (INFO total_commands_processed)",
    contended.map((s) => ({
      label: s.title,
      bars: of(s.id).map((r) => ({
        library: String(r.library),
        value: Number(r.commandsPerOp),
        text: Number(r.commandsPerOp).toFixed(1),
      })),
    })),
    y,
    maxCommands,
  );
  body += commands.svg;
  y += commands.height + 6;
  let x = 10;
  for (const library of libraries) {
    body += `<rect x="${x}" y="${y}" width="10" height="10" fill="${COLORS[library] ?? "#555"}"/>`;
    body += `<text x="${x + 14}" y="${y + 9}" font-size="11">${escape(library)}</text>`;
    x += 20 + library.length * 6.5;
  }
  y += 24;
  body += `<text x="10" y="${y}" font-size="10" fill="#666">${escape(machine)}</text>`;
  y += 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="820" height="${y}" font-family="sans-serif" font-size="11">` +
    `<rect width="100%" height="100%" fill="white"/>${body}</svg>\n`;
}

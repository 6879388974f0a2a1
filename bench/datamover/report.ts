/** Formats the measured rows as a plain-text table; the same rows go to JSON. */

export interface Row {
  /** Which round of --repeat measured it. */
  round?: number;
  step: string;
  tool: string;
  seconds: number;
  /** Files or bytes processed, for the rate column. */
  files: number;
  bytes: number;
  /** What the rate column shows; "none" for steps whose speed is not about the data (maintenance). */
  rate: "MB/s" | "files/s" | "none";
  peakRssBytes: number;
  /** Sampled largest anonymous RSS (see measure.ts); 0 when unknown. */
  peakAnonBytes?: number;
  cpuSeconds: number;
  repoBytes: number | undefined;
  note?: string;
}

const MB = 1e6;

function rateOf(row: Row): string {
  if (row.seconds <= 0 || row.rate === "none") return "-";
  return row.rate === "MB/s"
    ? `${(row.bytes / MB / row.seconds).toFixed(1)} MB/s`
    : `${Math.round(row.files / row.seconds)} files/s`;
}

/**
 * Skiff's speed relative to a peer on the same step: the peer's seconds divided by Skiff's.
 * Above 1 means Skiff was faster.
 */
export function speedRatio(rows: Row[], step: string, peer: string): number | undefined {
  const skiff = rows.find((r) => r.step === step && r.tool === "skiff" && !r.note);
  const other = rows.find((r) => r.step === step && r.tool === peer && !r.note);
  if (!skiff || !other || skiff.seconds <= 0) return undefined;
  return other.seconds / skiff.seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * One row per step and tool over all rounds: median seconds and CPU seconds, the largest peak RSS, the
 * median repository size. A step that failed in any round is shown as failed.
 */
export function medianOfRounds(rows: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.step}\u0000${row.tool}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => {
    const failed = group.find((r) => r.note);
    if (failed) return { ...failed, round: undefined };
    const sizes = group.map((r) => r.repoBytes).filter((b) => b !== undefined);
    return {
      ...group[0]!,
      round: undefined,
      seconds: median(group.map((r) => r.seconds)),
      cpuSeconds: median(group.map((r) => r.cpuSeconds)),
      peakRssBytes: Math.max(...group.map((r) => r.peakRssBytes)),
      peakAnonBytes: Math.max(...group.map((r) => r.peakAnonBytes ?? 0)),
      repoBytes: sizes.length ? median(sizes) : undefined,
    };
  });
}

export function formatTable(rows: Row[], peers: string[]): string {
  const header = [
    "step",
    "tool",
    "seconds",
    "CPU s",
    "rate",
    "peak RSS",
    "anon",
    "repo size",
    ...peers.map((p) => `vs ${p}`),
  ];
  const lines: string[][] = [header];
  for (const row of rows) {
    const ratios = peers.map((peer) => {
      if (row.tool !== "skiff") return "";
      const ratio = speedRatio(rows, row.step, peer);
      return ratio === undefined ? "-" : `${ratio.toFixed(2)}x`;
    });
    lines.push([
      row.step,
      row.tool,
      row.note ? "-" : row.seconds.toFixed(2),
      row.note ? "-" : row.cpuSeconds.toFixed(1),
      row.note ? row.note : rateOf(row),
      row.note ? "-" : `${(row.peakRssBytes / MB).toFixed(0)} MB`,
      row.note || !row.peakAnonBytes ? "-" : `${(row.peakAnonBytes / MB).toFixed(0)} MB`,
      row.repoBytes === undefined ? "-" : `${(row.repoBytes / MB).toFixed(1)} MB`,
      ...ratios,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length)));
  return lines
    .map((l) =>
      l
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export interface ReportInput {
  mode: string;
  tools: string[];
  skipped: string[];
  machine: string;
  repositories: string;
  repeats: number;
  cold: boolean;
  rows: Row[];
  peers: string[];
  restoreChecks: Record<string, string>;
  /** In --million mode: the peak RSS Skiff should stay under. */
  memoryTargetMB: number | undefined;
  failures: string[];
  seconds: number;
}

/** The whole plain-text report: how it was measured, the table, checks, failures. */
export function renderReport(input: ReportInput): string {
  const runs =
    input.repeats > 1
      ? `${input.repeats} times per step (median seconds shown, peak RSS the largest)`
      : "once per step";
  const cache = input.cold
    ? "after sync and dropping the page cache (cold reads)"
    : "after sync, with the data it reads put in the page cache just before (warm reads)";
  const lines = [
    `Skiff data mover benchmark (${input.mode}), ${new Date().toISOString()}`,
    `tools: ${input.tools.join(", ")}${input.skipped.length ? `; not run: ${input.skipped.join(", ")}` : ""}`,
    `machine: ${input.machine}; repositories ${input.repositories}`,
    `each tool ran ${runs}, ${input.repeats > 1 ? "each round starting with the next tool" : "in the order listed"}, ${cache}`,
    "MB = 10^6 bytes; CPU s = user + system seconds; 'vs peer' = peer seconds / Skiff seconds " +
      "(above 1: Skiff faster); repo size after the step",
    "peak RSS: GNU time's, which includes the pages of the tool's own executable (Node's: 45-60 MB); " +
      "anon: the largest anonymous RSS (heap, stacks, buffers), sampled every 20 ms",
    "",
    formatTable(input.rows, input.peers),
  ];
  const checks = Object.entries(input.restoreChecks);
  if (checks.length) lines.push("", ...checks.map(([tool, outcome]) => `restore check ${tool}: ${outcome}`));
  if (input.memoryTargetMB !== undefined) {
    const target = input.memoryTargetMB;
    for (const row of input.rows.filter((r) => r.tool === "skiff" && !r.note)) {
      const mb = row.peakRssBytes / MB;
      lines.push(
        `${row.step}: peak RSS ${mb.toFixed(0)} MB (target <= ${target} MB: ${mb <= target ? "met" : "NOT met"})`,
      );
    }
  }
  if (input.failures.length) lines.push("", "failures:", ...input.failures.map((f) => `  ${f}`));
  lines.push("", `total wall time ${input.seconds.toFixed(0)} s`);
  return lines.join("\n");
}

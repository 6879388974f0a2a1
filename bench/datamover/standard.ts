/**
 * The standard benchmark round: (a) large files, (b) small files, (c) re-backup after a 1% change, (d) restore
 * of (c), verified against the source. Measuring and bookkeeping are the caller's (RoundContext).
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { applyChange, type DatasetInfo, ensureLarge, type LargeSpec } from "./datasets.ts";
import type { CommandSpec } from "./measure.ts";
import type { Row } from "./report.ts";
import type { Tool, ToolName } from "./tools.ts";
import { compareTrees, treeDigest } from "./verify.ts";

export interface RoundContext {
  tools: Tool[];
  small: DatasetInfo;
  largeDir: string;
  largeSpec: LargeSpec;
  runDir: string;
  round: number;
  repeats: number;
  /** Collects changedBytes and restoreVerification for the report. */
  summary: Record<string, unknown>;
  log: (line: string) => void;
  /** Measures one command and records its row; undefined when it failed (also recorded). */
  step(
    tool: Tool,
    stepName: string,
    spec: CommandSpec,
    counts: { files: number; bytes: number; rate: Row["rate"] },
    repo: string | undefined,
    /** What the command reads: put in the page cache first, unless the run is cold. */
    reads?: string,
  ): Promise<{ stdout: string } | undefined>;
  /** Creates an empty repository; false (and a row saying so) when that failed. */
  initRepo(tool: Tool, repo: string, stepName: string): Promise<boolean>;
}

/**
 * One round of the standard steps (a)-(d), each tool in its own fresh repositories. The large data set is put
 * back to its generated state first, since the previous round changed 1% of it.
 */
export async function standardRound(ctx: RoundContext): Promise<void> {
  const { tools, small, largeSpec, summary, round, repeats, runDir, log } = ctx;
  const large = await ensureLarge(ctx.largeDir, largeSpec, log);
  const size =
    large.bytes >= 1024 ** 3
      ? `${(large.bytes / 1024 ** 3).toFixed(0)} GiB`
      : `${(large.bytes / 1024 ** 2).toFixed(0)} MiB`;
  const stepA = `(a) ${size} in ${large.files} large files: backup`;
  const stepB = `(b) ${small.files.toLocaleString("en")} small files: backup`;
  const stepC = "(c) re-backup of (a) after 1% change";
  const stepD = "(d) restore of (c)";
  const latest = new Map<ToolName, string>();
  const ready = new Set<ToolName>();
  // Each round starts with the next tool: whoever goes first in a step meets the machine as the previous step
  // left it (page cache pressure, writeback), so no tool should always be first.
  const shift = (round - 1) % tools.length;
  const order = [...tools.slice(shift), ...tools.slice(0, shift)];

  /** A first backup of `data` into a fresh repository per tool; true when the repository could be made. */
  const firstBackup = async (tool: Tool, stepName: string, name: string, data: DatasetInfo, rate: Row["rate"]) => {
    const repo = join(runDir, tool.name, `${name}-${round}`);
    if (!(await ctx.initRepo(tool, repo, stepName))) return false;
    await ctx.step(
      tool,
      stepName,
      tool.backup(repo, data.dir),
      { files: data.files, bytes: data.bytes, rate },
      repo,
      data.dir,
    );
    return true;
  };
  for (const tool of order) if (await firstBackup(tool, stepA, "repo-large", large, "MB/s")) ready.add(tool.name);
  for (const tool of order) await firstBackup(tool, stepB, "repo-small", small, "files/s");
  const changed = await applyChange(large.dir, largeSpec);
  summary.changedBytes = changed;
  for (const tool of order.filter((t) => ready.has(t.name))) {
    const repo = join(runDir, tool.name, `repo-large-${round}`);
    const result = await ctx.step(
      tool,
      stepC,
      tool.backup(repo, large.dir),
      { files: large.files + 1, bytes: large.bytes + changed, rate: "MB/s" },
      repo,
      large.dir,
    );
    if (result) {
      try {
        latest.set(tool.name, tool.snapshotId(result.stdout, repo));
      } catch (err) {
        log((err as Error).message);
      }
    }
  }
  log("hashing the source for restore verification");
  const expected = await treeDigest(large.dir);
  // Across rounds a mismatch is kept: one bad restore is enough to report.
  summary.restoreVerification ??= {};
  const verification = summary.restoreVerification as Record<string, string>;
  for (const tool of order) {
    const snapshot = latest.get(tool.name);
    if (!snapshot) continue;
    const repo = join(runDir, tool.name, `repo-large-${round}`);
    const target = join(runDir, tool.name, "restore");
    await rm(target, { recursive: true, force: true });
    await mkdir(target, { recursive: true });
    const done = await ctx.step(
      tool,
      stepD,
      tool.restore(repo, snapshot, target),
      { files: large.files + 1, bytes: large.bytes + changed, rate: "MB/s" },
      undefined,
      repo,
    );
    if (done) {
      const problems = compareTrees(expected, await treeDigest(tool.restoredRoot(target, large.dir)));
      const outcome = problems.length ? `MISMATCH: ${problems.join("; ")}` : "identical to the source";
      log(`${tool.name} restore: ${outcome}`);
      if (!verification[tool.name]?.startsWith("MISMATCH")) {
        verification[tool.name] =
          repeats > 1 && !problems.length ? `identical to the source (${round} rounds)` : outcome;
      }
    }
    await rm(target, { recursive: true, force: true });
  }
  // Only the last round's repositories are kept (for a look afterwards); earlier ones would fill the disk.
  if (round < repeats) {
    for (const tool of order) {
      await rm(join(runDir, tool.name, `repo-large-${round}`), { recursive: true, force: true });
      await rm(join(runDir, tool.name, `repo-small-${round}`), { recursive: true, force: true });
    }
  }
}

/** `skiff repo repair-index`: rebuilds the index from the packs' own trailers after index files were damaged or lost. */
import { type RepairIndexReport, repairIndex } from "../repository/repair-index.ts";
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { connectRepository, repoFlagsHelp } from "./repo-options.ts";

const usage = [
  "Usage: skiff repo repair-index --repo <location> [--read-all-packs] [--json] [options]",
  "",
  "Indexes again the packs that no readable index file names (from each pack's trailer), drops index entries of",
  "packs that are gone, and replaces damaged index files. Takes an exclusive lock. Exit code 1 when some packs",
  "could not be read.",
  "",
  "  --read-all-packs           rebuild from every pack's trailer, ignoring the existing index files",
  "  --json                     print the report as JSON",
  repoFlagsHelp,
  "",
].join("\n");

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo repair-index", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo repair-index", usage, ["--read-all-packs", "--json"]);
    if (typeof parsed === "number") return parsed;
    const readAllPacks = parsed.rest.includes("--read-all-packs");
    const json = parsed.rest.includes("--json");
    // Damaged index files are what this command is for: the open reports them instead of failing.
    const repo = await connectRepository(parsed.flags, ctx.env, { onDamagedIndexFile: () => {} });
    try {
      const report = await repairIndex(repo, { readAllPacks });
      ctx.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : describeRepair(report));
      return report.unreadablePacks.length > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      await repo.close();
    }
  });

export function describeRepair(report: RepairIndexReport): string {
  const lines = [
    `index files ${report.indexFilesBefore} -> ${report.indexFilesAfter} (${report.damagedIndexFiles.length} damaged); ` +
      `${report.packs} packs, ${report.packsIndexed} indexed from their trailers (${report.blobsIndexed} blobs)`,
  ];
  for (const d of report.damagedIndexFiles) lines.push(`replaced damaged index file ${d.key}: ${d.reason}`);
  if (report.missingPacks > 0) {
    lines.push(
      `${report.missingPacks} packs named by the index are gone: ${report.entriesDropped} blobs dropped from the index ` +
        "(later backups store that content again)",
    );
  }
  for (const p of report.unreadablePacks) lines.push(`cannot index ${p.key}: ${p.reason}`);
  if (!report.rewritten) lines.push("the index already matched the packs: nothing rewritten");
  if (report.missingPacks > 0 || report.unreadablePacks.length > 0) {
    lines.push("run 'skiff repo verify' to see which snapshots and files are affected");
  }
  return `${lines.join("\n")}\n`;
}

/** `skiff repo maintenance [--full]`: index compaction, or full garbage collection with a safety margin. */
import { runMaintenance } from "../repository/maintenance.ts";
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { connectRepository, repoFlagsHelp } from "./repo-options.ts";

const usage = [
  "Usage: skiff repo maintenance --repo <location> [--full] [--safety-margin <hours>] [--json] [options]",
  "",
  "  --full                     delete and rewrite packs of unreachable data (takes an exclusive lock)",
  "  --safety-margin <hours>    never touch packs younger than this (default 24)",
  "  --json                     print the report as JSON",
  repoFlagsHelp,
  "",
].join("\n");

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo maintenance", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo maintenance", usage, ["--full", "--json"], ["--safety-margin"]);
    if (typeof parsed === "number") return parsed;
    const full = parsed.rest.includes("--full");
    const json = parsed.rest.includes("--json");
    const margin = parsed.values.get("--safety-margin");
    const marginHours = margin === undefined ? 24 : margin.trim() === "" ? Number.NaN : Number(margin);
    if (!Number.isFinite(marginHours) || marginHours < 0) {
      ctx.stderr.write(`skiff repo maintenance: --safety-margin needs a number of hours, not '${margin}'\n`);
      return EXIT.usage;
    }
    const repo = await connectRepository(parsed.flags, ctx.env);
    try {
      const report = await runMaintenance(repo, { full, safetyMarginMs: marginHours * 3600_000 });
      if (json) ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        ctx.stdout.write(
          `index files ${report.indexFilesBefore} -> ${report.indexFilesAfter}; stale locks removed ${report.staleLocksRemoved}\n`,
        );
        if (full) {
          ctx.stdout.write(
            `${report.snapshots} snapshots, ${report.reachableBlobs} reachable blobs; packs deleted ${report.packsDeleted}, ` +
              `rewritten ${report.packsRewritten}, unindexed deleted ${report.unindexedPacksDeleted}, ` +
              `abandoned partial writes removed ${report.abandonedWritesRemoved}, ` +
              `${report.bytesDeleted} bytes freed; ${report.packsKeptForMargin} packs kept for the safety margin\n`,
          );
          if (report.missingChunks > 0) {
            ctx.stdout.write(
              `warning: snapshots need ${report.missingChunks} chunks that no index file names; ` +
                `${report.unindexedPacksKept} packs no index names were kept. ` +
                "'skiff repo repair-index' indexes them again; 'skiff repo verify' names the affected files\n",
            );
          }
        }
      }
      return EXIT.ok;
    } finally {
      await repo.close();
    }
  });

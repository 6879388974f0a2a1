/** `skiff repo verify [--read-data] [--json]`: checks the repository; exit code 1 when problems are found. */
import { verifyRepository } from "../repository/verify.ts";
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { connectRepository, repoFlagsHelp } from "./repo-options.ts";

const usage = [
  "Usage: skiff repo verify --repo <location> [--read-data] [--json] [options]",
  "",
  "  --read-data                read and authenticate every pack (reads the whole repository)",
  "  --json                     print the report as JSON",
  repoFlagsHelp,
  "",
].join("\n");

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo verify", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo verify", usage, ["--json", "--read-data"]);
    if (typeof parsed === "number") return parsed;
    const repo = await connectRepository(parsed.flags, ctx.env);
    try {
      const report = await verifyRepository(repo, { readData: parsed.rest.includes("--read-data") });
      if (parsed.rest.includes("--json")) ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        ctx.stdout.write(
          `${report.snapshots} snapshots, ${report.packs} packs, ${report.blobs} blobs checked` +
            `${report.bytesRead > 0 ? `, ${report.bytesRead} bytes read` : ""}` +
            `${report.unindexedPacks > 0 ? `; ${report.unindexedPacks} unindexed packs (removed by full maintenance)` : ""}\n`,
        );
        for (const p of report.problems) ctx.stdout.write(`${p.kind}: ${p.message}\n`);
        ctx.stdout.write(report.ok ? "no problems found\n" : `${report.problems.length} problem(s) found\n`);
      }
      return report.ok ? EXIT.ok : EXIT.failed;
    } finally {
      await repo.close();
    }
  });

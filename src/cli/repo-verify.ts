/** `skiff repo verify [--read-data] [--json]`: checks the repository; exit code 1 when problems are found. */
import { type VerifyProblem, type VerifyReport, verifyRepository } from "../repository/verify.ts";
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
    // A damaged index file is one more problem to report, not a reason to verify nothing.
    const damagedIndex: VerifyProblem[] = [];
    const repo = await connectRepository(parsed.flags, ctx.env, {
      onDamagedIndexFile: (damage) => damagedIndex.push({ kind: "damaged-index", message: damage.message }),
    });
    try {
      const verified = await verifyRepository(repo, { readData: parsed.rest.includes("--read-data") });
      const problems = [...damagedIndex, ...verified.problems];
      const report: VerifyReport = { ...verified, problems, ok: problems.length === 0 };
      if (parsed.rest.includes("--json")) ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        ctx.stdout.write(
          `${report.snapshots} snapshots, ${report.packs} packs, ${report.blobs} blobs checked` +
            `${report.bytesRead > 0 ? `, ${report.bytesRead} bytes read` : ""}` +
            `${report.unindexedPacks > 0 ? `; ${report.unindexedPacks} packs no index file names` : ""}\n`,
        );
        for (const p of report.problems) ctx.stdout.write(`${p.kind}: ${p.message}\n`);
        const hint = repairHint(report);
        if (hint !== undefined) ctx.stdout.write(`${hint}\n`);
        ctx.stdout.write(report.ok ? "no problems found\n" : `${report.problems.length} problem(s) found\n`);
      }
      return report.ok ? EXIT.ok : EXIT.failed;
    } finally {
      await repo.close();
    }
  });

/** What `repo repair-index` would do about the problems found, when it can do anything. */
export function repairHint(report: VerifyReport): string | undefined {
  if (report.ok) return undefined;
  if (report.problems.some((p) => p.kind === "damaged-index")) {
    return "hint: 'skiff repo repair-index' replaces the damaged index files from the packs' own trailers";
  }
  if (report.unindexedPacks > 0) {
    return `hint: what the snapshots miss may be in the ${report.unindexedPacks} packs no index file names; 'skiff repo repair-index' indexes them`;
  }
  if (report.problems.some((p) => p.kind === "missing-pack")) {
    return "hint: 'skiff repo repair-index' drops the lost blobs from the index, so that later backups store that content again";
  }
  return undefined;
}

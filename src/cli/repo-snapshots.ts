/** `skiff repo snapshots`: lists snapshot manifests as a table or JSON. */
import type { SnapshotManifest } from "../repository/types.ts";
import type { CommandRun } from "./commands.ts";
import { formatBytes } from "./data-mover-output.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { connectRepository, repoFlagsHelp } from "./repo-options.ts";

const usage = `Usage: skiff repo snapshots --repo <location> [--password-file <file>] [--json] [options]\n\n${repoFlagsHelp}\n`;

export function snapshotTable(snapshots: SnapshotManifest[]): string {
  const rows = [["ID", "TIME", "HOST", "SOURCE", "FILES", "SIZE", "TAGS"]];
  for (const s of snapshots) {
    rows.push([
      s.id.slice(0, 12),
      s.startTime.replace(/\.\d+Z$/, "Z"),
      s.hostname,
      s.source.volumeMode === "Block" ? `${s.source.path} (block)` : s.source.path,
      String(s.stats.files),
      formatBytes(s.stats.bytes),
      Object.entries(s.tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo snapshots", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo snapshots", usage, ["--json"]);
    if (typeof parsed === "number") return parsed;
    const repo = await connectRepository(parsed.flags, ctx.env, { workers: 0 });
    try {
      const snapshots = await repo.listSnapshots();
      ctx.stdout.write(
        parsed.rest.includes("--json") ? `${JSON.stringify(snapshots, null, 2)}\n` : snapshotTable(snapshots),
      );
      return EXIT.ok;
    } finally {
      await repo.close();
    }
  });

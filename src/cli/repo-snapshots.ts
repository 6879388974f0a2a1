/** `skiff repo snapshots`: lists snapshot manifests as a table or JSON. */
import { SNAPSHOT_PREFIX } from "../repository/repository.ts";
import type { SnapshotManifest } from "../repository/types.ts";
import type { CommandRun } from "./commands.ts";
import { formatBytes } from "./data-mover-output.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { connectRepository, repoFlagsHelp } from "./repo-options.ts";

const usage = [
  "Usage: skiff repo snapshots --repo <location> [--password-file <file>] [--json] [--delete <id>] [options]",
  "",
  "  --json                     print the snapshots as JSON",
  "  --delete <id>              remove a snapshot (full id; also one whose manifest is damaged); its data goes at",
  "                             the next full maintenance, once unreachable and older than the safety margin",
  repoFlagsHelp,
  "",
].join("\n");

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
    const parsed = parseRepoCommandArgs(ctx, "repo snapshots", usage, ["--json"], ["--delete"]);
    if (typeof parsed === "number") return parsed;
    const deleteId = parsed.values.get("--delete");
    const repo = await connectRepository(parsed.flags, ctx.env, { workers: 0 });
    try {
      if (deleteId !== undefined) {
        if (!/^[0-9a-f]{32}$/.test(deleteId))
          throw new Error(`--delete needs a full 32-character snapshot id, not '${deleteId}'`);
        if ((await repo.store.stat(`${SNAPSHOT_PREFIX}${deleteId}`)) === undefined) {
          throw new Error(`no snapshot ${deleteId} in ${repo.store.describe}`);
        }
        await repo.deleteSnapshot(deleteId);
        ctx.stdout.write(`deleted snapshot ${deleteId}; full maintenance removes its data once unreachable\n`);
        return EXIT.ok;
      }
      // A damaged manifest is named on stderr; the others are still listed.
      let damaged = 0;
      const snapshots = await repo.listSnapshots((damage) => {
        damaged++;
        ctx.stderr.write(`skiff repo snapshots: ${damage.key} cannot be read: ${damage.reason}\n`);
      });
      ctx.stdout.write(
        parsed.rest.includes("--json") ? `${JSON.stringify(snapshots, null, 2)}\n` : snapshotTable(snapshots),
      );
      return damaged > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      await repo.close();
    }
  });

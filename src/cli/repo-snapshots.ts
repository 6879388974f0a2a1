/** `skiff repo snapshots`: lists snapshot manifests as a table or JSON. */
import type { SnapshotManifest } from "../repository/types.ts";
import type { CommandRun } from "./commands.ts";
import { EXIT, reportErrors, wantsHelp } from "./repo-errors.ts";
import { connectRepository, parseRepoFlags, repoFlagsHelp } from "./repo-options.ts";

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
      humanBytes(s.stats.bytes),
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

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo snapshots", async () => {
    if (wantsHelp(ctx.argv)) {
      ctx.stdout.write(usage);
      return EXIT.ok;
    }
    const parsed = parseRepoFlags(ctx.argv);
    const extra = parsed.ok ? parsed.rest.filter((a) => a !== "--json") : [];
    if (!parsed.ok || extra.length > 0) {
      ctx.stderr.write(
        `skiff repo snapshots: ${parsed.ok ? `unexpected argument '${extra[0]}'` : parsed.message}\n${usage}`,
      );
      return EXIT.usage;
    }
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

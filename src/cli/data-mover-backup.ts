/** `skiff data-mover backup`: the process in the backup pod. */
import { backupDirectory } from "../datamover/backup.ts";
import type { SourceIssue } from "../datamover/backup-walk.ts";
import type { CommandContext, CommandRun } from "./commands.ts";
import { type BackupFlags, backupUsage, parseBackupArgs } from "./data-mover-args.ts";
import {
  defaultDependencies,
  type MoverCommand,
  type MoverDependencies,
  runMoverCommand,
} from "./data-mover-command.ts";

/** At most this many skipped paths are listed in the summary (all are printed as they happen). */
const listedIssues = 100;

const backupCommand: MoverCommand<BackupFlags> = {
  command: "backup",
  usage: backupUsage,
  parse: parseBackupArgs,
  async move(repo, flags, output, signal) {
    const issues: SourceIssue[] = [];
    const snapshot = await backupDirectory(repo, {
      source: flags.source,
      volumeMode: flags.volumeMode,
      parent: flags.parent,
      parentMatchTags: flags.parentMatchTags,
      tags: flags.tags,
      parallelFiles: flags.parallel,
      failOnError: flags.failOnError,
      signal,
      onProgress: (p) => output.progress(p),
      onWarning: (message) => output.notice(`skiff data-mover backup: ${message}`),
      onIssue: (issue) => {
        if (issues.length < listedIssues) issues.push(issue);
        output.notice(`skiff data-mover backup: skipped '${issue.path}': ${issue.message}`);
      },
    });
    const emptySnapshot = snapshot.stats.files === 0 && snapshot.stats.dirs === 0;
    return {
      bytes: snapshot.stats.bytes,
      summary: ({ seconds, MBps }) => ({
        snapshotID: snapshot.id,
        emptySnapshot,
        source: { byPath: snapshot.source.path, volumeMode: snapshot.source.volumeMode },
        ...(snapshot.parent !== undefined ? { parent: snapshot.parent } : {}),
        stats: snapshot.stats,
        seconds,
        MBps,
        ...(issues.length > 0 ? { skipped: issues } : {}),
      }),
    };
  },
};

export const run: CommandRun = (ctx) => runBackup(ctx, defaultDependencies);

export function runBackup(ctx: CommandContext, deps: MoverDependencies): Promise<number> {
  return runMoverCommand(ctx, deps, backupCommand);
}

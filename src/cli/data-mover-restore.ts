/** `skiff data-mover restore`: the process in the restore pod. */
import { restoreSnapshot } from "../datamover/restore.ts";
import type { CommandContext, CommandRun } from "./commands.ts";
import { parseRestoreArgs, type RestoreFlags, restoreUsage } from "./data-mover-args.ts";
import {
  defaultDependencies,
  type MoverCommand,
  type MoverDependencies,
  runMoverCommand,
} from "./data-mover-command.ts";
import { directWritesFrom } from "./repo-options.ts";

const restoreCommand: MoverCommand<RestoreFlags> = {
  command: "restore",
  usage: restoreUsage,
  parse: parseRestoreArgs,
  async move(repo, flags, output, signal, env) {
    const result = await restoreSnapshot(repo, flags.snapshot, {
      target: flags.target,
      parallelFiles: flags.parallel,
      writeSparseFiles: flags.sparse,
      directWrites: directWritesFrom(env),
      overwrite: flags.overwrite,
      signal,
      onProgress: (p) => output.progress(p),
      onNotice: (message) => output.notice(`skiff data-mover restore: ${message}`),
    });
    return {
      bytes: result.stats.bytes,
      summary: ({ seconds, MBps }) => ({
        snapshotID: result.snapshot.id,
        target: flags.target,
        volumeMode: result.snapshot.source.volumeMode,
        stats: result.stats,
        seconds,
        MBps,
      }),
    };
  },
};

export const run: CommandRun = (ctx) => runRestore(ctx, defaultDependencies);

export function runRestore(ctx: CommandContext, deps: MoverDependencies): Promise<number> {
  return runMoverCommand(ctx, deps, restoreCommand);
}

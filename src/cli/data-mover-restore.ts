/** `skiff data-mover restore`: the process in the restore pod. */
import { restoreSnapshot } from "../datamover/restore.ts";
import type { Repository } from "../repository/types.ts";
import type { CommandContext, CommandRun } from "./commands.ts";
import { parseRestoreArgs, restoreUsage } from "./data-mover-args.ts";
import {
  defaultDependencies,
  type MoverDependencies,
  reportFailure,
  splitRepoFlags,
  usageError,
} from "./data-mover-backup.ts";
import { createMoverOutput, throughput, writeTerminationLog } from "./data-mover-output.ts";
import { describeError } from "./run.ts";

export const run: CommandRun = (ctx) => runRestore(ctx, defaultDependencies);

export async function runRestore(ctx: CommandContext, deps: MoverDependencies): Promise<number> {
  const args = splitRepoFlags(ctx, "restore", restoreUsage);
  if (typeof args === "number") return args;
  const parsed = parseRestoreArgs(args.rest);
  if (!parsed.ok) return usageError(ctx, "restore", restoreUsage, parsed);
  const flags = parsed.flags;
  const cancellation = deps.listenForCancellation();
  const output = createMoverOutput({ stdout: ctx.stdout, stderr: ctx.stderr, json: flags.json });
  const started = deps.now();
  let repo: Repository | undefined;
  try {
    repo = await deps.openRepository(args.repoFlags, ctx.env);
    const result = await restoreSnapshot(repo, flags.snapshot, {
      target: flags.target,
      parallelFiles: flags.parallel,
      writeSparseFiles: flags.sparse,
      overwrite: flags.overwrite,
      signal: cancellation.signal,
      onProgress: (p) => output.progress(p),
      onNotice: (message) => output.notice(`skiff data-mover restore: ${message}`),
    });
    output.endProgress();
    const seconds = (deps.now() - started) / 1000;
    const summary = {
      snapshotID: result.snapshot.id,
      target: flags.target,
      volumeMode: result.snapshot.source.volumeMode,
      stats: result.stats,
      seconds: Math.round(seconds * 1000) / 1000,
      MBps: throughput(result.stats.bytes, seconds),
    };
    output.result(summary);
    await writeTerminationLog(flags.terminationLog, JSON.stringify(summary));
    return 0;
  } catch (err) {
    output.endProgress();
    return await reportFailure(ctx, flags, cancellation, err, "restore");
  } finally {
    cancellation.dispose();
    await repo?.close().catch((err: unknown) => {
      ctx.stderr.write(`skiff data-mover restore: closing the repository failed: ${describeError(err)}\n`);
    });
  }
}

/** `skiff data-mover backup`: the process in the backup pod. */
import { backupDirectory } from "../datamover/backup.ts";
import type { SourceIssue } from "../datamover/backup-walk.ts";
import type { Repository } from "../repository/types.ts";
import type { CommandContext, CommandRun } from "./commands.ts";
import { backupUsage, parseBackupArgs } from "./data-mover-args.ts";
import { canceledMessage, createMoverOutput, throughput, writeTerminationLog } from "./data-mover-output.ts";
import { type Cancellation, listenForCancellation } from "./data-mover-signals.ts";
import { EXIT, exitCodeFor } from "./repo-errors.ts";
import { connectRepository, parseRepoFlags, type RepoFlags } from "./repo-options.ts";
import { describeError } from "./run.ts";

/** At most this many skipped paths are listed in the summary (all are printed as they happen). */
const listedIssues = 100;

export interface MoverDependencies {
  openRepository(flags: RepoFlags, env: NodeJS.ProcessEnv): Promise<Repository>;
  listenForCancellation(): Cancellation;
  now(): number;
}

export const defaultDependencies: MoverDependencies = {
  openRepository: (flags, env) => connectRepository(flags, env),
  listenForCancellation: () => listenForCancellation(),
  now: () => performance.now(),
};

export const run: CommandRun = (ctx) => runBackup(ctx, defaultDependencies);

export async function runBackup(ctx: CommandContext, deps: MoverDependencies): Promise<number> {
  const args = splitRepoFlags(ctx, "backup", backupUsage);
  if (typeof args === "number") return args;
  const parsed = parseBackupArgs(args.rest);
  if (!parsed.ok) return usageError(ctx, "backup", backupUsage, parsed);
  const flags = parsed.flags;
  const cancellation = deps.listenForCancellation();
  const output = createMoverOutput({ stdout: ctx.stdout, stderr: ctx.stderr, json: flags.json });
  const started = deps.now();
  let repo: Repository | undefined;
  try {
    repo = await deps.openRepository(args.repoFlags, ctx.env);
    const issues: SourceIssue[] = [];
    const snapshot = await backupDirectory(repo, {
      source: flags.source,
      volumeMode: flags.volumeMode,
      parent: flags.parent,
      parentMatchTags: flags.parentMatchTags,
      tags: flags.tags,
      parallelFiles: flags.parallel,
      failOnError: flags.failOnError,
      signal: cancellation.signal,
      onProgress: (p) => output.progress(p),
      onIssue: (issue) => {
        if (issues.length < listedIssues) issues.push(issue);
        output.notice(`skiff data-mover backup: skipped '${issue.path}': ${issue.message}`);
      },
    });
    output.endProgress();
    const seconds = (deps.now() - started) / 1000;
    const emptySnapshot = snapshot.stats.files === 0 && snapshot.stats.dirs === 0;
    const summary = {
      snapshotID: snapshot.id,
      emptySnapshot,
      source: { byPath: snapshot.source.path, volumeMode: snapshot.source.volumeMode },
      ...(snapshot.parent !== undefined ? { parent: snapshot.parent } : {}),
      stats: snapshot.stats,
      seconds: Math.round(seconds * 1000) / 1000,
      MBps: throughput(snapshot.stats.bytes, seconds),
      ...(issues.length > 0 ? { skipped: issues } : {}),
    };
    output.result(summary);
    await writeTerminationLog(flags.terminationLog, JSON.stringify(summary));
    return 0;
  } catch (err) {
    output.endProgress();
    return await reportFailure(ctx, flags, cancellation, err, "backup");
  } finally {
    cancellation.dispose();
    await repo?.close().catch((err: unknown) => {
      ctx.stderr.write(`skiff data-mover backup: closing the repository failed: ${describeError(err)}\n`);
    });
  }
}

/** Prints why the run ended; a cancelled run says so in the words Velero's node agent looks for. */
export async function reportFailure(
  ctx: CommandContext,
  flags: { terminationLog: string | undefined },
  cancellation: Cancellation,
  err: unknown,
  command: "backup" | "restore",
): Promise<number> {
  if (cancellation.received !== undefined) {
    ctx.stderr.write(`${canceledMessage}\n`);
    await writeTerminationLog(flags.terminationLog, canceledMessage);
    // A read stuck on a device or pipe would keep the process alive; nothing is left to save, so do not wait.
    setTimeout(() => process.exit(cancellation.exitCode), 10_000).unref();
    return cancellation.exitCode;
  }
  const message = describeError(err);
  ctx.stderr.write(`skiff data-mover ${command}: ${message}\n`);
  await writeTerminationLog(flags.terminationLog, message);
  return exitCodeFor(err);
}

/** Takes out the shared repository flags; a number is the exit code of a usage error or --help. */
export function splitRepoFlags(
  ctx: CommandContext,
  command: "backup" | "restore",
  usage: string,
): { repoFlags: RepoFlags; rest: string[] } | number {
  if (ctx.argv.includes("--help") || ctx.argv.includes("-h")) {
    ctx.stdout.write(usage);
    return EXIT.ok;
  }
  const parsed = parseRepoFlags(ctx.argv);
  if (!parsed.ok) {
    ctx.stderr.write(`skiff data-mover ${command}: ${parsed.message}\n\n${usage}`);
    return EXIT.usage;
  }
  return { repoFlags: parsed.flags, rest: parsed.rest };
}

export function usageError(
  ctx: CommandContext,
  command: "backup" | "restore",
  usage: string,
  parsed: { message: string } | { help: true },
): number {
  if ("help" in parsed) {
    ctx.stdout.write(usage);
    return EXIT.ok;
  }
  ctx.stderr.write(`skiff data-mover ${command}: ${parsed.message}\n\n${usage}`);
  return EXIT.usage;
}

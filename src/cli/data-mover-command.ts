/**
 * What `skiff data-mover backup` and `restore` do around the data path itself: flag parsing and --help, cancellation,
 * opening and closing the repository, the JSON summary with timing, the termination log and the exit code.
 */
import type { Repository } from "../repository/types.ts";
import type { CommandContext } from "./commands.ts";
import type { CommonMoverFlags, Parsed } from "./data-mover-args.ts";
import {
  canceledMessage,
  createMoverOutput,
  type MoverOutput,
  throughput,
  writeTerminationLog,
} from "./data-mover-output.ts";
import { type Cancellation, listenForCancellation } from "./data-mover-signals.ts";
import { EXIT, exitCodeFor } from "./repo-errors.ts";
import { connectRepository, parseRepoFlags, type RepoFlags } from "./repo-options.ts";
import { describeError } from "./run.ts";

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

export interface Timing {
  seconds: number;
  MBps: number;
}

/** What a data path moved: how many bytes (for the throughput) and the summary it reports, given the timing. */
export interface Moved {
  bytes: number;
  summary(timing: Timing): Record<string, unknown>;
}

export interface MoverCommand<F extends CommonMoverFlags> {
  command: "backup" | "restore";
  usage: string;
  parse(argv: readonly string[]): Parsed<F>;
  move(repo: Repository, flags: F, output: MoverOutput, signal: AbortSignal, env: NodeJS.ProcessEnv): Promise<Moved>;
}

export async function runMoverCommand<F extends CommonMoverFlags>(
  ctx: CommandContext,
  deps: MoverDependencies,
  mover: MoverCommand<F>,
): Promise<number> {
  const { command, usage } = mover;
  const args = splitRepoFlags(ctx, command, usage);
  if (typeof args === "number") return args;
  const parsed = mover.parse(args.rest);
  if (!parsed.ok) return usageError(ctx, command, usage, parsed);
  const flags = parsed.flags;
  const cancellation = deps.listenForCancellation();
  const output = createMoverOutput({ stdout: ctx.stdout, stderr: ctx.stderr, json: flags.json });
  const started = deps.now();
  let repo: Repository | undefined;
  try {
    repo = await deps.openRepository(args.repoFlags, ctx.env);
    const moved = await mover.move(repo, flags, output, cancellation.signal, ctx.env);
    output.endProgress();
    const seconds = (deps.now() - started) / 1000;
    const summary = moved.summary({
      seconds: Math.round(seconds * 1000) / 1000,
      MBps: throughput(moved.bytes, seconds),
    });
    output.result(summary);
    await writeTerminationLog(flags.terminationLog, JSON.stringify(summary));
    return 0;
  } catch (err) {
    output.endProgress();
    return await reportFailure(ctx, flags, cancellation, err, command);
  } finally {
    cancellation.dispose();
    await repo?.close().catch((err: unknown) => {
      ctx.stderr.write(`skiff data-mover ${command}: closing the repository failed: ${describeError(err)}\n`);
    });
  }
}

/** Prints why the run ended; a cancelled run says so in the words Velero's node agent looks for. */
async function reportFailure(
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
function splitRepoFlags(
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

function usageError(
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

/**
 * Exit codes and messages of the `skiff repo` commands, so scripts can tell the failures apart:
 * 0 done, 1 failed (or verify found problems), 2 usage error, 3 wrong password, 4 no repository there (missing
 * directory or bucket, no config, unsupported format), 5 repository locked by another process.
 */

import { LocationNotFoundError } from "../objectstore/filesystem.ts";
import { S3StoreError } from "../objectstore/s3-errors.ts";
import { NotARepositoryError, UnsupportedFormatError, WrongPasswordError } from "../repository/config.ts";
import { LockConflictError } from "../repository/locks.ts";
import { RepositoryExistsError } from "../repository/open.ts";
import type { CommandContext } from "./commands.ts";
import { describeError } from "./run.ts";

export const EXIT = { ok: 0, failed: 1, usage: 2, password: 3, notRepository: 4, locked: 5 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof WrongPasswordError) return EXIT.password;
  if (
    err instanceof NotARepositoryError ||
    err instanceof UnsupportedFormatError ||
    err instanceof LocationNotFoundError ||
    (err instanceof S3StoreError && err.code === "NoSuchBucket")
  ) {
    return EXIT.notRepository;
  }
  if (err instanceof RepositoryExistsError) return EXIT.failed;
  if (err instanceof LockConflictError) return EXIT.locked;
  return EXIT.failed;
}

/** Runs a repo command body, turning errors into a message on stderr and an exit code. */
export async function reportErrors(ctx: CommandContext, command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    ctx.stderr.write(`skiff ${command}: ${describeError(err)}\n`);
    return exitCodeFor(err);
  }
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes("-h") || argv.includes("--help");
}

/** `skiff repo init`: creates a repository (and a missing filesystem directory). */
import { COMPRESSIONS, type Compression } from "../repository/config.ts";
import { initRepository } from "../repository/open.ts";
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { openRepoStore, readRepoPassword, repoFlagsHelp, repositoryOptionsFrom } from "./repo-options.ts";

const usage = `Usage: skiff repo init --repo <location> [--password-file <file>] [--compression none|zstd] [options]

  --compression <mode>       how data chunks are stored: none (default; fastest, as Velero configures kopia)
                             or zstd (smaller repository, about 4 CPU seconds more per GiB of compressible data)

${repoFlagsHelp}
`;

/** The --compression value as a mode, or a message naming the bad value. */
function compressionFrom(
  value: string | undefined,
): { ok: true; compression: Compression | undefined } | { ok: false; message: string } {
  if (value === undefined || (COMPRESSIONS as readonly string[]).includes(value)) {
    return { ok: true, compression: value as Compression | undefined };
  }
  return { ok: false, message: `--compression must be one of ${COMPRESSIONS.join(", ")}, not '${value}'` };
}

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo init", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo init", usage, [], ["--compression"]);
    if (typeof parsed === "number") return parsed;
    const taken = compressionFrom(parsed.values.get("--compression"));
    if (!taken.ok) {
      ctx.stderr.write(`skiff repo init: ${taken.message}\n${usage}`);
      return EXIT.usage;
    }
    const password = await readRepoPassword(parsed.flags, ctx.env);
    const store = await openRepoStore(parsed.flags, true, ctx.env);
    const repo = await initRepository(store, password, {
      ...repositoryOptionsFrom(parsed.flags),
      workers: 0,
      ...(taken.compression === undefined ? {} : { compression: taken.compression }),
    });
    await repo.close();
    const compression = repo.parts.config.compression ?? "zstd";
    ctx.stdout.write(`created repository ${repo.parts.config.id} at ${store.describe} (compression: ${compression})\n`);
    return EXIT.ok;
  });

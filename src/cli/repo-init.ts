/** `skiff repo init`: creates a repository (and a missing filesystem directory). */
import { initRepository } from "../repository/open.ts";
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { openRepoStore, readRepoPassword, repoFlagsHelp, repositoryOptionsFrom } from "./repo-options.ts";

const usage = `Usage: skiff repo init --repo <location> [--password-file <file>] [options]\n\n${repoFlagsHelp}\n`;

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo init", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo init", usage, []);
    if (typeof parsed === "number") return parsed;
    const password = await readRepoPassword(parsed.flags, ctx.env);
    const store = await openRepoStore(parsed.flags, true);
    const repo = await initRepository(store, password, { ...repositoryOptionsFrom(parsed.flags), workers: 0 });
    await repo.close();
    ctx.stdout.write(`created repository ${repo.parts.config.id} at ${store.describe}\n`);
    return EXIT.ok;
  });

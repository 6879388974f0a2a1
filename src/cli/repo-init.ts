/** `skiff repo init`: creates a repository (and a missing filesystem directory). */
import { initRepository } from "../repository/open.ts";
import type { CommandRun } from "./commands.ts";
import { EXIT, reportErrors, wantsHelp } from "./repo-errors.ts";
import {
  openRepoStore,
  parseRepoFlags,
  readRepoPassword,
  repoFlagsHelp,
  repositoryOptionsFrom,
} from "./repo-options.ts";

const usage = `Usage: skiff repo init --repo <location> [--password-file <file>] [options]\n\n${repoFlagsHelp}\n`;

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo init", async () => {
    if (wantsHelp(ctx.argv)) {
      ctx.stdout.write(usage);
      return EXIT.ok;
    }
    const parsed = parseRepoFlags(ctx.argv);
    if (!parsed.ok || parsed.rest.length > 0) {
      ctx.stderr.write(
        `skiff repo init: ${parsed.ok ? `unexpected argument '${parsed.rest[0]}'` : parsed.message}\n${usage}`,
      );
      return EXIT.usage;
    }
    const password = await readRepoPassword(parsed.flags, ctx.env);
    const store = await openRepoStore(parsed.flags, true);
    const repo = await initRepository(store, password, { ...repositoryOptionsFrom(parsed.flags), workers: 0 });
    await repo.close();
    ctx.stdout.write(`created repository ${repo.parts.config.id} at ${store.describe}\n`);
    return EXIT.ok;
  });

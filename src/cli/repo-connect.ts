/** `skiff repo connect`: opens a repository to check location, password and format, and prints a summary. */
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { connectRepository, repoFlagsHelp } from "./repo-options.ts";

const usage = `Usage: skiff repo connect --repo <location> [--password-file <file>] [--json] [options]\n\n${repoFlagsHelp}\n`;

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo connect", async () => {
    const parsed = parseRepoCommandArgs(ctx, "repo connect", usage, ["--json"]);
    if (typeof parsed === "number") return parsed;
    const repo = await connectRepository(parsed.flags, ctx.env, { workers: 0 });
    try {
      const { config } = repo.parts;
      const summary = {
        location: repo.store.describe,
        id: config.id,
        format: `${config.format} v${config.version}`,
        created: config.createdAt,
        blobs: repo.blobs.table.size,
        packs: repo.blobs.packs.length - 1,
        indexFiles: repo.blobs.indexFiles.length,
      };
      if (parsed.rest.includes("--json")) ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        for (const [k, v] of Object.entries(summary)) ctx.stdout.write(`${k.padEnd(11)} ${v}\n`);
      }
      return EXIT.ok;
    } finally {
      await repo.close();
    }
  });

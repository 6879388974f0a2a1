/** `skiff repo change-password`: wraps the repository's master key under a new password. */
import { changePassword } from "../repository/password.ts";
import type { CommandRun } from "./commands.ts";
import { EXIT, reportErrors, wantsHelp } from "./repo-errors.ts";
import { openRepoStore, parseRepoFlags, readPassword, readRepoPassword, repoFlagsHelp } from "./repo-options.ts";

const usage = [
  "Usage: skiff repo change-password --repo <location> --password-file <file> --new-password-file <file> [options]",
  "",
  "Only the repository's config object is rewritten; stored data stays as it is, and processes that already",
  "opened the repository keep working. Update every place the old password is kept (in a cluster, the Secret",
  "the data mover pods read) right after.",
  "",
  "  --new-password-file <file> file holding the new password (first line); or env SKIFF_NEW_REPO_PASSWORD",
  repoFlagsHelp,
  "",
].join("\n");

export const run: CommandRun = (ctx) =>
  reportErrors(ctx, "repo change-password", async () => {
    if (wantsHelp(ctx.argv)) {
      ctx.stdout.write(usage);
      return EXIT.ok;
    }
    const parsed = parseRepoFlags(ctx.argv);
    if (!parsed.ok) {
      ctx.stderr.write(`skiff repo change-password: ${parsed.message}\n${usage}`);
      return EXIT.usage;
    }
    let newPasswordFile: string | undefined;
    const rest = parsed.rest;
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (arg === "--new-password-file" && rest[i + 1] !== undefined) newPasswordFile = rest[++i];
      else if (arg.startsWith("--new-password-file=")) newPasswordFile = arg.slice("--new-password-file=".length);
      else {
        ctx.stderr.write(`skiff repo change-password: unexpected argument '${arg}'\n${usage}`);
        return EXIT.usage;
      }
    }
    const oldPassword = await readRepoPassword(parsed.flags, ctx.env);
    const newPassword = await readPassword(newPasswordFile, ctx.env, {
      flag: "--new-password-file",
      variable: "SKIFF_NEW_REPO_PASSWORD",
      what: "new repository password",
    });
    const store = await openRepoStore(parsed.flags);
    const config = await changePassword(store, oldPassword, newPassword);
    ctx.stdout.write(`changed the password of repository ${config.id} at ${store.describe}\n`);
    return EXIT.ok;
  });

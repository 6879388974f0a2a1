/** `skiff repo change-password`: wraps the repository's master key under a new password. */
import { changePassword } from "../repository/password.ts";
import type { CommandRun } from "./commands.ts";
import { parseRepoCommandArgs } from "./repo-command-args.ts";
import { EXIT, reportErrors } from "./repo-errors.ts";
import { openRepoStore, readPassword, readRepoPassword, repoFlagsHelp } from "./repo-options.ts";

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
    const parsed = parseRepoCommandArgs(ctx, "repo change-password", usage, [], ["--new-password-file"]);
    if (typeof parsed === "number") return parsed;
    const newPasswordFile = parsed.values.get("--new-password-file");
    const oldPassword = await readRepoPassword(parsed.flags, ctx.env);
    const newPassword = await readPassword(newPasswordFile, ctx.env, {
      flag: "--new-password-file",
      variable: "SKIFF_NEW_REPO_PASSWORD",
      what: "new repository password",
    });
    const store = await openRepoStore(parsed.flags, false, ctx.env);
    const config = await changePassword(store, oldPassword, newPassword);
    ctx.stdout.write(`changed the password of repository ${config.id} at ${store.describe}\n`);
    return EXIT.ok;
  });

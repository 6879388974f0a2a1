/** The argument handling shared by `skiff repo` commands that take the repository flags plus a few plain switches. */
import type { CommandContext } from "./commands.ts";
import { EXIT, wantsHelp } from "./repo-errors.ts";
import { parseRepoFlags, type RepoFlags } from "./repo-options.ts";

/**
 * Prints the usage for --help and rejects anything that is neither a repository flag nor one of `switches`.
 * A number is the exit code to return at once; otherwise the flags and the remaining arguments (only switches).
 */
export function parseRepoCommandArgs(
  ctx: CommandContext,
  command: string,
  usage: string,
  switches: readonly string[],
): { flags: RepoFlags; rest: string[] } | number {
  if (wantsHelp(ctx.argv)) {
    ctx.stdout.write(usage);
    return EXIT.ok;
  }
  const parsed = parseRepoFlags(ctx.argv);
  const extra = parsed.ok ? parsed.rest.filter((a) => !switches.includes(a)) : [];
  if (!parsed.ok || extra.length > 0) {
    ctx.stderr.write(`skiff ${command}: ${parsed.ok ? `unexpected argument '${extra[0]}'` : parsed.message}\n${usage}`);
    return EXIT.usage;
  }
  return { flags: parsed.flags, rest: parsed.rest };
}

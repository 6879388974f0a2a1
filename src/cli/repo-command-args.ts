/**
 * The argument handling shared by `skiff repo` commands: the repository flags plus a few switches and options
 * of their own.
 */
import type { CommandContext } from "./commands.ts";
import { EXIT, wantsHelp } from "./repo-errors.ts";
import { parseRepoFlags, type RepoFlags } from "./repo-options.ts";

export interface RepoCommandArgs {
  flags: RepoFlags;
  /** The switches given. */
  rest: string[];
  /** The options given (`--name value` or `--name=value`), by name. */
  values: Map<string, string>;
}

/**
 * Prints the usage for --help and rejects anything that is neither a repository flag, one of `switches`, nor
 * one of `options` with its value. A number is the exit code to return at once.
 */
export function parseRepoCommandArgs(
  ctx: CommandContext,
  command: string,
  usage: string,
  switches: readonly string[],
  options: readonly string[] = [],
): RepoCommandArgs | number {
  if (wantsHelp(ctx.argv)) {
    ctx.stdout.write(usage);
    return EXIT.ok;
  }
  const fail = (message: string) => {
    ctx.stderr.write(`skiff ${command}: ${message}\n${usage}`);
    return EXIT.usage;
  };
  const parsed = parseRepoFlags(ctx.argv);
  if (!parsed.ok) return fail(parsed.message);
  const rest: string[] = [];
  const values = new Map<string, string>();
  for (let i = 0; i < parsed.rest.length; i++) {
    const arg = parsed.rest[i]!;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (options.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : parsed.rest[++i];
      if (value === undefined) return fail(`${name} needs a value`);
      values.set(name, value);
    } else if (switches.includes(arg)) rest.push(arg);
    else return fail(`unexpected argument '${arg}'`);
  }
  return { flags: parsed.flags, rest, values };
}

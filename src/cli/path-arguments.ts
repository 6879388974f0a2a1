/** Argument checking for commands whose only arguments are paths (`skiff policy lint`, `skiff policy test`). */
import type { CommandContext } from "./commands.ts";

/**
 * The exit code to return at once: 0 after printing the usage for -h/--help, 2 when no path is given or an
 * argument looks like an option; undefined when argv is a list of paths to work on.
 */
export function checkPathArguments(
  { argv, stdout, stderr }: Pick<CommandContext, "argv" | "stdout" | "stderr">,
  usage: string,
): number | undefined {
  if (argv.includes("-h") || argv.includes("--help")) {
    stdout.write(usage);
    return 0;
  }
  if (argv.length === 0 || argv.some((a) => a.startsWith("-"))) {
    stderr.write(usage);
    return 2;
  }
  return undefined;
}

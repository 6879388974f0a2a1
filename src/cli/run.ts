import { skiffVersion } from "../version.ts";
import { type CommandContext, commands } from "./commands.ts";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 8);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    `skiff ${skiffVersion}: backup policies and a CSI data mover for Kubernetes (Velero 1.15 API)`,
    "",
    "Usage: skiff <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Options:",
    "  -h, --help     show help (also after a command)",
    "  -v, --version  print the version",
    "",
  ].join("\n");
}

/** Runs the CLI and returns the exit code. Never throws: unexpected errors are printed with their cause. */
export async function runCli(ctx: CommandContext): Promise<number> {
  const [first, ...rest] = ctx.argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    ctx.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === "-v" || first === "--version" || first === "version") {
    ctx.stdout.write(`${skiffVersion}\n`);
    return 0;
  }
  // Longest match first, so "policy test" wins over "policy".
  const byLength = [...commands].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length);
  for (const spec of byLength) {
    const words = spec.name.split(" ");
    if (words.every((w, i) => ctx.argv[i] === w)) {
      try {
        const run = await spec.load();
        return await run({ ...ctx, argv: ctx.argv.slice(words.length) });
      } catch (err) {
        ctx.stderr.write(`skiff ${spec.name}: ${describeError(err)}\n`);
        return 1;
      }
    }
  }
  ctx.stderr.write(`skiff: unknown command '${[first, ...rest.slice(0, 1)].join(" ")}'. Run 'skiff --help'.\n`);
  return 2;
}

/** An error's message with its chain of causes (never JSON.stringify an Error: it prints {}). */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  while (current !== undefined && current !== null && parts.length < 5) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": caused by: ");
}

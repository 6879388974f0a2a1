/**
 * The registry of `skiff` subcommands. Each command lives in its own module and is loaded only when run,
 * so `skiff --help` stays fast and one command's dependencies never slow another.
 */
export interface CommandContext {
  argv: string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** A command returns its exit code; it throws only for unexpected failures. */
export type CommandRun = (ctx: CommandContext) => Promise<number>;

export interface CommandSpec {
  name: string;
  summary: string;
  load: () => Promise<CommandRun>;
}

export const commands: CommandSpec[] = [];

export function registerCommand(spec: CommandSpec): void {
  commands.push(spec);
}

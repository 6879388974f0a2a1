/** Runs a `skiff` command in this process (every command registered) and collects its exit code and output. */
import { PassThrough } from "node:stream";
import "../../src/cli/register.ts";
import { runCli } from "../../src/cli/run.ts";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runSkiff(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const code = await runCli({ argv, stdout, stderr, env });
  return { code, out, err };
}

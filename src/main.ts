#!/usr/bin/env node
/** The `skiff` entry point: registers the commands and runs the CLI. Nothing else lives here. */
import "./cli/register.ts";
import { runCli } from "./cli/run.ts";

process.exitCode = await runCli({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

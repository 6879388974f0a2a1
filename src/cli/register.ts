/**
 * Every subcommand, in the order `skiff --help` lists them. Modules are imported lazily by `load`, so a
 * command's dependencies are only loaded when it runs.
 */
import { registerCommand } from "./commands.ts";

// -- admission webhooks --

// -- policies (offline) --

// -- repository --

// -- data mover --

/**
 * Opens the repository named by the repository flags the data mover passes on (--repo, --password-file, ...).
 */
import { readFile } from "node:fs/promises";
import { openObjectStore } from "../objectstore/open.ts";
import { openRepository } from "../repository/open.ts";
import type { Repository } from "../repository/types.ts";
import type { CommandContext } from "./commands.ts";

export async function openMoverRepository(repoArgs: string[], _ctx: CommandContext): Promise<Repository> {
  const flags = new Map<string, string>();
  for (let i = 0; i < repoArgs.length; i++) {
    const arg = repoArgs[i]!;
    const eq = arg.indexOf("=");
    if (eq >= 0) flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    else flags.set(arg, repoArgs[++i] ?? "");
  }
  for (const name of flags.keys()) {
    if (!["--repo", "--password-file", "--cache-dir", "--credentials-file"].includes(name)) {
      throw new Error(`unknown flag ${name}`);
    }
  }
  const location = flags.get("--repo");
  if (location === undefined || location === "") throw new Error("--repo is required");
  const passwordFile = flags.get("--password-file");
  if (passwordFile === undefined || passwordFile === "") throw new Error("--password-file is required");
  const password = (await readFile(passwordFile, "utf8")).replace(/\r?\n$/, "");
  const credentialsFile = flags.get("--credentials-file");
  const store = await openObjectStore(location, credentialsFile === undefined ? {} : { credentialsFile });
  const cacheDir = flags.get("--cache-dir");
  return openRepository(store, password, cacheDir === undefined ? {} : { cacheDir });
}

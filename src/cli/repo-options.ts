/**
 * The repository flags shared by `skiff repo ...` and `skiff data-mover ...`:
 *   --repo <location>          a path, file:///path or s3://bucket/prefix?region=...
 *   --password-file <file>     the repository password (first line); or env SKIFF_REPO_PASSWORD
 *   --cache-dir <dir>          local cache of index and metadata
 *   --cache-limit-mb <n>       hard size limit of that cache (default 1024)
 *   --credentials-file <file>  S3 credentials (AWS shared-credentials format)
 * Parsing is pure (argv in, flags or a message out); connecting does the I/O.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "../log.ts";
import { openObjectStore } from "../objectstore/open.ts";
import type { ObjectStore } from "../objectstore/types.ts";
import { openRepository, type RepositoryOptions } from "../repository/open.ts";
import type { SkiffRepository } from "../repository/repository.ts";

export interface RepoFlags {
  repo: string;
  passwordFile: string | undefined;
  cacheDir: string | undefined;
  cacheLimitMB: number | undefined;
  credentialsFile: string | undefined;
}

export type RepoFlagsResult = { ok: true; flags: RepoFlags; rest: string[] } | { ok: false; message: string };

export const repoFlagsHelp = [
  "  --repo <location>          repository: a path, file:///path or s3://bucket/prefix?region=...",
  "  --password-file <file>     file holding the repository password (or set SKIFF_REPO_PASSWORD)",
  "  --cache-dir <dir>          local cache for index and metadata (default: none)",
  "  --cache-limit-mb <n>       hard size limit of the cache in MiB (default 1024)",
  "  --credentials-file <file>  S3 credentials file (AWS shared-credentials format)",
  "  env SKIFF_DIRECT_WRITES=off  write packs and large restored files through the page cache (default: O_DIRECT)",
].join("\n");

const valueFlags = ["--repo", "--password-file", "--cache-dir", "--cache-limit-mb", "--credentials-file"] as const;

/** Takes the repository flags out of argv (`--flag value` or `--flag=value`); other arguments are returned in rest. */
export function parseRepoFlags(argv: string[]): RepoFlagsResult {
  const values = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!(valueFlags as readonly string[]).includes(name)) {
      rest.push(arg);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "") return { ok: false, message: `${name} needs a value` };
    if (values.has(name)) return { ok: false, message: `${name} is given twice` };
    values.set(name, value);
  }
  const repo = values.get("--repo");
  if (repo === undefined) return { ok: false, message: "--repo <location> is required" };
  let cacheLimitMB: number | undefined;
  const limit = values.get("--cache-limit-mb");
  if (limit !== undefined) {
    cacheLimitMB = Number(limit);
    if (!Number.isInteger(cacheLimitMB) || cacheLimitMB < 0) {
      return { ok: false, message: `--cache-limit-mb must be a whole number of MiB, not '${limit}'` };
    }
  }
  return {
    ok: true,
    flags: {
      repo,
      passwordFile: values.get("--password-file"),
      cacheDir: values.get("--cache-dir"),
      cacheLimitMB,
      credentialsFile: values.get("--credentials-file"),
    },
    rest,
  };
}

/** The password from --password-file (first line) or SKIFF_REPO_PASSWORD. */
export function readRepoPassword(flags: RepoFlags, env: NodeJS.ProcessEnv): Promise<string> {
  return readPassword(flags.passwordFile, env, { flag: "--password-file", variable: "SKIFF_REPO_PASSWORD" });
}

/**
 * A password from the first line of `file` (a mounted Secret key, in a cluster) or else from an environment
 * variable. The error names both ways of passing it, never the value.
 */
export async function readPassword(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  names: { flag: string; variable: string; what?: string },
): Promise<string> {
  const what = names.what ?? "repository password";
  let password: string | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new Error(`cannot read the ${what} file ${file}`, { cause: err });
    }
    password = text.split(/\r?\n/)[0];
  } else {
    password = env[names.variable];
  }
  if (password === undefined || password === "") {
    throw new Error(`no ${what}: pass ${names.flag} <file> or set ${names.variable}`);
  }
  return password;
}

/**
 * SKIFF_DIRECT_WRITES: `off` (or `0`, `false`) makes a filesystem repository's packs and large restored files go
 * through the page cache instead of O_DIRECT (see objectstore/direct-writer.ts); unset or `on` keeps them direct.
 */
export function directWritesFrom(env: NodeJS.ProcessEnv): boolean {
  const value = (env.SKIFF_DIRECT_WRITES ?? "").trim().toLowerCase();
  if (value === "" || value === "on" || value === "1" || value === "true") return true;
  if (value === "off" || value === "0" || value === "false") return false;
  throw new Error(`SKIFF_DIRECT_WRITES must be 'on' or 'off', not '${env.SKIFF_DIRECT_WRITES}'`);
}

export async function openRepoStore(
  flags: RepoFlags,
  create = false,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ObjectStore> {
  return openObjectStore(flags.repo, {
    create,
    directWrites: directWritesFrom(env),
    ...(flags.credentialsFile !== undefined ? { credentialsFile: flags.credentialsFile } : {}),
  });
}

export function repositoryOptionsFrom(flags: RepoFlags, logger?: Logger): RepositoryOptions {
  const options: RepositoryOptions = {};
  if (flags.cacheDir !== undefined) options.cacheDir = flags.cacheDir;
  if (flags.cacheLimitMB !== undefined) options.cacheLimitMB = flags.cacheLimitMB;
  if (logger !== undefined) options.logger = logger;
  return options;
}

/** Opens the repository the flags name. */
export async function connectRepository(
  flags: RepoFlags,
  env: NodeJS.ProcessEnv = process.env,
  extra: RepositoryOptions = {},
): Promise<SkiffRepository> {
  const password = await readRepoPassword(flags, env);
  const store = await openRepoStore(flags, false, env);
  return openRepository(store, password, { ...repositoryOptionsFrom(flags), ...extra });
}

/**
 * The backup repositories `npm start` offers: a filesystem one in the user's data dir (kept across runs, with a
 * generated password file) and one on the local S3 server (gone with the server). Both are created with
 * `skiff repo init`, the command a user would run.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdir, readdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { S3Server } from "../../test/env/s3.ts";

const run = promisify(execFile);

export interface RepositoryLocation {
  name: string;
  repo: string;
  passwordFile: string;
  credentialsFile?: string;
  /** True when this run created it, false when it already existed. */
  created: boolean;
}

/** `$XDG_DATA_HOME/skiff` (default ~/.local/share/skiff): what outlives `npm start`. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local", "share"), "skiff");
}

/** `$XDG_STATE_HOME/skiff` (default ~/.local/state/skiff): logs of the last run. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "skiff");
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The S3 repository location for the local server (custom endpoint, path-style, as a BSL's config keys). */
export function s3RepositoryLocation(endpoint: string, region: string, bucket: string): string {
  const query = new URLSearchParams({ region, s3Url: endpoint, s3ForcePathStyle: "true" });
  return `s3://${bucket}/repository?${query}`;
}

async function skiff(root: string, args: string[]): Promise<void> {
  try {
    await run(process.execPath, [join(root, "src", "main.ts"), ...args], { cwd: root });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`skiff ${args.slice(0, 2).join(" ")} failed: ${detail}`);
  }
}

/** A password file (0600) in dir, generated once and reused afterwards. */
export async function ensurePasswordFile(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "repository.password");
  if (!(await exists(file))) {
    await writeFile(file, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  }
  return file;
}

/** The filesystem repository under the data dir; `skiff repo init` only when the directory is missing or empty. */
export async function ensureFilesystemRepository(root: string, dir: string): Promise<RepositoryLocation> {
  const repo = join(dir, "repository");
  const entries = await readdir(repo).catch(() => []);
  const created = entries.length === 0;
  if (!created && !(await exists(join(dir, "repository.password")))) {
    // A new password would not open it; generating one would only hide the problem.
    throw new Error(
      `the repository ${repo} exists but its password file ${join(dir, "repository.password")} is gone: ` +
        "restore the file, or move the repository away to start a new one",
    );
  }
  const passwordFile = await ensurePasswordFile(dir);
  if (created) await skiff(root, ["repo", "init", "--repo", repo, "--password-file", passwordFile]);
  return { name: "filesystem", repo, passwordFile, created };
}

/** A repository in bucket `skiff` of the local S3 server (same password file). */
export async function createS3Repository(
  root: string,
  s3: S3Server,
  passwordFile: string,
): Promise<RepositoryLocation> {
  const bucket = "skiff";
  await s3.createBucket(bucket);
  const repo = s3RepositoryLocation(s3.endpoint, s3.region, bucket);
  await skiff(root, [
    "repo",
    "init",
    "--repo",
    repo,
    "--password-file",
    passwordFile,
    "--credentials-file",
    s3.credentialsFile,
  ]);
  return { name: "S3", repo, passwordFile, credentialsFile: s3.credentialsFile, created: true };
}

/** Single-quoted for a POSIX shell. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The CLI by absolute path: bin/skiff runs the pinned Node from any directory. (Not `npx skiff`: the project's
 * own bin is not linked into node_modules/.bin, so npx would fetch an unrelated package of that name.)
 */
export function skiffBin(root: string): string {
  return shellQuote(join(root, "bin", "skiff"));
}

/** The commands that back up DIR into the repository and restore a snapshot from it. */
export function moverCommands(
  root: string,
  location: RepositoryLocation,
): { backup: string; restore: string; snapshots: string } {
  const skiff = skiffBin(root);
  const flags = [
    `--repo ${shellQuote(location.repo)}`,
    `--password-file ${shellQuote(location.passwordFile)}`,
    ...(location.credentialsFile ? [`--credentials-file ${shellQuote(location.credentialsFile)}`] : []),
  ].join(" ");
  return {
    backup: `${skiff} data-mover backup ${flags} --source DIR`,
    restore: `${skiff} data-mover restore ${flags} --snapshot ID --target NEW_DIR`,
    snapshots: `${skiff} repo snapshots ${flags}`,
  };
}

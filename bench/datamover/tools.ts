/**
 * The three tools as the benchmark drives them: Skiff's CLI, kopia configured the way Velero configures it,
 * and restic with its defaults. Each gets its own work folder (config, cache, logs) next to its repositories,
 * and the password comes from the environment or a file, never from argv.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandSpec } from "./measure.ts";

/** "skiff-zstd" is Skiff with a repository made by `repo init --compression zstd` (the default is none). */
export type ToolName = "skiff" | "skiff-zstd" | "kopia" | "restic";

export interface Tool {
  name: ToolName;
  version: string;
  /** Creates an empty repository (not measured). */
  init(repo: string): CommandSpec;
  backup(repo: string, source: string): CommandSpec;
  /** The snapshot id from the backup command's output. */
  snapshotId(stdout: string, repo: string): string;
  restore(repo: string, snapshot: string, target: string): CommandSpec;
  /** Where the restored copy of `source` lands inside `target`. */
  restoredRoot(target: string, source: string): string;
  maintenance?(repo: string): CommandSpec;
}

const password = "skiff-bench-password-not-secret";

/** An S3 server to put the repositories on instead of local folders (`--s3`): one bucket per tool and repository. */
export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  credentialsFile: string;
}

/** The repository's local folder names its bucket when repositories live on S3 (e.g. "kopia-repo-large"). */
export function bucketFor(tool: ToolName, repo: string): string {
  return `${tool}-${basename(repo)}`;
}

function s3Env(s3: S3Target | undefined): NodeJS.ProcessEnv {
  return s3 ? { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } : {};
}
const projectRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The last line of output that parses as a JSON object. */
function lastJson(stdout: string, label: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n").reverse();
  for (const line of lines) {
    if (!line.trim().startsWith("{")) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {}
  }
  throw new Error(`${label}: no JSON line in the output:\n${stdout.slice(-2000)}`);
}

export async function skiffTool(workDir: string, s3?: S3Target, name: "skiff" | "skiff-zstd" = "skiff"): Promise<Tool> {
  await mkdir(workDir, { recursive: true });
  const passwordFile = join(workDir, "password");
  await writeFile(passwordFile, password, { mode: 0o600 });
  // The shipped entry point, so the bench measures the process settings it applies (V8 and malloc options).
  const entry = join(projectRoot, "bin", "skiff");
  const env = { ...process.env, SKIFF_LOG_LEVEL: "warn" };
  const cli = (args: string[]): CommandSpec => ({ cmd: entry, args, env });
  // The cache lives in the tool's work folder, like the peers' caches, and is not counted as repository size.
  const location = (repo: string) => {
    if (!s3) return repo;
    const query = new URLSearchParams({ region: s3.region, s3Url: s3.endpoint, s3ForcePathStyle: "true" });
    return `s3://${bucketFor(name, repo)}?${query}`;
  };
  const common = (repo: string) => [
    "--repo",
    location(repo),
    "--password-file",
    passwordFile,
    "--cache-dir",
    join(workDir, "cache"),
    ...(s3 ? ["--credentials-file", s3.credentialsFile] : []),
  ];
  return {
    name,
    version: "working tree",
    init: (repo) => cli(["repo", "init", ...common(repo), ...(name === "skiff-zstd" ? ["--compression", "zstd"] : [])]),
    backup: (repo, source) => cli(["data-mover", "backup", ...common(repo), "--source", source, "--parent", "auto"]),
    snapshotId(stdout) {
      const summary = lastJson(stdout, "skiff backup");
      const id = summary.snapshotID ?? summary.snapshotId ?? summary.snapshot_id ?? summary.id;
      if (typeof id !== "string") throw new Error(`skiff backup: no snapshot id in ${JSON.stringify(summary)}`);
      return id;
    },
    restore: (repo, snapshot, target) =>
      cli(["data-mover", "restore", ...common(repo), "--snapshot", snapshot, "--target", target]),
    restoredRoot: (target) => target,
    maintenance: (repo) => cli(["repo", "maintenance", ...common(repo), "--full"]),
  };
}

/**
 * kopia as Velero 1.15 sets it up: BLAKE2B-256-128 hashing, AES256-GCM-HMAC-SHA256 encryption, the default
 * DYNAMIC-4M-BUZHASH splitter, no compression policy, caches from cacheLimitMB 5000 (80% content, 20% metadata).
 */
export function kopiaTool(binary: string, version: string, workDir: string, s3?: S3Target): Tool {
  const envFor = (repo: string): NodeJS.ProcessEnv => ({
    ...process.env,
    ...s3Env(s3),
    KOPIA_PASSWORD: password,
    KOPIA_CONFIG_PATH: `${repo}.kopia-config`,
    KOPIA_LOG_DIR: join(workDir, "logs"),
    KOPIA_CHECK_FOR_UPDATES: "false",
    KOPIA_PERSIST_CREDENTIALS_ON_CONNECT: "false",
  });
  const run = (repo: string, args: string[]): CommandSpec => ({ cmd: binary, args, env: envFor(repo) });
  return {
    name: "kopia",
    version,
    init: (repo) =>
      run(repo, [
        "repository",
        "create",
        ...(s3
          ? [
              "s3",
              `--bucket=${bucketFor("kopia", repo)}`,
              `--endpoint=${new URL(s3.endpoint).host}`,
              `--region=${s3.region}`,
              ...(s3.endpoint.startsWith("http:") ? ["--disable-tls"] : []),
            ]
          : ["filesystem", `--path=${repo}`]),
        `--cache-directory=${join(workDir, "cache", repo.split("/").pop() ?? "repo")}`,
        "--content-cache-size-mb=4000",
        "--metadata-cache-size-mb=1000",
        "--block-hash=BLAKE2B-256-128",
        "--encryption=AES256-GCM-HMAC-SHA256",
        "--no-check-for-updates",
      ]),
    backup: (repo, source) => run(repo, ["snapshot", "create", source, "--json"]),
    snapshotId(stdout) {
      const manifest = lastJson(stdout, "kopia snapshot create");
      if (typeof manifest.id !== "string") throw new Error(`kopia: no snapshot id in ${stdout.slice(0, 500)}`);
      return manifest.id;
    },
    restore: (repo, snapshot, target) => run(repo, ["snapshot", "restore", snapshot, target]),
    restoredRoot: (target) => target,
  };
}

/** restic with its defaults (repository format 2, compression auto), as Velero's deprecated restic path runs it. */
export function resticTool(binary: string, version: string, workDir: string, s3?: S3Target): Tool {
  const envFor = (repo: string): NodeJS.ProcessEnv => ({
    ...process.env,
    ...s3Env(s3),
    RESTIC_PASSWORD: password,
    RESTIC_REPOSITORY: s3 ? `s3:${s3.endpoint}/${bucketFor("restic", repo)}` : repo,
    RESTIC_CACHE_DIR: join(workDir, "cache"),
  });
  const run = (repo: string, args: string[]): CommandSpec => ({ cmd: binary, args, env: envFor(repo) });
  return {
    name: "restic",
    version,
    init: (repo) => run(repo, ["init"]),
    backup: (repo, source) => run(repo, ["backup", "--json", "--host", "skiff-bench", source]),
    snapshotId(stdout) {
      const summary = lastJson(stdout, "restic backup");
      if (typeof summary.snapshot_id !== "string")
        throw new Error(`restic: no snapshot_id in ${JSON.stringify(summary)}`);
      return summary.snapshot_id;
    },
    restore: (repo, snapshot, target) => run(repo, ["restore", snapshot, "--target", target]),
    // restic recreates the source's absolute path under the target.
    restoredRoot: (target, source) => join(target, source),
  };
}

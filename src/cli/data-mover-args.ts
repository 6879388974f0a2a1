/**
 * Flags of `skiff data-mover backup|restore`. Pure: argv in, options or a message out. The repository flags
 * (--repo, --password-file, ...) are taken out first by the shared parser in repo-options.ts.
 */
import { availableParallelism } from "node:os";
import { repoFlagsHelp } from "./repo-options.ts";

export interface CommonMoverFlags {
  parallel: number;
  json: boolean;
  /** Velero writes the outcome to /dev/termination-log; the pod spec passes the path. */
  terminationLog: string | undefined;
}

export interface BackupFlags extends CommonMoverFlags {
  source: string;
  volumeMode: "Filesystem" | "Block";
  parent: string | undefined;
  parentMatchTags: string[] | undefined;
  tags: Record<string, string>;
  failOnError: boolean;
}

export interface RestoreFlags extends CommonMoverFlags {
  snapshot: string;
  target: string;
  sparse: boolean;
  overwrite: boolean;
}

export type Parsed<T> = { ok: true; flags: T } | { ok: false; message: string } | { ok: false; help: true };

const booleanFlags = new Set(["--json", "--fail-on-error", "--sparse", "--overwrite"]);
const valueFlags = new Set([
  "--source",
  "--volume-path",
  "--volume-mode",
  "--parent",
  "--parent-match-tag",
  "--tag",
  "--parallel",
  "--snapshot",
  "--target",
  "--termination-log",
]);

interface RawFlags {
  values: Map<string, string[]>;
  booleans: Set<string>;
}

function splitArgs(argv: readonly string[]): RawFlags | string | "help" {
  const values = new Map<string, string[]>();
  const booleans = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (!arg.startsWith("--")) return `unexpected argument '${arg}'`;
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (booleanFlags.has(name)) {
      if (eq >= 0) return `${name} takes no value`;
      booleans.add(name);
    } else if (valueFlags.has(name)) {
      let value: string | undefined;
      if (eq >= 0) value = arg.slice(eq + 1);
      else value = argv[++i];
      if (value === undefined) return `${name} needs a value`;
      values.set(name, [...(values.get(name) ?? []), value]);
    } else {
      return `unknown flag ${name}`;
    }
  }
  return { values, booleans };
}

function single(raw: RawFlags, name: string): string | undefined {
  const all = raw.values.get(name);
  return all?.[all.length - 1];
}

function common(raw: RawFlags): CommonMoverFlags | string {
  const parallelText = single(raw, "--parallel");
  const parallel = parallelText === undefined ? availableParallelism() : Number(parallelText);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 256) {
    return `--parallel must be a whole number from 1 to 256, got '${parallelText}'`;
  }
  return {
    parallel,
    json: raw.booleans.has("--json"),
    terminationLog: single(raw, "--termination-log"),
  };
}

export function parseBackupArgs(argv: readonly string[]): Parsed<BackupFlags> {
  const raw = splitArgs(argv);
  if (raw === "help") return { ok: false, help: true };
  if (typeof raw === "string") return { ok: false, message: raw };
  const base = common(raw);
  if (typeof base === "string") return { ok: false, message: base };
  // --volume-path is the name Velero's backup pod passes.
  const source = single(raw, "--source") ?? single(raw, "--volume-path");
  if (source === undefined || source === "") return { ok: false, message: "--source is required" };
  const mode = single(raw, "--volume-mode") ?? "Filesystem";
  if (mode !== "Filesystem" && mode !== "Block") {
    return { ok: false, message: `--volume-mode must be Filesystem or Block, got '${mode}'` };
  }
  const tags: Record<string, string> = {};
  for (const tag of raw.values.get("--tag") ?? []) {
    const eq = tag.indexOf("=");
    if (eq <= 0) return { ok: false, message: `--tag must be key=value, got '${tag}'` };
    tags[tag.slice(0, eq)] = tag.slice(eq + 1);
  }
  const matchTags = raw.values.get("--parent-match-tag");
  for (const key of matchTags ?? []) {
    if (!(key in tags)) return { ok: false, message: `--parent-match-tag '${key}' is not one of the --tag keys` };
  }
  return {
    ok: true,
    flags: {
      ...base,
      source,
      volumeMode: mode,
      parent: single(raw, "--parent"),
      parentMatchTags: matchTags,
      tags,
      failOnError: raw.booleans.has("--fail-on-error"),
    },
  };
}

export function parseRestoreArgs(argv: readonly string[]): Parsed<RestoreFlags> {
  const raw = splitArgs(argv);
  if (raw === "help") return { ok: false, help: true };
  if (typeof raw === "string") return { ok: false, message: raw };
  const base = common(raw);
  if (typeof base === "string") return { ok: false, message: base };
  const snapshot = single(raw, "--snapshot");
  if (snapshot === undefined || snapshot === "") return { ok: false, message: "--snapshot is required" };
  const target = single(raw, "--target") ?? single(raw, "--volume-path");
  if (target === undefined || target === "") return { ok: false, message: "--target is required" };
  return {
    ok: true,
    flags: {
      ...base,
      snapshot,
      target,
      sparse: raw.booleans.has("--sparse"),
      overwrite: raw.booleans.has("--overwrite"),
    },
  };
}

export const backupUsage = `Usage: skiff data-mover backup --repo LOCATION --password-file FILE --source PATH [options]

Backs up a mounted volume into the repository and prints the snapshot id.

Options:
  --source PATH              directory (Filesystem) or device/file (Block) to back up (alias --volume-path)
  --volume-mode MODE         Filesystem (default) or Block
  --parent ID|auto           compare with this snapshot (auto: the latest of the same source and tags);
                             unchanged files are not read again
  --parent-match-tag KEY     with --parent auto, only these tag keys must match (repeatable; default all)
  --tag KEY=VALUE            label the snapshot (repeatable)
  --parallel N               files read at once (default: the number of CPUs)
  --fail-on-error            stop at the first unreadable file (default: skip it, count and name it)
  --json                     JSON progress lines even on a terminal
  --termination-log FILE     also write the outcome here (e.g. /dev/termination-log)

Repository:
${repoFlagsHelp}
`;

export const restoreUsage = `Usage: skiff data-mover restore --repo LOCATION --password-file FILE --snapshot ID --target PATH [options]

Restores a snapshot into an empty directory (or onto a device/file for Block snapshots).

Options:
  --snapshot ID              snapshot id or unique prefix
  --target PATH              where to restore (alias --volume-path); created when missing
  --sparse                   leave holes for runs of zero bytes (WriteSparseFiles)
  --overwrite                restore into a non-empty target, replacing what is in the way
  --parallel N               files written at once (default: the number of CPUs)
  --json                     JSON progress lines even on a terminal
  --termination-log FILE     also write the outcome here (e.g. /dev/termination-log)

Repository:
${repoFlagsHelp}
`;

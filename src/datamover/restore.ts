/**
 * Restoring a snapshot: a directory tree into a target directory, or a block stream onto a device or file.
 */

import type { Stats } from "node:fs";
import { lstat, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Repository, SnapshotManifest } from "../repository/types.ts";
import { SmallFileWriterPool } from "./file-writer-pool.ts";
import { type ProgressListener, ProgressMeter } from "./progress.ts";
import { applyToPath } from "./restore-attributes.ts";
import { type RestoreStats, TreeRestorer } from "./restore-tree.ts";
import { rootEntryOf } from "./root-directory.ts";
import { fileTarget, writeObject } from "./sparse-writer.ts";

export type { RestoreStats } from "./restore-tree.ts";

export interface RestoreOptions {
  /** Directory (Filesystem snapshots) or device/file (Block snapshots) to restore into. */
  target: string;
  /** Files downloaded at once (default 4). */
  parallelFiles?: number;
  /** Leave holes for aligned runs of zero bytes (Velero's WriteSparseFiles). */
  writeSparseFiles?: boolean;
  /** Write files of 1 MiB and more with O_DIRECT where the target filesystem allows it (default true). */
  directWrites?: boolean;
  /** Restore into a non-empty target, replacing entries in the way. */
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  progressIntervalMs?: number;
  /** Things the user should know that are not failures (e.g. owners kept because not root). */
  onNotice?: (message: string) => void;
  /** Whether to behave as root (chown, mknod); defaults to the effective uid being 0. */
  asRoot?: boolean;
}

export interface RestoreResult {
  snapshot: SnapshotManifest;
  stats: RestoreStats;
}

export class RestoreTargetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RestoreTargetError";
  }
}

export async function restoreSnapshot(
  repo: Repository,
  snapshotId: string,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const snapshot = await repo.loadSnapshot(snapshotId);
  const asRoot = options.asRoot ?? process.geteuid?.() === 0;
  const stats: RestoreStats = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardLinks: 0,
    specialFiles: 0,
    bytes: 0,
    bytesWritten: 0,
    skipped: 0,
  };
  const meter = new ProgressMeter({ onProgress: options.onProgress, intervalMs: options.progressIntervalMs });
  const notice = options.onNotice ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const cleanups: Array<() => Promise<void>> = [];
  try {
    if (snapshot.source.volumeMode === "Block") {
      await restoreBlock(repo, snapshot, options, stats, meter, signal);
    } else {
      if (snapshot.root === undefined) throw new Error(`snapshot ${snapshot.id} has no root tree`);
      const target = resolve(options.target);
      await prepareTargetDirectory(target, options.overwrite ?? false);
      meter.setTotal(snapshot.stats.bytes);
      if (!asRoot)
        notice("not running as root: restored files are owned by the current user, not their original owners");
      const records = repo.sealedRecords?.();
      const smallFiles = new SmallFileWriterPool(Math.min(2, Math.max(1, options.parallelFiles ?? 4)), {
        master: records?.opening.master,
        chown: asRoot,
        sparse: options.writeSparseFiles ?? false,
        overwrite: options.overwrite ?? false,
      });
      cleanups.push(() => smallFiles.close());
      const restorer = new TreeRestorer({
        repo,
        meter,
        stats,
        parallelFiles: options.parallelFiles ?? 4,
        writeSparseFiles: options.writeSparseFiles ?? false,
        directWrites: options.directWrites ?? true,
        overwrite: options.overwrite ?? false,
        attributes: { chown: asRoot },
        isRoot: asRoot,
        signal,
        onNotice: notice,
        smallFiles,
        records,
      });
      const rootEntry = rootEntryOf(snapshot);
      const walked = await restorer.restoreInto(target, snapshot.root);
      await walked.done;
      // Last, so writing the entries inside cannot change the root's mtime afterwards.
      if (rootEntry !== undefined) await applyToPath(target, rootEntry, { chown: asRoot });
    }
  } finally {
    meter.stop();
    for (const cleanup of cleanups) await cleanup();
  }
  meter.finish();
  return { snapshot, stats };
}

/** The target must be missing (it is created) or an empty directory, unless overwriting. */
async function prepareTargetDirectory(target: string, overwrite: boolean): Promise<void> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await mkdir(target, { recursive: true });
    return;
  }
  if (!info.isDirectory()) throw new RestoreTargetError(`target '${target}' exists and is not a directory`);
  if (overwrite) return;
  const names = await readdir(target);
  // A fresh volume's file system often holds only lost+found: that still counts as empty.
  const content = names.filter((n) => n !== "lost+found");
  if (content.length > 0) {
    throw new RestoreTargetError(
      `target '${target}' is not empty (${content.length} entries, e.g. '${content[0]}'); use --overwrite to restore into it`,
    );
  }
}

async function restoreBlock(
  repo: Repository,
  snapshot: SnapshotManifest,
  options: RestoreOptions,
  stats: RestoreStats,
  meter: ProgressMeter,
  signal: AbortSignal,
): Promise<void> {
  const block = snapshot.block;
  if (block === undefined) throw new Error(`snapshot ${snapshot.id} is a Block snapshot without a stream`);
  const target = resolve(options.target);
  const existing = await stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  const onBytes = (n: number) => meter.add(n);
  if (!existing?.isBlockDevice()) await checkBlockTargetFile(target, existing, options.overwrite ?? false);
  meter.setTotal(block.size);
  if (existing?.isBlockDevice()) {
    // A device is written in place; zero runs are written too, since the device may hold old data.
    const handle = await open(target, "r+");
    try {
      const result = await writeObject(repo, block, fileTarget(handle), { sparse: false, signal, onBytes });
      await handle.sync();
      stats.bytesWritten = result.bytesWritten;
    } finally {
      await handle.close();
    }
  } else {
    await mkdir(dirname(target), { recursive: true });
    const temporary = join(dirname(target), `.skiff-restore-${process.pid}-block.tmp`);
    const handle = await open(temporary, "w", 0o600);
    let renamed = false;
    try {
      const result = await writeObject(repo, block, fileTarget(handle), {
        sparse: options.writeSparseFiles ?? false,
        signal,
        onBytes,
      });
      stats.bytesWritten = result.bytesWritten;
      await handle.chmod(block.mode);
      await handle.close();
      await rename(temporary, target);
      renamed = true;
    } finally {
      if (!renamed) {
        await handle.close().catch(() => {});
        await unlink(temporary).catch(() => {});
      }
    }
  }
  stats.files = 1;
  stats.bytes = block.size;
}

async function checkBlockTargetFile(target: string, existing: Stats | undefined, overwrite: boolean): Promise<void> {
  if (existing !== undefined && !existing.isFile()) {
    throw new RestoreTargetError(`target '${target}' is neither a block device nor a regular file`);
  }
  if (existing !== undefined && existing.size > 0 && !overwrite) {
    throw new RestoreTargetError(`target '${target}' is not empty; use --overwrite to replace it`);
  }
}

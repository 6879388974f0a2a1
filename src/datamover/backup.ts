/**
 * Backing up a mounted volume into the repository: a directory tree (Filesystem mode) or a whole device or file
 * as one stream (Block mode). Returns the saved snapshot; nothing is saved when the run fails or is aborted.
 */
import { lstat, open, stat, statfs } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { dirname, resolve } from "node:path";
import type { Repository, SnapshotManifest, SnapshotStats } from "../repository/types.ts";
import { type SourceIssue, TreeWalker } from "./backup-walk.ts";
import { deviceSize } from "./block-device.ts";
import { sumFileSizes } from "./estimate.ts";
import { selectParentSnapshot } from "./parent.ts";
import { type ProgressListener, ProgressMeter } from "./progress.ts";
import { type ManifestWithRoot, rootAttributesFrom } from "./root-directory.ts";
import { SmallFileReader } from "./small-file-reader.ts";
import { readChunks, readPipe } from "./source-reader.ts";

export interface BackupOptions {
  /** The directory (Filesystem) or the device or file (Block) to back up. */
  source: string;
  volumeMode?: "Filesystem" | "Block";
  /** A snapshot id (or unique prefix), "auto" for the latest snapshot of the same source and tags, or none. */
  parent?: string | undefined;
  /** With parent "auto": the tag keys that must match (default all of `tags`). */
  parentMatchTags?: readonly string[] | undefined;
  tags?: Record<string, string>;
  /** Files read and uploaded at once (default 4). */
  parallelFiles?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  progressIntervalMs?: number;
  /** Each file or directory left out of the backup, as it happens. */
  onIssue?: (issue: SourceIssue) => void;
  /** Something the backup worked around, e.g. a damaged snapshot manifest not considered as a parent. */
  onWarning?: (message: string) => void;
  /** Stop at the first unreadable file instead of counting it in stats.errors. */
  failOnError?: boolean;
  /** Recorded in the manifest; defaults to this machine's host name. */
  hostname?: string;
  /** Recorded as the source path; defaults to the resolved `source`. */
  sourcePath?: string;
  now?: () => Date;
}

export class BackupSourceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackupSourceError";
  }
}

function emptyStats(): SnapshotStats {
  return { files: 0, dirs: 0, bytes: 0, bytesRead: 0, bytesStored: 0, errors: 0 };
}

export async function backupDirectory(repo: Repository, options: BackupOptions): Promise<SnapshotManifest> {
  if ((options.volumeMode ?? "Filesystem") === "Block") return backupBlock(repo, options);
  const now = options.now ?? (() => new Date());
  const startTime = now().toISOString();
  const source = resolve(options.source);
  const rootStats = await lstatSource(source);
  if (!rootStats.isDirectory()) {
    throw new BackupSourceError(
      `source '${options.source}' is not a directory (use volume mode Block for a device or file)`,
    );
  }
  const { sourcePath, tags, parent } = await recordedSource(repo, options, source, "Filesystem");

  // One controller for the run: the caller's signal, or the first fatal error, stops every task.
  const run = new AbortController();
  const forwardAbort = () => run.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", forwardAbort, { once: true });
  if (options.signal?.aborted) forwardAbort();
  const stats = emptyStats();
  const meter = new ProgressMeter({ onProgress: options.onProgress, intervalMs: options.progressIntervalMs });
  let smallFiles: SmallFileReader | undefined;
  try {
    smallFiles = new SmallFileReader(repo, { parallelFiles: options.parallelFiles ?? 4 });
    if (parent !== undefined) meter.setTotal(parent.stats.bytes);
    else {
      void estimateTotal(source, run.signal).then((total) => {
        // A late estimate must not report after the run ended.
        if (total !== undefined && !run.signal.aborted) meter.setTotal(total);
      });
    }
    const walker = new TreeWalker({
      smallFiles,
      repo,
      meter,
      stats,
      parallelFiles: options.parallelFiles ?? 4,
      failOnError: options.failOnError ?? false,
      signal: run.signal,
      onIssue: options.onIssue ?? (() => {}),
    });
    let root: string | undefined;
    try {
      const listed = await walker.walkDirectory(source, ".", parent?.root);
      root = await listed.tree;
    } catch (err) {
      run.abort(err);
      throw err;
    }
    // The reader thread's memory goes back before the repository writes its index (the run's last peak).
    await smallFiles.close();
    if (root === undefined) throw new BackupSourceError(`source '${options.source}' cannot be listed`);
    run.signal.throwIfAborted();
    meter.finish();
    const manifest: Omit<ManifestWithRoot, "id"> = {
      startTime,
      endTime: now().toISOString(),
      hostname: options.hostname ?? osHostname(),
      source: { path: sourcePath, volumeMode: "Filesystem" },
      root,
      rootDirectory: rootAttributesFrom(rootStats),
      ...(parent !== undefined ? { parent: parent.id } : {}),
      tags,
      stats,
    };
    return await repo.saveSnapshot(manifest);
  } finally {
    meter.stop();
    await smallFiles?.close();
    options.signal?.removeEventListener("abort", forwardAbort);
    // Marks the run as over: a size estimate still walking stops, and a late one is ignored.
    if (!run.signal.aborted) run.abort(new Error("backup finished"));
  }
}

/**
 * Block mode: the whole device or file is one object. A pipe or character device is taken as a stream of
 * unknown length (read until it ends).
 */
export async function backupBlock(repo: Repository, options: BackupOptions): Promise<SnapshotManifest> {
  const now = options.now ?? (() => new Date());
  const startTime = now().toISOString();
  const source = resolve(options.source);
  // Follow a symlink such as /dev/disk/by-id/...: the stream is the device behind it.
  const info = await stat(source, { bigint: true }).catch((err: unknown) => {
    throw new BackupSourceError(`source '${options.source}' cannot be read: ${(err as Error).message}`, { cause: err });
  });
  const isStream = info.isFIFO() || info.isCharacterDevice();
  if (!info.isBlockDevice() && !info.isFile() && !isStream) {
    throw new BackupSourceError(`source '${options.source}' is not a block device, a regular file or a pipe`);
  }
  const { sourcePath, tags, parent } = await recordedSource(repo, options, source, "Block");
  const size = info.isFile() ? Number(info.size) : isStream ? 0 : await deviceSize(source, info);
  const stats = emptyStats();
  const meter = new ProgressMeter({ onProgress: options.onProgress, intervalMs: options.progressIntervalMs });
  meter.setTotal(size);
  const counter = {
    onBytes(bytes: number) {
      stats.bytesRead += bytes;
      meter.add(bytes);
    },
  };
  let block: { id: string; size: number };
  if (info.isFIFO()) {
    try {
      block = await repo.writeObject(readPipe(source, counter, options.signal), {
        parent: parent?.block,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      meter.stop();
    }
  } else {
    const handle = await open(source, "r").catch((err: unknown) => {
      throw new BackupSourceError(`source '${options.source}' cannot be opened: ${(err as Error).message}`, {
        cause: err,
      });
    });
    try {
      // Chunks that match the parent's in place and fingerprint are not hashed again (see WriteOptions.parent).
      block = await repo.writeObject(readChunks(handle, sourcePath, size, counter, options.signal, isStream), {
        parent: parent?.block,
        ...(isStream ? {} : { sizeHint: size }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      meter.stop();
      // After a cancel a read may still be pending on the handle, and closing waits for it: do not wait then.
      const closing = handle.close().catch(() => {});
      if (!options.signal?.aborted) await closing;
    }
  }
  options.signal?.throwIfAborted();
  stats.files = 1;
  stats.bytes = block.size;
  meter.finish();
  return repo.saveSnapshot({
    startTime,
    endTime: now().toISOString(),
    hostname: options.hostname ?? osHostname(),
    source: { path: sourcePath, volumeMode: "Block" },
    block: { ...block, mode: Number(info.mode & 0o7777n) },
    ...(parent !== undefined ? { parent: parent.id } : {}),
    tags,
    stats,
  });
}

async function lstatSource(source: string) {
  try {
    return await lstat(source, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not accessible" : (err as Error).message;
    throw new BackupSourceError(`source '${source}' ${why}`);
  }
}

/** The source path and tags the snapshot records, and the parent snapshot (if any) chosen for it. */
async function recordedSource(
  repo: Repository,
  options: BackupOptions,
  source: string,
  volumeMode: "Filesystem" | "Block",
): Promise<{ sourcePath: string; tags: Record<string, string>; parent: SnapshotManifest | undefined }> {
  const sourcePath = options.sourcePath ?? source;
  const tags = options.tags ?? {};
  const parent = await resolveParent(
    repo,
    options.parent,
    { path: sourcePath, volumeMode, tags, matchTags: options.parentMatchTags },
    options.onWarning ?? (() => {}),
  );
  return { sourcePath, tags, parent };
}

async function resolveParent(
  repo: Repository,
  parent: string | undefined,
  criteria: Parameters<typeof selectParentSnapshot>[1],
  warn: (message: string) => void,
): Promise<SnapshotManifest | undefined> {
  if (parent === undefined || parent === "") return undefined;
  if (parent === "auto") {
    // A damaged manifest must not stop every later backup: at worst the parent is older and more is read.
    const snapshots = await repo.listSnapshots((damage) =>
      warn(`${damage.key} cannot be read (${damage.reason}); it is not considered as a parent`),
    );
    return selectParentSnapshot(snapshots, criteria);
  }
  const manifest = await repo.loadSnapshot(parent);
  if (manifest.source.volumeMode !== criteria.volumeMode) {
    throw new BackupSourceError(
      `parent snapshot ${manifest.id} is a ${manifest.source.volumeMode} snapshot, this backup is ${criteria.volumeMode}`,
    );
  }
  return manifest;
}

/**
 * The total for progress reports. A mount point's used bytes (statfs) is instant and close for a volume; a plain
 * directory is measured by a metadata-only walk in slices on this thread, beside the backup (sumFileSizes).
 */
async function estimateTotal(source: string, signal: AbortSignal): Promise<number | undefined> {
  try {
    const [self, above] = await Promise.all([stat(source), stat(dirname(source))]);
    if (self.dev !== above.dev) {
      const fs = await statfs(source);
      return (fs.blocks - fs.bfree) * fs.bsize;
    }
    return await sumFileSizes(source, { signal });
  } catch {
    return undefined;
  }
}

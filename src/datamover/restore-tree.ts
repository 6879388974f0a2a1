/**
 * Recreates a snapshot's directory tree under a target. Like the backup walker: one sequential walker reads trees
 * depth first and creates directories, files are downloaded by up to `parallelFiles` tasks, and each directory's
 * own mode, owner and times are set after everything inside it is done (so writing into it cannot disturb them).
 * Every file is written under a temporary name and renamed into place complete.
 */
import { link, lstat, mkdir, open, rename, rm, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DIRECT_BLOCK_BYTES, DirectFileWriter, openDirect } from "../objectstore/direct-writer.ts";
import type { ObjectRef, Repository, SealedObjectSource, TreeEntry } from "../repository/types.ts";
import type { SmallFileWriterPool } from "./file-writer-pool.ts";
import { Limiter } from "./limiter.ts";
import type { ProgressMeter } from "./progress.ts";
import {
  type AttributePolicy,
  applyToHandle,
  applyToPath,
  makeDevice,
  makeFifo,
  secondsFromNs,
} from "./restore-attributes.ts";
import { fileTarget, writeObject } from "./sparse-writer.ts";

export interface RestoreStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardLinks: number;
  specialFiles: number;
  /** Logical bytes of the restored files. */
  bytes: number;
  /** Bytes written to disk (less than `bytes` when zero runs became holes). */
  bytesWritten: number;
  /** Entries that cannot be recreated here (sockets; devices when not root). */
  skipped: number;
}

export interface RestoreContext {
  repo: Repository;
  meter: ProgressMeter;
  stats: RestoreStats;
  parallelFiles: number;
  writeSparseFiles: boolean;
  /** Large files bypass the page cache where the filesystem allows it (not with writeSparseFiles). */
  directWrites: boolean;
  overwrite: boolean;
  attributes: AttributePolicy;
  isRoot: boolean;
  signal: AbortSignal;
  onNotice: (message: string) => void;
  /** Creates the small files off the main thread. */
  smallFiles: SmallFileWriterPool;
  /** Sealed records of small files, opened by the writer threads (when the repository offers them). */
  records: SealedObjectSource | undefined;
}

let temporaryCounter = 0;

/** Files up to this size are downloaded whole and created by a writer thread. */
const smallFileBytes = 256 << 10;

export class TreeRestorer {
  readonly #ctx: RestoreContext;
  readonly #downloads: Limiter;
  #queued = 0;
  readonly #maxQueued: number;
  #queueWaiter: (() => void) | undefined;
  /** First restored path of each hard link group, once it is in place. */
  readonly #linkGroups = new Map<string, Promise<string>>();

  constructor(ctx: RestoreContext) {
    this.#ctx = ctx;
    this.#downloads = new Limiter(ctx.parallelFiles);
    this.#maxQueued = Math.max(64, ctx.parallelFiles * 32);
  }

  /**
   * Fills the existing directory `dirPath` with tree `treeId`. Resolves when the walk below it is done; `done`
   * resolves when every file below is in place.
   */
  async restoreInto(dirPath: string, treeId: string): Promise<{ done: Promise<void> }> {
    const { repo, signal } = this.#ctx;
    signal.throwIfAborted();
    const entries = await repo.readTree(treeId);
    const pending: Array<Promise<void>> = [];
    for (const entry of entries) {
      signal.throwIfAborted();
      assertSafeName(entry.name, treeId);
      const path = join(dirPath, entry.name);
      switch (entry.type) {
        case "dir":
          pending.push((await this.#restoreDirectory(path, entry)).done);
          break;
        case "file":
          pending.push((await this.#scheduleFile(path, entry)).done);
          break;
        case "symlink":
          await this.#replaceable(path, () => symlink(entry.linkTarget ?? "", path));
          await applyToPath(path, entry, this.#ctx.attributes);
          this.#ctx.stats.symlinks++;
          break;
        case "fifo":
          await this.#replaceable(path, () => makeFifo(path));
          await applyToPath(path, entry, this.#ctx.attributes);
          this.#ctx.stats.specialFiles++;
          break;
        case "block-device":
        case "char-device":
          if (!this.#ctx.isRoot) {
            this.#skip(`${path}: device files can only be created by root`);
            break;
          }
          await this.#replaceable(path, () => makeDevice(path, entry));
          await applyToPath(path, entry, this.#ctx.attributes);
          this.#ctx.stats.specialFiles++;
          break;
        default:
          this.#skip(`${path}: ${entry.type} entries are not restored (a socket belongs to a running process)`);
      }
    }
    const done = Promise.all(pending).then(() => {});
    done.catch(() => {});
    return { done };
  }

  /** Resolves once the directory is walked; `done` once everything in it is in place (wrapped: see scheduleFile). */
  async #restoreDirectory(path: string, entry: TreeEntry): Promise<{ done: Promise<void> }> {
    try {
      await mkdir(path, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !this.#ctx.overwrite) throw err;
      // Overwriting: keep an existing directory, replace anything else with one.
      if (!(await lstat(path)).isDirectory()) {
        await rm(path, { force: true });
        await mkdir(path, { mode: 0o700 });
      }
    }
    this.#ctx.stats.dirs++;
    const inner =
      entry.subtree === undefined ? { done: Promise.resolve() } : await this.restoreInto(path, entry.subtree);
    const finished = inner.done.then(() => applyToPath(path, entry, this.#ctx.attributes));
    finished.catch(() => {});
    return { done: finished };
  }

  /** Awaiting a promise of a promise waits for both, so the completion is wrapped to keep the walk going. */
  async #scheduleFile(path: string, entry: TreeEntry): Promise<{ done: Promise<void> }> {
    const group = entry.hardLinkGroup;
    const first = group === undefined ? undefined : this.#linkGroups.get(group);
    if (first !== undefined) {
      // Another name of a file already being restored: link to it once it is in place.
      const linked = first.then(async (firstPath) => {
        await this.#replaceable(path, () => link(firstPath, path));
        this.#ctx.stats.hardLinks++;
        this.#ctx.meter.add(entry.size);
      });
      linked.catch(() => {});
      return { done: linked };
    }
    while (this.#queued >= this.#maxQueued) {
      await new Promise<void>((resolve) => {
        this.#queueWaiter = resolve;
      });
    }
    this.#queued++;
    // Small files skip the download slots (like the backup's): their cost is per file, not per byte, and many in
    // flight keep the repository busy; the queue bound still limits the memory they hold.
    const written = (
      entry.size <= smallFileBytes
        ? this.#writeSmallFile(path, entry)
        : this.#downloads.run(() => this.#writeFile(path, entry))
    ).finally(() => {
      this.#queued--;
      const waiter = this.#queueWaiter;
      this.#queueWaiter = undefined;
      waiter?.();
    });
    written.catch(() => {});
    if (group !== undefined)
      this.#linkGroups.set(
        group,
        written.then(() => path),
      );
    return { done: written };
  }

  /** Fetches a small file whole; a writer thread opens it and creates the file (see file-writer-pool.ts). */
  async #writeSmallFile(path: string, entry: TreeEntry): Promise<void> {
    const { signal, stats, meter, smallFiles, records } = this.#ctx;
    signal.throwIfAborted();
    const ref = entry.content;
    const size = ref?.size ?? 0;
    const file = {
      temporary: this.#temporaryName(path),
      path,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtime: secondsFromNs(entry.mtimeNs),
      size,
    };
    let writing: Promise<number> | undefined;
    if (ref === undefined || size === 0) writing = smallFiles.write(file, { data: new Uint8Array(0) });
    else if (records !== undefined) {
      // The sealed record goes to the writer thread, which opens it (the pool copies it before the view lapses).
      const sealed = await records.withRecord(ref, (id, record) =>
        signal.aborted ? undefined : smallFiles.write(file, { id, record }),
      );
      signal.throwIfAborted();
      writing = sealed?.value;
    }
    writing ??= this.#readSmall(path, ref!).then((data) => {
      signal.throwIfAborted();
      return smallFiles.write(file, { data });
    });
    // Not `+= await`: that would read the counter before the wait and lose concurrent updates.
    const written = await writing;
    stats.bytesWritten += written;
    meter.add(size);
    stats.files++;
    stats.bytes += entry.size;
  }

  /** A small object's plaintext, for repositories that do not hand out sealed records. */
  async #readSmall(path: string, ref: ObjectRef): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const part of this.#ctx.repo.readObject(ref)) parts.push(part);
    const data = Buffer.concat(parts);
    if (data.length !== ref.size) {
      throw new Error(`object ${ref.id} of '${path}' returned ${data.length} bytes, expected ${ref.size}`);
    }
    return data;
  }

  #temporaryName(path: string): string {
    return join(path, "..", `.skiff-restore-${process.pid}-${++temporaryCounter}.tmp`);
  }

  async #writeFile(path: string, entry: TreeEntry): Promise<void> {
    const { repo, signal, stats, meter } = this.#ctx;
    signal.throwIfAborted();
    const temporary = this.#temporaryName(path);
    // Large files skip the page cache where the filesystem allows it (see direct-writer.ts): the restored bytes
    // are not read back by this process, and cache pages written here count against the pod's memory. Sparse
    // restores keep ordinary writes, which leave holes where the data is zero.
    const directHandle =
      this.#ctx.directWrites && !this.#ctx.writeSparseFiles && (entry.content?.size ?? 0) >= DIRECT_BLOCK_BYTES
        ? await openDirect(temporary, 0o600)
        : undefined;
    const direct = directHandle === undefined ? undefined : new DirectFileWriter(temporary, directHandle);
    const handle = directHandle ?? (await open(temporary, "wx", 0o600));
    let renamed = false;
    try {
      if (entry.content !== undefined && entry.content.size > 0) {
        const result = await writeObject(repo, entry.content, direct ?? fileTarget(handle), {
          sparse: this.#ctx.writeSparseFiles,
          signal,
          onBytes: (n) => meter.add(n),
        });
        await direct?.flush();
        if (result.size !== entry.content.size) {
          throw new Error(
            `object ${entry.content.id} of '${path}' returned ${result.size} bytes, expected ${entry.content.size}`,
          );
        }
        stats.bytesWritten += result.bytesWritten;
      }
      await applyToHandle(handle, entry, this.#ctx.attributes);
      await (direct === undefined ? handle.close() : direct.close(false));
      await this.#replaceable(path, () => rename(temporary, path));
      renamed = true;
      stats.files++;
      stats.bytes += entry.size;
    } finally {
      if (!renamed) {
        await (direct === undefined ? handle.close() : direct.discard()).catch(() => {});
        await unlink(temporary).catch(() => {});
      }
    }
  }

  /**
   * Creates `path` with `create`. With overwrite, an existing entry in the way is removed first (rename replaces
   * files by itself, but not a directory).
   */
  async #replaceable(path: string, create: () => Promise<unknown>): Promise<void> {
    try {
      await create();
    } catch (err) {
      // mkfifo/mknod report a clash only through their exit status, so look for the entry in the way.
      if (
        !this.#ctx.overwrite ||
        !(await lstat(path).then(
          () => true,
          () => false,
        ))
      ) {
        throw err;
      }
      await rm(path, { recursive: true, force: true });
      await create();
    }
  }

  #skip(message: string): void {
    this.#ctx.stats.skipped++;
    this.#ctx.onNotice(message);
  }
}

/** A tree comes from the repository, but a name must never climb out of the target. */
function assertSafeName(name: string, treeId: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new Error(`tree ${treeId} holds an invalid entry name ${JSON.stringify(name)}`);
  }
}

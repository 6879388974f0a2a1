/**
 * The file system walk of a backup. One sequential depth-first walker lists directories and lstats their entries;
 * file contents are uploaded by up to `parallelFiles` tasks at once. The walker never waits for a directory to
 * finish: each directory's tree is written as soon as its own files and subdirectories are done, so memory holds
 * the open path plus the directories that still have uploads in flight, bounded by the upload queue.
 */
import { type BigIntStats, lstatSync, readdirSync, readlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { splitSealed } from "../repository/sealed-objects.ts";
import type { ObjectRef, Repository, SealedObjectSink, SnapshotStats, TreeEntry } from "../repository/types.ts";
import { JobError } from "./batch-worker-pool.ts";
import { entryFromStats, isUnchangedFile, sameEntries, sortEntries } from "./entry-metadata.ts";
import type { SealedFile } from "./file-reader-worker.ts";
import { Limiter } from "./limiter.ts";
import type { ProgressMeter } from "./progress.ts";
import { findSourceReadError, readChunks, sourceOpenFlags } from "./source-reader.ts";

/** A file or directory that could not be backed up; the backup goes on without it unless failOnError. */
export interface SourceIssue {
  /** Path relative to the backup source ("." is the source itself). */
  path: string;
  message: string;
}

export class SourceIssueError extends Error {
  readonly issue: SourceIssue;
  constructor(issue: SourceIssue) {
    super(`${issue.path}: ${issue.message}`);
    this.name = "SourceIssueError";
    this.issue = issue;
  }
}

export interface WalkContext {
  repo: Repository;
  meter: ProgressMeter;
  stats: SnapshotStats;
  parallelFiles: number;
  failOnError: boolean;
  signal: AbortSignal;
  onIssue: (issue: SourceIssue) => void;
  /**
   * Reads small files whole, off the main thread; with a sink, the reader also seals each one that fits
   * `sink.maxObjectBytes` for the sink (a SealedFile), otherwise the bytes come back.
   */
  smallFiles: {
    read(job: { path: string; expectedSize: number }, what: string): Promise<Uint8Array | SealedFile>;
    sink: SealedObjectSink | undefined;
    /** Called once a sealed file's record is stored (or given up), so its buffer can be reused. */
    release(file: SealedFile): void;
  };
}

/**
 * Files up to this size are read in one synchronous call and uploaded without taking a read slot; larger files
 * are streamed by the `parallelFiles` readers.
 */
const smallFileBytes = 256 << 10;

/** Memory the queued files may hold (see #queuedBytes). */
const maxQueuedBytes = 32 << 20;

/**
 * Files queued or uploading at once. Four reader batches of 32 (128 files) rather than two: with two, the reader
 * thread and the main thread each waited for the other about a fifth of the time, whenever one of them was held
 * up (a collection, a pack or tree write, the machine's other load). Measured on 100,000 small files, two cores,
 * alternating runs: medians 3.71 and 3.82 s at 128 against 4.11 and 4.53 s at 64, at 5-10 MB more peak RSS;
 * 256 was slower again.
 */
export function maxQueuedFiles(parallelFiles: number): number {
  return Math.max(128, parallelFiles * 32);
}

export class TreeWalker {
  readonly #ctx: WalkContext;
  readonly #uploads: Limiter;
  /**
   * Files queued or uploading, and the memory they may hold; the walker pauses at either bound (backpressure).
   * Many files in flight keep the reader threads and the repository busy; the byte bound keeps memory small.
   */
  #queued = 0;
  #queuedBytes = 0;
  readonly #maxQueued: number;
  #queueWaiter: (() => void) | undefined;
  /** Content of multiply-linked files by "dev:ino", so every name of one inode is read once. */
  readonly #hardLinks = new Map<string, Promise<ObjectRef | undefined>>();

  constructor(ctx: WalkContext) {
    this.#ctx = ctx;
    this.#uploads = new Limiter(ctx.parallelFiles);
    this.#maxQueued = maxQueuedFiles(ctx.parallelFiles);
  }

  /**
   * Walks one directory. Resolves when the directory is listed (its subdirectories walked too); the returned
   * `tree` promise resolves to its tree id once every upload below it is done, or undefined if it is unreadable.
   */
  async walkDirectory(
    absPath: string,
    relPath: string,
    parentTree: string | undefined,
  ): Promise<{ tree: Promise<string | undefined> }> {
    const { signal, repo } = this.#ctx;
    signal.throwIfAborted();
    let names: string[];
    try {
      names = readdirSync(absPath);
    } catch (err) {
      this.#issue(relPath, `cannot list directory: ${messageOf(err)}`);
      return { tree: Promise.resolve(undefined) };
    }
    const previous = parentTree === undefined ? undefined : await this.#readParentTree(parentTree);
    const entries: TreeEntry[] = [];
    const pending: Array<Promise<void>> = [];
    const dropped = new Set<TreeEntry>();
    for (const name of names) {
      signal.throwIfAborted();
      const childRel = relPath === "." ? name : `${relPath}/${name}`;
      const childAbs = join(absPath, name);
      let info: BigIntStats;
      try {
        info = lstatSync(childAbs, { bigint: true });
      } catch (err) {
        this.#issue(childRel, `cannot stat: ${messageOf(err)}`);
        continue;
      }
      const entry = entryFromStats(name, info);
      entries.push(entry);
      const before = previous?.get(name);
      if (entry.type === "dir") {
        this.#ctx.stats.dirs++;
        const child = await this.walkDirectory(childAbs, childRel, before?.type === "dir" ? before.subtree : undefined);
        pending.push(
          child.tree.then((subtree) => {
            if (subtree === undefined) dropped.add(entry);
            else entry.subtree = subtree;
          }),
        );
      } else if (entry.type === "file") {
        this.#ctx.stats.files++;
        this.#ctx.stats.bytes += entry.size;
        const scheduled = await this.#scheduleFile(childAbs, childRel, entry, before);
        if (scheduled.kept !== true) {
          pending.push(
            scheduled.kept.then((ok) => {
              if (!ok) dropped.add(entry);
            }),
          );
        }
      } else if (entry.type === "symlink") {
        try {
          entry.linkTarget = readlinkSync(childAbs);
        } catch (err) {
          this.#issue(childRel, `cannot read symbolic link: ${messageOf(err)}`);
          dropped.add(entry);
        }
      }
    }
    const tree = Promise.all(pending).then(async () => {
      const kept = sortEntries(dropped.size === 0 ? entries : entries.filter((e) => !dropped.has(e)));
      // An unchanged subtree keeps the parent's id without serialising it again.
      if (parentTree !== undefined && previous !== undefined && sameEntries(kept, [...previous.values()]))
        return parentTree;
      signal.throwIfAborted();
      return repo.writeTree(kept);
    });
    // Failures surface through the parent's Promise.all; this only keeps Node from calling them unhandled meanwhile.
    tree.catch(() => {});
    return { tree };
  }

  async #readParentTree(id: string): Promise<Map<string, TreeEntry> | undefined> {
    try {
      const entries = await this.#ctx.repo.readTree(id);
      return new Map(entries.map((e) => [e.name, e]));
    } catch (err) {
      // A damaged parent only costs re-reading: the files are backed up in full.
      this.#issue(".", `parent tree ${id} is unreadable, reading everything below: ${messageOf(err)}`, false);
      return undefined;
    }
  }

  /**
   * Starts (or reuses) the upload of one file. Resolves once it is queued (wrapped, so awaiting does not wait for
   * the upload) to whether the file made it into the backup: `true` at once when nothing needs uploading,
   * otherwise a promise (false: it was unreadable and has been reported).
   */
  async #scheduleFile(
    absPath: string,
    relPath: string,
    entry: TreeEntry,
    before: TreeEntry | undefined,
  ): Promise<{ kept: Promise<boolean> | true }> {
    if (isUnchangedFile(entry, before)) {
      if (before!.content !== undefined) entry.content = before!.content;
      this.#ctx.meter.add(entry.size);
      return { kept: true };
    }
    if (entry.size === 0) return { kept: true };
    const group = entry.hardLinkGroup;
    const known = group === undefined ? undefined : this.#hardLinks.get(group);
    let content: Promise<ObjectRef | undefined>;
    if (known !== undefined) {
      content = known;
      this.#ctx.meter.add(entry.size);
    } else {
      // A small file is held whole; a large one holds about one read buffer at a time.
      const cost = Math.max(4096, Math.min(entry.size, smallFileBytes));
      await this.#waitForQueueSpace(cost);
      this.#queued++;
      this.#queuedBytes += cost;
      const upload =
        entry.size <= smallFileBytes
          ? this.#uploadSmallFile(absPath, relPath, entry)
          : this.#uploads.run(() =>
              this.#uploadFile(absPath, relPath, entry, before?.type === "file" ? before.content : undefined),
            );
      content = upload.finally(() => {
        this.#queued--;
        this.#queuedBytes -= cost;
        const waiter = this.#queueWaiter;
        this.#queueWaiter = undefined;
        waiter?.();
      });
      if (group !== undefined) this.#hardLinks.set(group, content);
    }
    const done = content.then((ref) => {
      if (ref === undefined) return false;
      entry.content = ref;
      // The file may have changed size while it was read: record what was stored.
      this.#ctx.stats.bytes += ref.size - entry.size;
      entry.size = ref.size;
      return true;
    });
    done.catch(() => {});
    return { kept: done };
  }

  async #waitForQueueSpace(cost: number): Promise<void> {
    while (this.#queued >= this.#maxQueued || (this.#queued > 0 && this.#queuedBytes + cost > maxQueuedBytes)) {
      await new Promise<void>((resolve) => {
        this.#queueWaiter = resolve;
      });
    }
  }

  /**
   * A small file is read whole by a reader thread (synchronous calls there cost microseconds, where each
   * asynchronous call here costs tens), then uploaded while the walk goes on; the queue bound keeps the memory
   * this holds small.
   */
  async #uploadSmallFile(absPath: string, relPath: string, entry: TreeEntry): Promise<ObjectRef | undefined> {
    const { signal, repo, stats, meter, smallFiles } = this.#ctx;
    let data: Uint8Array | SealedFile;
    try {
      data = await smallFiles.read({ path: absPath, expectedSize: entry.size }, relPath);
    } catch (err) {
      if (!(err instanceof JobError)) throw err;
      this.#issue(relPath, `cannot read: ${err.reason}`);
      return undefined;
    }
    signal.throwIfAborted();
    if (!(data instanceof Uint8Array)) {
      stats.bytesRead += data.size;
      meter.add(data.size);
      const { id, record } = splitSealed(data.buffer, data.at, data.length);
      try {
        return await smallFiles.sink!.add(id, record, data.size);
      } finally {
        smallFiles.release(data);
      }
    }
    stats.bytesRead += data.length;
    meter.add(data.length);
    return repo.writeObject(single(data), { sizeHint: data.length, signal });
  }

  /** `parent`: the file's content in the parent snapshot, whose unchanged chunks need not be hashed again. */
  async #uploadFile(
    absPath: string,
    relPath: string,
    entry: TreeEntry,
    parent: ObjectRef | undefined,
  ): Promise<ObjectRef | undefined> {
    const { signal, repo, stats, meter } = this.#ctx;
    signal.throwIfAborted();
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(absPath, sourceOpenFlags);
    } catch (err) {
      this.#issue(relPath, `cannot open: ${messageOf(err)}`);
      return undefined;
    }
    try {
      const counter = {
        onBytes(bytes: number) {
          stats.bytesRead += bytes;
          meter.add(bytes);
        },
      };
      return await repo.writeObject(readChunks(handle, relPath, entry.size, counter, signal), {
        sizeHint: entry.size,
        signal,
        parent,
      });
    } catch (err) {
      const readError = findSourceReadError(err);
      if (readError === undefined) throw err;
      this.#issue(relPath, readError.message);
      return undefined;
    } finally {
      await handle.close().catch(() => {});
    }
  }

  #issue(path: string, message: string, counts = true): void {
    const issue = { path, message };
    if (counts) this.#ctx.stats.errors++;
    this.#ctx.onIssue(issue);
    if (counts && this.#ctx.failOnError) throw new SourceIssueError(issue);
  }
}

async function* single(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

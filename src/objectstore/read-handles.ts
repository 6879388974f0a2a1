/**
 * Open read handles for range reads, kept across calls. A restore of many small files reads one record at a
 * time from the same few packs; opening, stat'ing and closing the pack file for every record cost more than the
 * read. Objects are immutable (never rewritten in place), so a handle and the size seen when it was opened stay
 * valid until the object is deleted, which closes it. At most `max` handles are open (least recently used
 * closed first), and handles unused for `idleMs` are closed, so a store that is dropped leaks nothing.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

export interface OpenedFile {
  handle: FileHandle;
  size: number;
}

/** Opening the file failed; `cause` is the error from open(2) or fstat(2). */
export class OpenFailedError extends Error {
  override readonly cause: NodeJS.ErrnoException;
  constructor(path: string, cause: NodeJS.ErrnoException) {
    super(`cannot open ${path}`);
    this.name = "OpenFailedError";
    this.cause = cause;
  }
}

interface Entry {
  opened: Promise<OpenedFile>;
  users: number;
  /** Out of the table (evicted, idle or deleted): closed once its last user is done. */
  retired: boolean;
  lastUsed: number;
}

export class ReadHandles {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #idleMs: number;
  #sweep: NodeJS.Timeout | undefined;

  constructor(max = 16, idleMs = 2000) {
    this.#max = max;
    this.#idleMs = idleMs;
  }

  /** Runs `use` with an open handle on `path` (opened on first use; open errors are the caller's to map). */
  async with<T>(path: string, use: (file: OpenedFile) => Promise<T>): Promise<T> {
    let entry = this.#entries.get(path);
    if (entry === undefined) {
      entry = { opened: openForReading(path), users: 0, retired: false, lastUsed: Date.now() };
      const created = entry;
      this.#entries.set(path, created);
      created.opened.catch(() => {
        if (this.#entries.get(path) === created) this.#entries.delete(path);
      });
      this.#evictBeyondMax();
    } else {
      // Most recently used last.
      this.#entries.delete(path);
      this.#entries.set(path, entry);
    }
    entry.users++;
    try {
      return await use(await entry.opened);
    } finally {
      entry.users--;
      entry.lastUsed = Date.now();
      if (entry.retired && entry.users === 0) close(entry);
      this.#armSweep();
    }
  }

  /** Closes the handle of a deleted object (after reads in flight finish). */
  forget(path: string): void {
    const entry = this.#entries.get(path);
    if (entry !== undefined) this.#retire(path, entry);
  }

  #retire(path: string, entry: Entry): void {
    this.#entries.delete(path);
    entry.retired = true;
    if (entry.users === 0) close(entry);
  }

  #evictBeyondMax(): void {
    for (const [path, entry] of this.#entries) {
      if (this.#entries.size <= this.#max) return;
      this.#retire(path, entry);
    }
  }

  #armSweep(): void {
    if (this.#sweep !== undefined || this.#entries.size === 0) return;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const cutoff = Date.now() - this.#idleMs;
      for (const [path, entry] of this.#entries) {
        if (entry.users === 0 && entry.lastUsed <= cutoff) this.#retire(path, entry);
      }
      this.#armSweep();
    }, this.#idleMs);
    this.#sweep.unref();
  }
}

async function openForReading(path: string): Promise<OpenedFile> {
  const handle = await open(path, constants.O_RDONLY).catch((err: NodeJS.ErrnoException) => {
    throw new OpenFailedError(path, err);
  });
  try {
    return { handle, size: (await handle.stat()).size };
  } catch (err) {
    await handle.close();
    throw new OpenFailedError(path, err as NodeJS.ErrnoException);
  }
}

function close(entry: Entry): void {
  entry.opened.then((file) => file.handle.close()).catch(() => {});
}

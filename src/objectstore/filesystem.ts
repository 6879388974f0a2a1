/**
 * ObjectStore on a local directory (the embedded default, also used for NFS-mounted repositories).
 * Keys map to relative paths. Writes go to a temporary file in the same directory, are fsynced and renamed,
 * so a reader sees the old object, nothing, or the new one; the directory is fsynced so the rename survives
 * a power loss. Concurrent puts into one directory share directory fsyncs (one sync covers every rename done
 * before it started), so uploading several packs at once costs one file fsync per pack and about one
 * directory fsync per batch rather than per pack.
 */
import { randomBytes } from "node:crypto";
import { constants, type Dirent } from "node:fs";
import { link, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DirectFileWriter, openDirect, writeFully } from "./direct-writer.ts";
import { type OpenedFile, OpenFailedError, ReadHandles } from "./read-handles.ts";
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore, type ObjectWriter } from "./types.ts";

const TEMP_PREFIX = ".tmp-";

/** The repository directory does not exist (and was not to be created). */
export class LocationNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocationNotFoundError";
  }
}

export interface FilesystemStoreOptions {
  /** Create the directory when it does not exist (repository init); otherwise a missing directory is an error. */
  create?: boolean;
  /**
   * Whether objects written piece by piece (openWriter: data packs) bypass the page cache (O_DIRECT) where the
   * filesystem allows it; see direct-writer.ts. Default true.
   */
  directWrites?: boolean;
}

export async function openFilesystemStore(
  directory: string,
  options: FilesystemStoreOptions = {},
): Promise<FilesystemStore> {
  const root = resolve(directory);
  if (options.create) await mkdir(root, { recursive: true });
  const info = await stat(root).catch(() => undefined);
  if (info === undefined) throw new LocationNotFoundError(`repository directory ${root} does not exist`);
  if (!info.isDirectory()) throw new Error(`repository location ${root} is not a directory`);
  return new FilesystemStore(root, options.directWrites ?? true);
}

interface DirectorySync {
  /** The sync running now; it covers only renames done before it started. */
  running: Promise<void> | undefined;
  /** The sync queued behind it, shared by every rename done while `running` runs. */
  next: Promise<void> | undefined;
}

export class FilesystemStore implements ObjectStore {
  readonly describe: string;
  readonly root: string;
  private readonly dirSyncs = new Map<string, DirectorySync>();
  private readonly readHandles = new ReadHandles();
  private readonly directWrites: boolean;

  constructor(root: string, directWrites = true) {
    this.root = root;
    this.describe = pathToFileURL(root).href;
    this.directWrites = directWrites;
  }

  private pathOf(key: string): string {
    if (key === "" || key.startsWith("/") || key.split("/").some((p) => p === "" || p === "." || p === "..")) {
      throw new Error(`invalid object key '${key}' for ${this.describe}`);
    }
    if (key.split("/").some((p) => p.startsWith(TEMP_PREFIX))) {
      throw new Error(`object key '${key}' uses the reserved prefix '${TEMP_PREFIX}'`);
    }
    return join(this.root, key);
  }

  /** A new temporary file's name next to `path` (its directory made if missing). */
  private async tempNameFor(path: string): Promise<{ dir: string; temp: string }> {
    const dir = join(path, "..");
    await mkdir(dir, { recursive: true });
    return { dir, temp: join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`) };
  }

  /** Creates a new temporary file next to `path` (its directory made if missing). */
  private async openTemp(path: string) {
    const { dir, temp } = await this.tempNameFor(path);
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    return { dir, temp, handle };
  }

  /** Writes body to a synced temporary file next to the target and returns its path. */
  private async writeTemp(path: string, body: Uint8Array): Promise<string> {
    const { temp, handle } = await this.openTemp(path);
    try {
      await writeFully(handle, body, 0);
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw new Error(`cannot write ${temp}`, { cause: err });
    }
    await handle.close();
    return temp;
  }

  private async syncDirNow(dir: string): Promise<void> {
    const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
    if (handle === undefined) return;
    await handle.sync().catch(() => {});
    await handle.close();
  }

  /**
   * Makes renames already done in `dir` durable. A sync that started before this call may miss them, so a
   * caller joins the sync queued after the running one (or starts one); all callers arriving meanwhile share it.
   */
  private syncDir(dir: string): Promise<void> {
    let state = this.dirSyncs.get(dir);
    if (state === undefined) {
      state = { running: undefined, next: undefined };
      this.dirSyncs.set(dir, state);
    }
    const s = state;
    const startRun = (): Promise<void> => {
      const run = this.syncDirNow(dir).finally(() => {
        s.running = undefined;
        if (s.next === undefined) this.dirSyncs.delete(dir);
      });
      s.running = run;
      return run;
    };
    if (s.running === undefined) return startRun();
    s.next ??= s.running.then(() => {
      s.next = undefined;
      return startRun();
    });
    return s.next;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    const temp = await this.writeTemp(path, body);
    try {
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw new Error(`cannot rename ${temp} to ${path}`, { cause: err });
    }
    await this.syncDir(join(path, ".."));
  }

  /**
   * A temporary file next to the target, written in place, synced and renamed on commit (see put). Written with
   * O_DIRECT where the filesystem allows it (see direct-writer.ts), unless the store was opened without.
   */
  async openWriter(key: string): Promise<ObjectWriter> {
    const path = this.pathOf(key);
    if (this.directWrites) {
      const { dir, temp } = await this.tempNameFor(path);
      const handle = await openDirect(temp, 0o600);
      if (handle !== undefined) {
        const file = new DirectFileWriter(temp, handle);
        return this.tempFileWriter(path, dir, temp, {
          copies: true,
          writeAt: (data, offset) => file.writeAt(data, offset),
          finish: async () => {
            await file.flush();
            await file.close(true);
          },
          discard: () => file.discard(),
        });
      }
    }
    const { dir, temp, handle } = await this.openTemp(path);
    return this.tempFileWriter(path, dir, temp, {
      copies: false,
      writeAt: (data, offset) => writeFully(handle, data, offset),
      finish: async () => {
        await handle.sync();
        await handle.close();
      },
      discard: () => handle.close(),
    });
  }

  /** The ObjectWriter over a temporary file: `finish` makes its bytes durable and closes it; then the rename. */
  private tempFileWriter(
    path: string,
    dir: string,
    temp: string,
    file: {
      copies: boolean;
      writeAt(data: Uint8Array, offset: number): Promise<void>;
      finish(): Promise<void>;
      discard(): Promise<void>;
    },
  ): ObjectWriter {
    let done = false;
    const ended = () => new Error(`the writer of ${path} is already committed or aborted`);
    return {
      ...(file.copies ? { copies: true } : {}),
      writeAt: async (data, offset) => {
        if (done) throw ended();
        await file.writeAt(data, offset);
      },
      commit: async () => {
        if (done) throw ended();
        done = true;
        try {
          await file.finish();
          await rename(temp, path);
        } catch (err) {
          await file.discard().catch(() => {});
          await unlink(temp).catch(() => {});
          throw new Error(`cannot store ${path}`, { cause: err });
        }
        await this.syncDir(dir);
      },
      abort: async () => {
        if (done) return;
        done = true;
        await file.discard().catch(() => {});
        await unlink(temp).catch(() => {});
      },
    };
  }

  async removeAbandonedWrites(olderThanMs: number): Promise<{ files: number; bytes: number }> {
    const removed = { files: 0, bytes: 0 };
    const visit = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await visit(path);
        else if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) {
          const info = await stat(path).catch(() => undefined);
          if (info === undefined || info.mtimeMs >= olderThanMs) continue;
          await unlink(path).catch(() => {});
          removed.files++;
          removed.bytes += info.size;
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const path = this.pathOf(key);
    const temp = await this.writeTemp(path, body);
    try {
      await link(temp, path);
      await this.syncDir(join(path, ".."));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw new Error(`cannot create ${path}`, { cause: err });
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  private notFound(key: string, path: string, err: NodeJS.ErrnoException): never {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") throw new ObjectNotFoundError(this.describe, key);
    throw new Error(`cannot open ${path}`, { cause: err });
  }

  /** Runs `use` with a kept open handle on the object (range reads of packs; see read-handles.ts). */
  private withHandle<T>(key: string, use: (path: string, file: OpenedFile) => Promise<T>): Promise<T> {
    const path = this.pathOf(key);
    return this.readHandles
      .with(path, (file) => use(path, file))
      .catch((err: unknown) => {
        if (err instanceof OpenFailedError) this.notFound(key, path, err.cause);
        throw err;
      });
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Uint8Array> {
    // Range reads (records from packs) reuse open handles; whole objects are read once and closed.
    if (range !== undefined) return this.withHandle(key, (path, file) => readRange(path, file, range));
    const path = this.pathOf(key);
    const handle = await open(path, constants.O_RDONLY).catch((err: NodeJS.ErrnoException) =>
      this.notFound(key, path, err),
    );
    try {
      return await readRange(path, { handle, size: (await handle.stat()).size }, range);
    } finally {
      await handle.close();
    }
  }

  async readInto(key: string, offset: number, target: Uint8Array): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`invalid offset ${offset} for ${key}`);
    return this.withHandle(key, async (_path, file) => {
      let done = 0;
      while (done < target.length && offset + done < file.size) {
        const { bytesRead } = await file.handle.read(target, done, target.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    });
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const info = await stat(this.pathOf(key)).catch(() => undefined);
    if (info === undefined || !info.isFile()) return undefined;
    return { key, size: info.size, modified: info.mtimeMs };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the directory the prefix names, then filter by the rest of it.
    const cut = prefix.lastIndexOf("/");
    const dirKey = cut < 0 ? "" : prefix.slice(0, cut);
    const namePrefix = prefix.slice(cut + 1);
    if (dirKey !== "") this.pathOf(dirKey);
    yield* this.walk(dirKey, namePrefix);
  }

  private async *walk(dirKey: string, namePrefix: string): AsyncIterable<ObjectInfo> {
    const dir = dirKey === "" ? this.root : join(this.root, dirKey);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw new Error(`cannot list ${dir}`, { cause: err });
    }
    // Key order is byte order of the full key; a directory "a" sorts as "a/".
    const named = entries
      .filter((e) => e.name.startsWith(namePrefix) && !e.name.startsWith(TEMP_PREFIX))
      .map((e) => ({ entry: e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { entry } of named) {
      const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.walk(key, "");
      } else if (entry.isFile()) {
        const info = await stat(join(dir, entry.name)).catch(() => undefined);
        if (info !== undefined) yield { key, size: info.size, modified: info.mtimeMs };
      }
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    this.readHandles.forget(path);
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw new Error(`cannot delete ${path}`, { cause: err });
    });
  }
}

async function readRange(
  path: string,
  file: OpenedFile,
  range: { offset: number; length: number } | undefined,
): Promise<Buffer> {
  const offset = range?.offset ?? 0;
  const length = range === undefined ? file.size : range.length;
  if (offset < 0 || length < 0 || offset + length > file.size) {
    throw new Error(`range ${offset}+${length} is outside ${path} (${file.size} bytes)`);
  }
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.handle.read(buffer, done, length - done, offset + done);
    if (bytesRead === 0) throw new Error(`${path} ended early at ${offset + done} bytes`);
    done += bytesRead;
  }
  return buffer;
}

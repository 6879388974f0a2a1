/**
 * The Repository implementation: objects (written by object-writer.ts, read chunk by chunk here), trees and
 * snapshot manifests over the blob store, and the shared write lock every writer holds.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../log.ts";
import { ObjectNotFoundError, type ObjectStore } from "../objectstore/types.ts";
import type { BlobStore } from "./blob-store.ts";
import type { BufferPool } from "./buffer-pool.ts";
import type { BoundedCache } from "./cache.ts";
import { compressesData, type RepositoryConfig } from "./config.ts";
import { DamagedObjectError, openFile, type RepositoryKeys, sealFile } from "./crypto.ts";
import { type LockSettings, RepositoryLock } from "./locks.ts";
import { ChunkReader } from "./object-reader.ts";
import { ObjectWriter } from "./object-writer.ts";
import type { RepositoryOptions } from "./open.ts";
import type { SealPool } from "./seal-pool.ts";
import {
  type ChunkRef,
  decodeChunkList,
  decodeTree,
  encodeTree,
  formatObjectId,
  parseObjectId,
  parseTreeId,
} from "./tree-codec.ts";
import type {
  DamagedSnapshot,
  ObjectRef,
  Repository,
  SealedObjectSink,
  SealedObjectSource,
  SnapshotManifest,
  TreeEntry,
  WriteOptions,
} from "./types.ts";

export const SNAPSHOT_PREFIX = "snapshots/";
/** How many chunk reads run at once in readObject. */
const READ_AHEAD = 4;

export interface RepositoryParts {
  store: ObjectStore;
  config: RepositoryConfig;
  keys: RepositoryKeys;
  gear: Int32Array;
  blobs: BlobStore;
  pool: SealPool;
  cache: BoundedCache | undefined;
  lockSettings: LockSettings;
  inflightBytes: number;
  /** Large chunk buffers, shared by all writes of this repository. */
  chunkBuffers: BufferPool;
  /** How many large chunks may be on their way to the packs at once. */
  chunksInFlight: number;
  options: RepositoryOptions;
  logger: Logger | undefined;
  onClose: () => Promise<void>;
}

export class MissingBlobError extends Error {
  constructor(what: string, store: string) {
    super(`${what} is not in the index of ${store} (lost, or removed by maintenance)`);
    this.name = "MissingBlobError";
  }
}

/** A snapshot manifest that exists but cannot be decoded (altered or truncated). */
export class DamagedSnapshotError extends DamagedObjectError implements DamagedSnapshot {
  readonly id: string;
  constructor(id: string, key: string, cause: unknown) {
    super(key, cause);
    this.name = "DamagedSnapshotError";
    this.id = id;
  }
}

export class SkiffRepository implements Repository {
  readonly parts: RepositoryParts;
  private readonly writer: ObjectWriter;
  private lock: Promise<RepositoryLock> | undefined;
  /** Restores' chunk reads, made on first use (it holds a few large buffers). */
  private reader: ChunkReader | undefined;
  private closed = false;
  /** blobs.addedBytes when the previous snapshot was saved. */
  private addedBeforeSnapshot = 0;

  constructor(parts: RepositoryParts) {
    this.parts = parts;
    this.writer = new ObjectWriter(parts, {
      storeMetadata: (data) => this.storeMetadata(data),
      chunksOf: (ref) => this.chunksOf(ref),
    });
  }

  get store(): ObjectStore {
    return this.parts.store;
  }
  get blobs(): BlobStore {
    return this.parts.blobs;
  }

  /** Writers hold a shared lock from their first write until close, so full maintenance never deletes under them. */
  private async writeLock(): Promise<RepositoryLock> {
    if (this.closed) throw new Error("the repository is closed");
    // The index was loaded before the lock was held: maintenance may have removed packs since. Refresh it.
    this.lock ??= RepositoryLock.acquire(this.store, "shared", "backup", this.parts.lockSettings).then(async (lock) => {
      try {
        await this.blobs.refresh();
      } catch (err) {
        await lock.release();
        throw err;
      }
      return lock;
    });
    try {
      return await this.lock;
    } catch (err) {
      this.lock = undefined;
      throw err;
    }
  }

  async writeObject(source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<ObjectRef> {
    await this.writeLock();
    return this.writer.write(source, options);
  }

  /** Stores a metadata blob (tree or chunk list) in a metadata pack. */
  private async storeMetadata(data: Uint8Array): Promise<Buffer> {
    const { id, record } = this.parts.pool.sealInline(data);
    if (this.blobs.table.find(id) < 0) await this.blobs.add("m", id, record);
    return id;
  }

  /**
   * The sealed small-object path (see SealedObjectSink): objects below the chunker's minimum size are one chunk,
   * which a caller's thread can hash and seal itself.
   */
  sealedObjects(): SealedObjectSink {
    const { keys, config } = this.parts;
    return {
      sealing: { master: Buffer.concat([keys.encryption.export(), keys.macBytes]), compress: compressesData(config) },
      maxObjectBytes: config.chunker.minSize,
      add: async (id, record, size) => {
        await this.writeLock();
        const blob = Buffer.from(id.buffer, id.byteOffset, id.byteLength);
        if (this.blobs.table.find(blob) < 0) {
          await this.blobs.add("d", blob, Buffer.from(record.buffer, record.byteOffset, record.byteLength));
        }
        return { id: formatObjectId(false, blob), size };
      },
    };
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    await this.writeLock();
    return (await this.storeMetadata(encodeTree(entries))).toString("hex");
  }

  async readTree(id: string): Promise<TreeEntry[]> {
    const data = await this.blobs.readBlob(parseTreeId(id));
    if (data === undefined) throw new MissingBlobError(`tree ${id}`, this.store.describe);
    return decodeTree(data, id);
  }

  /** The chunks of an object, in order. */
  async chunksOf(ref: ObjectRef): Promise<ChunkRef[]> {
    const parsed = parseObjectId(ref.id);
    if (!parsed.list) return [{ id: parsed.blob, size: ref.size }];
    const data = await this.blobs.readBlob(parsed.blob);
    if (data === undefined) throw new MissingBlobError(`chunk list of object ${ref.id}`, this.store.describe);
    return decodeChunkList(data, ref.id);
  }

  async *readObject(ref: ObjectRef, range?: { offset: number; length: number }): AsyncIterable<Uint8Array> {
    const chunks = await this.chunksOf(ref);
    const total = chunks.reduce((sum, c) => sum + c.size, 0);
    if (total !== ref.size) throw new Error(`object ${ref.id} holds ${total} bytes, not the ${ref.size} its ref says`);
    const from = range?.offset ?? 0;
    const to = range === undefined ? total : Math.min(total, from + range.length);
    if (from < 0 || from > total) throw new Error(`range offset ${from} is outside object ${ref.id} (${total} bytes)`);
    // The chunks overlapping [from, to), each with the part of it that is wanted.
    const wanted: { chunk: ChunkRef; start: number; end: number }[] = [];
    let at = 0;
    for (const chunk of chunks) {
      const end = at + chunk.size;
      if (end > from && at < to)
        wanted.push({ chunk, start: Math.max(0, from - at), end: Math.min(chunk.size, to - at) });
      at = end;
    }
    const fetch = async (w: (typeof wanted)[number]) => {
      const data = await this.blobs.readBlob(w.chunk.id);
      if (data === undefined) {
        throw new MissingBlobError(`chunk ${w.chunk.id.toString("hex")} of object ${ref.id}`, this.store.describe);
      }
      if (data.length !== w.chunk.size) throw new Error(`chunk ${w.chunk.id.toString("hex")} has the wrong size`);
      return data.subarray(w.start, w.end);
    };
    const ahead: Promise<Buffer>[] = [];
    let next = 0;
    try {
      while (next < wanted.length || ahead.length > 0) {
        while (ahead.length < READ_AHEAD && next < wanted.length) {
          const p = fetch(wanted[next++]!);
          p.catch(() => {}); // awaited below in order; avoid an unhandled rejection meanwhile
          ahead.push(p);
        }
        const data = await ahead.shift()!;
        if (data.length > 0) yield data;
      }
    } finally {
      await Promise.allSettled(ahead);
    }
  }

  async readObjectInto(
    ref: ObjectRef,
    write: (data: Uint8Array, offset: number) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    const chunks = await this.chunksOf(ref);
    const total = chunks.reduce((sum, c) => sum + c.size, 0);
    if (total !== ref.size) throw new Error(`object ${ref.id} holds ${total} bytes, not the ${ref.size} its ref says`);
    this.reader ??= new ChunkReader(this.blobs, this.parts.config.chunker.maxSize);
    const missing = (chunk: ChunkRef) =>
      new MissingBlobError(`chunk ${chunk.id.toString("hex")} of object ${ref.id}`, this.store.describe);
    await this.reader.read(chunks, write, missing, signal);
  }

  sealedRecords(): SealedObjectSource {
    const { keys } = this.parts;
    return {
      opening: { master: Buffer.concat([keys.encryption.export(), keys.macBytes]) },
      withRecord: async (ref, use) => {
        const parsed = parseObjectId(ref.id);
        if (parsed.list) return undefined;
        const used = await this.blobs.useRecord(parsed.blob, (record) => use(parsed.blob, record));
        if (used === undefined) throw new MissingBlobError(`object ${ref.id}`, this.store.describe);
        return used;
      },
    };
  }

  async saveSnapshot(manifest: Omit<SnapshotManifest, "id">): Promise<SnapshotManifest> {
    const lock = await this.writeLock();
    // Order matters for crash safety: packs, then index files, then the manifest that makes them reachable.
    await this.blobs.flush();
    await lock.checkStillValid();
    const id = randomBytes(16).toString("hex");
    // What this handle added since its previous snapshot: new chunks and trees, as stored (sealed, compressed).
    const bytesStored = this.blobs.addedBytes - this.addedBeforeSnapshot;
    this.addedBeforeSnapshot = this.blobs.addedBytes;
    const full: SnapshotManifest = { ...manifest, id, stats: { ...manifest.stats, bytesStored } };
    const body = sealFile(this.parts.keys, `snapshot:${id}`, Buffer.from(JSON.stringify(full), "utf8"));
    await this.store.put(`${SNAPSHOT_PREFIX}${id}`, body);
    this.parts.logger?.info({ snapshot: id, repository: this.store.describe }, "snapshot saved");
    return full;
  }

  /**
   * Every snapshot, oldest first. A manifest that cannot be decoded throws a DamagedSnapshotError naming it,
   * unless `onDamaged` takes it (and the listing goes on without it).
   */
  async listSnapshots(onDamaged?: (damage: DamagedSnapshot) => void): Promise<SnapshotManifest[]> {
    const out: SnapshotManifest[] = [];
    for await (const info of this.store.list(SNAPSHOT_PREFIX)) {
      const id = info.key.slice(SNAPSHOT_PREFIX.length);
      try {
        out.push(await this.readManifest(id));
      } catch (err) {
        if (err instanceof ObjectNotFoundError) continue; // deleted while listing
        if (!(err instanceof DamagedSnapshotError) || onDamaged === undefined) throw err;
        onDamaged(err);
      }
    }
    return out.sort((a, b) => (a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : 0));
  }

  private async readManifest(id: string): Promise<SnapshotManifest> {
    const key = `${SNAPSHOT_PREFIX}${id}`;
    const sealed = await this.store.get(key);
    try {
      const plain = openFile(this.parts.keys, `snapshot:${id}`, sealed, `snapshot ${id}`);
      return JSON.parse(plain.toString("utf8")) as SnapshotManifest;
    } catch (err) {
      throw new DamagedSnapshotError(id, key, err);
    }
  }

  async deleteSnapshot(id: string): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`'${id}' is not a full snapshot id`);
    await this.store.delete(`${SNAPSHOT_PREFIX}${id}`);
  }

  async loadSnapshot(idOrPrefix: string): Promise<SnapshotManifest> {
    if (!/^[0-9a-f]{1,32}$/.test(idOrPrefix)) throw new Error(`'${idOrPrefix}' is not a snapshot id`);
    const matches: string[] = [];
    for await (const info of this.store.list(`${SNAPSHOT_PREFIX}${idOrPrefix}`)) {
      matches.push(info.key.slice(SNAPSHOT_PREFIX.length));
    }
    if (matches.length === 0) throw new Error(`no snapshot '${idOrPrefix}' in ${this.store.describe}`);
    if (matches.length > 1) {
      throw new Error(`snapshot prefix '${idOrPrefix}' is ambiguous: ${matches.slice(0, 5).join(", ")}`);
    }
    return this.readManifest(matches[0]!);
  }

  /** Stores pending packs and their index and gives up the writer lock (maintenance runs next). */
  async releaseWriteLock(): Promise<void> {
    if (this.lock === undefined) return;
    await this.blobs.flush();
    const lock = await this.lock.catch(() => undefined);
    this.lock = undefined;
    await lock?.release();
  }

  /**
   * Stores what was written (packs and their index, so a later backup can reuse it; no snapshot is recorded)
   * and releases the lock and the workers.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.lock !== undefined) {
        await this.blobs.flush().catch((err: unknown) => {
          this.parts.logger?.warn({ err, repository: this.store.describe }, "could not store pending packs on close");
        });
      }
      if (this.lock !== undefined) {
        const lock = await this.lock.catch(() => undefined);
        await lock?.release();
      }
    } finally {
      await this.parts.onClose();
    }
  }
}

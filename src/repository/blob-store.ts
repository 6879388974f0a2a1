/**
 * Blobs, packs and the index. New blob records are appended to an open pack of their kind (data or
 * metadata; see pack-writer.ts); once packs are stored, their entries are written as an index file, and records
 * are read back through the index. Nothing stored is ever rewritten in place, so several writers can share a
 * repository: each only adds its own packs and index files.
 */
import { randomBytes } from "node:crypto";
import type { ObjectStore } from "../objectstore/types.ts";
import type { BoundedCache } from "./cache.ts";
import { DamagedObjectError, IntegrityError, type RepositoryKeys } from "./crypto.ts";
import { IndexTable } from "./index-table.ts";
import {
  decodeIndexFile,
  decodeTrailer,
  encodeIndexFile,
  INDEX_ENTRY_BYTES,
  type IndexFilePack,
  newPackId,
  type PackKind,
  packKey,
} from "./pack-format.ts";
import { PackWindows } from "./pack-windows.ts";
import { type PackInfo, PackWriter } from "./pack-writer.ts";
import { openInPlace, plaintextOf } from "./record-open.ts";
import type { SealPool } from "./seal-pool.ts";

export type { PackInfo } from "./pack-writer.ts";

export const INDEX_PREFIX = "index/";
const MAX_INDEX_ENTRIES = 256 * 1024;

export interface BlobStoreSettings {
  store: ObjectStore;
  keys: RepositoryKeys;
  pool: SealPool;
  cache: BoundedCache | undefined;
  packSize: number;
  maxUploads: number;
}

/** An index file that exists but cannot be decoded; the message says how to rebuild it. */
export class DamagedIndexFileError extends DamagedObjectError {
  constructor(key: string, cause: unknown) {
    super(key, cause, "; 'skiff repo repair-index' rebuilds the index from the packs");
    this.name = "DamagedIndexFileError";
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class BlobStore {
  table = new IndexTable();
  /** Pack number -> pack; number 0 is unused so that 0 can mean "empty slot" in the table. */
  packs: (PackInfo | undefined)[] = [undefined];
  private packNumbers = new Map<string, number>();
  readonly indexFiles: string[] = [];
  private readonly settings: BlobStoreSettings;
  private readonly writer: PackWriter;
  /** Record bytes this process added to packs (new content only; maintenance's copies are not counted). */
  addedBytes = 0;
  private recentPack: { number: number; data: Buffer } | undefined;
  /** Small data records are read a window at a time (restores of many small files). */
  private readonly windows: PackWindows;

  constructor(settings: BlobStoreSettings) {
    this.settings = settings;
    this.writer = new PackWriter({
      store: settings.store,
      keys: settings.keys,
      packSize: settings.packSize,
      maxUploads: settings.maxUploads,
      newPack: (kind) => this.packNumber(newPackId(), kind),
      pack: (number) => this.packs[number]!,
    });
    this.windows = new PackWindows(settings.store, 1 << 20, 4);
  }

  get store(): ObjectStore {
    return this.settings.store;
  }

  packNumber(id: string, kind: PackKind): number {
    let n = this.packNumbers.get(id);
    if (n === undefined) {
      n = this.packs.length;
      this.packs.push({ id, kind, state: "stored" });
      this.packNumbers.set(id, n);
    }
    return n;
  }

  findPack(id: string): number | undefined {
    return this.packNumbers.get(id);
  }

  /**
   * Loads every index file into the table (through the cache). An index file that cannot be decoded throws a
   * DamagedIndexFileError, unless `onDamaged` takes it (repair-index, which rebuilds what it named from the packs).
   */
  async loadIndex(onDamaged?: (damage: DamagedIndexFileError) => void): Promise<void> {
    const known = new Set(this.indexFiles);
    for await (const info of this.settings.store.list(INDEX_PREFIX)) {
      const name = info.key.slice(INDEX_PREFIX.length);
      if (known.has(name)) continue;
      let contents: ReturnType<typeof decodeIndexFile>;
      try {
        contents = await this.fetchCached(info.key, (data) => {
          try {
            return decodeIndexFile(this.settings.keys, name, data);
          } catch (err) {
            throw new DamagedIndexFileError(info.key, err);
          }
        });
      } catch (err) {
        // Only the stored copy's failure reaches here (a bad cached copy is dropped and read again).
        if (!(err instanceof DamagedIndexFileError) || onDamaged === undefined) throw err;
        onDamaged(err);
        continue;
      }
      this.addIndexContents(contents.packs, contents.entries, contents.entryCount);
      this.indexFiles.push(name);
    }
  }

  /**
   * Brings the table up to date after taking a writer lock: if index files this process loaded are gone,
   * maintenance may have deleted the packs they named, so the table is rebuilt; otherwise new index files (from
   * other writers) are added.
   */
  async refresh(): Promise<void> {
    const present = new Set<string>();
    for await (const info of this.settings.store.list(INDEX_PREFIX)) present.add(info.key.slice(INDEX_PREFIX.length));
    if (this.indexFiles.some((name) => !present.has(name))) await this.reload();
    else await this.loadIndex();
  }

  /** Forgets everything and loads the index again (after maintenance deleted packs). */
  async reload(onDamaged?: (damage: DamagedIndexFileError) => void): Promise<void> {
    await this.flush();
    this.forget();
    await this.loadIndex(onDamaged);
  }

  /** Empties the table and the pack list (nothing is pending: callers flush first). */
  forget(): void {
    this.table = new IndexTable();
    this.packs = [undefined];
    this.packNumbers = new Map();
    this.indexFiles.length = 0;
    this.recentPack = undefined;
  }

  addIndexContents(packs: IndexFilePack[], entries: Buffer, count: number): void {
    const numbers = packs.map((p) => this.packNumber(p.id, p.kind));
    for (let i = 0; i < count; i++) {
      const at = i * INDEX_ENTRY_BYTES;
      const pack = numbers[entries.readUInt32LE(at + 16)];
      if (pack === undefined) throw new Error("index file entry names a pack it does not list");
      this.table.insert(entries, pack, entries.readUInt32LE(at + 20), entries.readUInt32LE(at + 24), at);
    }
  }

  /**
   * Reads an immutable object through the cache. `decode` checks it (decryption authenticates); a cached copy
   * that fails is dropped and the object read from the store again.
   */
  async fetchCached<T>(key: string, decode: (data: Buffer) => T): Promise<T> {
    const cache = this.settings.cache;
    const cached = await cache?.get(key);
    if (cached !== undefined) {
      try {
        return decode(cached);
      } catch {
        await cache?.delete(key);
      }
    }
    const data = asBuffer(await this.settings.store.get(key));
    const decoded = decode(data);
    await cache?.put(key, data);
    return decoded;
  }

  /** Appends a sealed record to the open pack of `kind` and records it in the table; `record` may be reused after. */
  async add(kind: PackKind, id: Buffer, record: Buffer): Promise<void> {
    await this.writer.write(kind, id, record, (pack, offset) => {
      // Another caller may have stored the same content meanwhile.
      const { added } = this.table.insert(id, pack, offset, record.length);
      if (added) this.addedBytes += record.length;
      return added;
    });
  }

  /** Appends an existing record (pack rewrite) and points the blob's table slot at its new place. */
  async relocate(kind: PackKind, slot: number, record: Buffer): Promise<void> {
    await this.writer.write(kind, this.table.idOf(slot), record, (pack, offset) => {
      this.table.relocate(slot, pack, offset, record.length);
      return true;
    });
  }

  /** Packs stored but not yet named by an index file written by this process. */
  takeUnindexed(): number[] {
    return this.writer.takeUnindexed();
  }

  /** Stores open packs and waits for all uploads. */
  flushPacks(): Promise<void> {
    return this.writer.flush();
  }

  /** Makes everything added so far durable: packs first, then the index files naming them. */
  async flush(): Promise<void> {
    await this.flushPacks();
    const numbers = this.writer.takeUnindexed();
    try {
      await this.writeIndexFor(new Set(numbers));
    } catch (err) {
      this.writer.returnUnindexed(numbers);
      throw err;
    }
  }

  /** Writes index files covering every table entry in the given packs. */
  async writeIndexFor(packNumbers: Set<number>): Promise<string[]> {
    if (packNumbers.size === 0) return [];
    const written: string[] = [];
    const table = this.table;
    const entries = Buffer.allocUnsafe(Math.min(MAX_INDEX_ENTRIES, table.size) * INDEX_ENTRY_BYTES);
    let count = 0;
    let packs: IndexFilePack[] = [];
    let local = new Map<number, number>();
    const emit = async () => {
      if (count === 0) return;
      const name = randomBytes(16).toString("hex");
      const body = encodeIndexFile(this.settings.keys, name, packs, entries.subarray(0, count * INDEX_ENTRY_BYTES));
      await this.settings.store.put(`${INDEX_PREFIX}${name}`, body);
      this.indexFiles.push(name);
      written.push(name);
      count = 0;
      packs = [];
      local = new Map();
      // encodeIndexFile copied the entries (sorted) into the sealed file, so the buffer is reused: a second
      // 7 MB buffer per index file was most of the memory peak at the end of a million-file backup.
    };
    for (let slot = 0; slot < table.capacity; slot++) {
      if (!table.isUsed(slot)) continue;
      const pack = table.packOf(slot);
      if (!packNumbers.has(pack)) continue;
      let l = local.get(pack);
      if (l === undefined) {
        l = packs.length;
        local.set(pack, l);
        const info = this.packs[pack]!;
        packs.push({ id: info.id, kind: info.kind });
      }
      const at = count * INDEX_ENTRY_BYTES;
      table.copyId(slot, entries, at);
      entries.writeUInt32LE(l, at + 16);
      entries.writeUInt32LE(table.offsetOf(slot), at + 20);
      entries.writeUInt32LE(table.lengthOf(slot), at + 24);
      count++;
      if (count * INDEX_ENTRY_BYTES >= entries.length) await emit();
    }
    await emit();
    return written;
  }

  /** The stored record of a blob, or undefined when the index has no such blob. */
  async readRecord(id: Uint8Array): Promise<{ record: Buffer; pack: number } | undefined> {
    const slot = this.table.find(id);
    if (slot < 0) return undefined;
    const pack = this.table.packOf(slot);
    const info = this.packs[pack]!;
    const pending = info.state === "stored" ? undefined : await this.writer.pendingData(pack);
    const offset = this.table.offsetOf(slot);
    const length = this.table.lengthOf(slot);
    // A copy: the pack buffer is reused once its upload finishes.
    if (pending !== undefined) return { record: Buffer.from(pending.subarray(offset, offset + length)), pack };
    if (this.recentPack?.number === pack) {
      return { record: this.recentPack.data.subarray(offset, offset + length), pack };
    }
    const key = packKey(info.kind, info.id);
    if (info.kind === "m" && this.settings.cache !== undefined) {
      const data = await this.fetchCached(key, (d) => {
        // Only the trailer is checked here; a damaged record is caught when it is opened (see readBlob).
        decodeTrailer(this.settings.keys, info.id, d);
        return d;
      });
      this.recentPack = { number: pack, data };
      return { record: data.subarray(offset, offset + length), pack };
    }
    const windowed = info.kind === "d" ? await this.windows.read(key, offset, length) : undefined;
    if (windowed !== undefined) return { record: windowed, pack };
    // A view, not Buffer.from(bytes), which would copy the whole record.
    return { record: asBuffer(await this.settings.store.get(key, { offset, length })), pack };
  }

  /**
   * Calls `use` with the stored record of blob `id`, a view valid only during the call (small data records come
   * straight from a pack window, uncopied), and resolves to what it returned; undefined when the index has no
   * such blob.
   */
  async useRecord<T>(id: Uint8Array, use: (record: Buffer) => T): Promise<{ value: T } | undefined> {
    const slot = this.table.find(id);
    if (slot < 0) return undefined;
    const info = this.packs[this.table.packOf(slot)]!;
    if (info.kind === "d" && info.state === "stored") {
      const key = packKey(info.kind, info.id);
      const served = await this.windows.use(key, this.table.offsetOf(slot), this.table.lengthOf(slot), use);
      if (served !== undefined) return served;
    }
    const found = await this.readRecord(id);
    return found === undefined ? undefined : { value: use(found.record) };
  }

  async readBlob(id: Buffer): Promise<Buffer | undefined> {
    const found = await this.readRecord(id);
    if (found === undefined) return undefined;
    try {
      return await this.settings.pool.open(id, found.record);
    } catch (err) {
      const info = this.packs[found.pack]!;
      if (!(err instanceof IntegrityError) || info.kind !== "m" || this.settings.cache === undefined) throw err;
      // The cached copy of a metadata pack may be what is damaged: drop it and read the store's.
      this.recentPack = undefined;
      await this.settings.cache.delete(packKey(info.kind, info.id));
      const slot = this.table.find(id);
      const offset = this.table.offsetOf(slot);
      const record = await this.settings.store.get(packKey(info.kind, info.id), {
        offset,
        length: this.table.lengthOf(slot),
      });
      return this.settings.pool.open(id, record);
    }
  }

  /**
   * The plaintext of data blob `id` (`size` bytes), read through `buffer`: the record is read into it and opened
   * in place, so the result is usually a view of `buffer`, valid until the caller reuses it. Blobs that cannot be
   * read that way (metadata, packs of this process not stored yet, records larger than the buffer, stores without
   * positional reads) take readBlob's path. Undefined when the index has no such blob.
   */
  async readBlobInto(id: Buffer, buffer: Buffer, size: number): Promise<Buffer | undefined> {
    const slot = this.table.find(id);
    if (slot < 0) return undefined;
    const info = this.packs[this.table.packOf(slot)]!;
    const length = this.table.lengthOf(slot);
    const store = this.settings.store;
    if (info.kind !== "d" || info.state !== "stored" || length > buffer.length || store.readInto === undefined) {
      return this.readBlob(id);
    }
    const key = packKey(info.kind, info.id);
    const record = buffer.subarray(0, length);
    const read = await store.readInto(key, this.table.offsetOf(slot), record);
    if (read !== length) throw new Error(`${key} in ${store.describe} ends inside the record of a blob`);
    return plaintextOf(openInPlace(this.settings.keys, id, record), size);
  }
}

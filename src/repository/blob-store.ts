/**
 * Blobs, packs and the index. New blob records are appended to an open pack of their kind (data or
 * metadata); a full pack is uploaded in the background (a bounded number at once); once packs are stored,
 * their entries are written as an index file. Nothing stored is ever rewritten in place, so several writers
 * can share a repository: each only adds its own packs and index files.
 */
import { randomBytes } from "node:crypto";
import type { ObjectStore } from "../objectstore/types.ts";
import { BufferPool } from "./buffer-pool.ts";
import type { BoundedCache } from "./cache.ts";
import { IntegrityError, type RepositoryKeys } from "./crypto.ts";
import { IndexTable } from "./index-table.ts";
import {
  decodeIndexFile,
  decodeTrailer,
  encodeIndexFile,
  encodeTrailer,
  INDEX_ENTRY_BYTES,
  type IndexFilePack,
  newPackId,
  type PackKind,
  packKey,
  TrailerEntries,
} from "./pack-format.ts";
import { PackWindows } from "./pack-windows.ts";
import { openInPlace, plaintextOf } from "./record-open.ts";
import type { SealPool } from "./seal-pool.ts";
import { StreamedPack } from "./streamed-pack.ts";

export const INDEX_PREFIX = "index/";
const MAX_INDEX_ENTRIES = 256 * 1024;

export interface PackInfo {
  id: string;
  kind: PackKind;
  state: "building" | "uploading" | "stored";
}

interface PackBuilder {
  number: number;
  /** The records so far (buffered packs); empty for a streamed pack. */
  buffer: Buffer;
  /** Where a streamed pack's records go instead of `buffer`. */
  stream: StreamedPack | undefined;
  /** Bytes of records the pack may take. */
  capacity: number;
  /** Whether buffer came from the pack pool (an oversized record gets a buffer of its own). */
  pooled: boolean;
  size: number;
  entries: TrailerEntries;
}

/** Room for the trailer past the pack size (a trailer that does not fit is appended by copying). */
const PACK_SLACK = 1 << 20;

export interface BlobStoreSettings {
  store: ObjectStore;
  keys: RepositoryKeys;
  pool: SealPool;
  cache: BoundedCache | undefined;
  packSize: number;
  maxUploads: number;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const EMPTY = Buffer.alloc(0);

/** The first buffer of a metadata pack; it doubles as trees are added. */
const METADATA_PACK_START = 256 * 1024;

function packBufferSize(packSize: number): number {
  return packSize + PACK_SLACK;
}

export class BlobStore {
  table = new IndexTable();
  /** Pack number -> pack; number 0 is unused so that 0 can mean "empty slot" in the table. */
  packs: (PackInfo | undefined)[] = [undefined];
  private packNumbers = new Map<string, number>();
  readonly indexFiles: string[] = [];
  private readonly settings: BlobStoreSettings;
  private readonly building: Record<PackKind, PackBuilder | undefined> = { d: undefined, m: undefined };
  private readonly uploads = new Set<Promise<void>>();
  private readonly uploadingData = new Map<number, Buffer>();
  /** Streamed packs being finished and committed: a read of one of their records waits for it. */
  private readonly committing = new Map<number, Promise<void>>();
  /** Staging buffers of streamed packs (small records are gathered before they are written). */
  private readonly stagingBuffers = new BufferPool(1 << 20, 4);
  private readonly packBuffers: BufferPool;
  private unindexed: number[] = [];
  /** Record bytes this process added to packs (new content only; maintenance's copies are not counted). */
  addedBytes = 0;
  private waitingForSlot = 0;
  private failure: Error | undefined;
  private recentPack: { number: number; data: Buffer } | undefined;
  /** Small data records are read a window at a time (restores of many small files). */
  private readonly windows: PackWindows;

  constructor(settings: BlobStoreSettings) {
    this.settings = settings;
    this.packBuffers = new BufferPool(packBufferSize(settings.packSize), settings.maxUploads + 1);
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

  /** Loads every index file into the table (through the cache). */
  async loadIndex(): Promise<void> {
    const known = new Set(this.indexFiles);
    for await (const info of this.settings.store.list(INDEX_PREFIX)) {
      const name = info.key.slice(INDEX_PREFIX.length);
      if (known.has(name)) continue;
      const contents = await this.fetchCached(info.key, (data) => decodeIndexFile(this.settings.keys, name, data));
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
  async reload(): Promise<void> {
    await this.flush();
    this.table = new IndexTable();
    this.packs = [undefined];
    this.packNumbers = new Map();
    this.indexFiles.length = 0;
    this.recentPack = undefined;
    await this.loadIndex();
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

  private checkHealthy(): void {
    if (this.failure)
      throw new Error("an earlier pack upload failed; nothing more is written", { cause: this.failure });
  }

  /**
   * Runs `write` on the open pack of `kind` once it has room for `length` more bytes (closing full packs, which
   * may wait for an upload slot). `write` runs synchronously right after the check, so concurrent callers
   * cannot change the pack in between.
   */
  private async place(kind: PackKind, length: number, write: (builder: PackBuilder) => void): Promise<void> {
    for (;;) {
      let builder = this.building[kind];
      if (builder !== undefined && builder.size + length > builder.capacity) {
        if (builder.stream === undefined && !builder.pooled && builder.buffer.length < this.packBuffers.size) {
          this.growMetadataBuffer(builder, length);
        } else await this.finishPack(kind);
        continue;
      }
      if (builder === undefined && kind === "d" && this.settings.store.openWriter !== undefined) {
        // Data packs go straight to a store that can write objects piece by piece: no pack buffer, no copy.
        const number = this.packNumber(newPackId(), kind);
        const info = this.packs[number]!;
        info.state = "building";
        const stream = new StreamedPack(this.settings.store.openWriter(packKey(kind, info.id)), this.stagingBuffers);
        builder = {
          number,
          buffer: EMPTY,
          stream,
          capacity: Math.max(length, packBufferSize(this.settings.packSize)),
          pooled: false,
          size: 0,
          entries: new TrailerEntries(),
        };
        this.building[kind] = builder;
      }
      if (builder === undefined && kind === "m" && length <= METADATA_PACK_START) {
        // Metadata packs start small and grow: a backup of a few large files writes a few kilobytes of trees,
        // and a full-size buffer for them would be ~17 MB of the process's memory for nothing.
        const number = this.packNumber(newPackId(), kind);
        this.packs[number]!.state = "building";
        const buffer = Buffer.allocUnsafeSlow(METADATA_PACK_START);
        builder = {
          number,
          buffer,
          stream: undefined,
          capacity: buffer.length,
          pooled: false,
          size: 0,
          entries: new TrailerEntries(),
        };
        this.building[kind] = builder;
      }
      if (builder === undefined) {
        // Backpressure on whole packs: when the store is slower than sealing, full packs would otherwise pile up
        // waiting for an upload slot (each concurrent writer opening a new one), measured at 800 MB of RSS with
        // one upload slot. The open data pack plus the uploads is all that may hold a pack buffer (metadata packs
        // grow their own buffers).
        if (this.packBuffers.outstanding > this.settings.maxUploads) {
          await this.packBuffers.whenBelow(this.settings.maxUploads + 1);
          continue;
        }
        const number = this.packNumber(newPackId(), kind);
        this.packs[number]!.state = "building";
        const fits = length <= this.packBuffers.size;
        const buffer = fits ? this.packBuffers.take() : Buffer.allocUnsafe(length);
        builder = {
          number,
          buffer,
          stream: undefined,
          capacity: buffer.length,
          pooled: fits,
          size: 0,
          entries: new TrailerEntries(),
        };
        this.building[kind] = builder;
      }
      write(builder);
      if (builder.size >= this.settings.packSize) await this.finishPack(kind);
      return;
    }
  }

  /** Doubles a metadata pack's own buffer (up to the pooled size) so that `length` more bytes fit. */
  private growMetadataBuffer(builder: PackBuilder, length: number): void {
    const size = Math.min(this.packBuffers.size, Math.max(builder.buffer.length * 2, builder.size + length));
    const bigger = Buffer.allocUnsafeSlow(size);
    builder.buffer.copy(bigger, 0, 0, builder.size);
    builder.buffer = bigger;
    builder.capacity = size;
  }

  /** Appends a sealed record to the open pack of `kind` and records it in the table. */
  /** Appends a sealed record to the open pack of `kind` and records it in the table; `record` may be reused after. */
  async add(kind: PackKind, id: Buffer, record: Buffer): Promise<void> {
    this.checkHealthy();
    let written: Promise<void> | undefined;
    await this.place(kind, record.length, (builder) => {
      const { added } = this.table.insert(id, builder.number, builder.size, record.length);
      // Another caller may have stored the same content meanwhile.
      if (added) {
        this.addedBytes += record.length;
        written = this.append(builder, id, record);
      }
    });
    await written;
  }

  /** Copies the record into a buffered pack, or starts writing it into a streamed one (the promise of that write). */
  private append(builder: PackBuilder, id: Buffer, record: Buffer): Promise<void> | undefined {
    const at = builder.size;
    builder.entries.push(id, at, record.length);
    builder.size += record.length;
    if (builder.stream !== undefined) return builder.stream.write(record, at);
    record.copy(builder.buffer, at);
    return undefined;
  }

  /** Appends an existing record (pack rewrite) and points the blob's table slot at its new place. */
  async relocate(kind: PackKind, slot: number, record: Buffer): Promise<void> {
    this.checkHealthy();
    let written: Promise<void> | undefined;
    await this.place(kind, record.length, (builder) => {
      this.table.relocate(slot, builder.number, builder.size, record.length);
      written = this.append(builder, this.table.idOf(slot), record);
    });
    await written;
  }

  /** Packs uploaded but not yet named by an index file written by this process. */
  takeUnindexed(): number[] {
    const out = this.unindexed;
    this.unindexed = [];
    return out;
  }

  /** Closes the open pack of `kind` and starts its upload, waiting first if too many uploads are running. */
  private async finishPack(kind: PackKind): Promise<void> {
    const builder = this.building[kind];
    if (builder === undefined) return;
    this.building[kind] = undefined;
    const pack = this.packs[builder.number]!;
    pack.state = "uploading";
    const trailer = encodeTrailer(this.settings.keys, pack.id, builder.entries);
    const key = packKey(kind, pack.id);
    let store: () => Promise<void>;
    let committed: (() => void) | undefined;
    const stream = builder.stream;
    if (stream === undefined) {
      let data: Buffer;
      if (builder.size + trailer.length <= builder.buffer.length) {
        trailer.copy(builder.buffer, builder.size);
        data = builder.buffer.subarray(0, builder.size + trailer.length);
      } else {
        data = Buffer.concat([builder.buffer.subarray(0, builder.size), trailer]);
      }
      this.uploadingData.set(builder.number, data);
      store = () => this.settings.store.put(key, data);
    } else {
      this.committing.set(builder.number, new Promise<void>((resolve) => (committed = resolve)));
      store = async () => {
        try {
          await stream.finish(trailer, builder.size);
          await stream.commit();
        } catch (err) {
          await stream.abort();
          throw err;
        }
      };
    }
    // Counted until its upload is registered, so a flush cannot miss a pack still waiting for a slot.
    this.waitingForSlot++;
    try {
      while (this.uploads.size >= this.settings.maxUploads) await Promise.race(this.uploads);
    } finally {
      this.waitingForSlot--;
    }
    const upload = store()
      .then(() => {
        pack.state = "stored";
        this.unindexed.push(builder.number);
      })
      .catch((err: unknown) => {
        this.failure ??= new Error(`cannot store pack ${key} in ${this.settings.store.describe}`, { cause: err });
      })
      .finally(() => {
        this.uploadingData.delete(builder.number);
        this.committing.delete(builder.number);
        committed?.();
        this.uploads.delete(upload);
        if (builder.pooled) this.packBuffers.give(builder.buffer);
      });
    this.uploads.add(upload);
  }

  /** Stores open packs and waits for all uploads. */
  async flushPacks(): Promise<void> {
    await this.finishPack("d");
    await this.finishPack("m");
    while (this.uploads.size > 0 || this.waitingForSlot > 0) {
      if (this.uploads.size > 0) await Promise.race(this.uploads);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    this.checkHealthy();
  }

  /** Makes everything added so far durable: packs first, then the index files naming them. */
  async flush(): Promise<void> {
    await this.flushPacks();
    const numbers = this.unindexed;
    this.unindexed = [];
    try {
      await this.writeIndexFor(new Set(numbers));
    } catch (err) {
      this.unindexed.push(...numbers);
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
    if (info.state === "building") await this.finishPack(info.kind);
    // A streamed pack is readable once committed (a failed commit leaves it unreadable: the read fails).
    const commit = this.committing.get(pack);
    if (commit !== undefined) await commit;
    const offset = this.table.offsetOf(slot);
    const length = this.table.lengthOf(slot);
    const pending = this.uploadingData.get(pack);
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

/**
 * The write side of the blob store: open packs (one per lane, see Lane) that records are appended to, and the
 * uploads of full ones. A data pack on a store with openWriter is written straight into its object as records
 * arrive (StreamedPack); other packs are gathered in a buffer and stored with one put. Uploads run in the
 * background, a bounded number at once, and a new pack waits while the open pack and the uploads hold every pack
 * buffer.
 */
import type { ObjectStore } from "../objectstore/types.ts";
import { BufferPool } from "./buffer-pool.ts";
import type { RepositoryKeys } from "./crypto.ts";
import { encodeTrailer, type PackKind, packKey, TrailerEntries } from "./pack-format.ts";
import { StreamedPack } from "./streamed-pack.ts";

export interface PackInfo {
  id: string;
  kind: PackKind;
  state: "building" | "uploading" | "stored";
}

export interface PackWriterSettings {
  store: ObjectStore;
  keys: RepositoryKeys;
  packSize: number;
  maxUploads: number;
  /** Registers a new pack of `kind` (state "stored" until told otherwise) and returns its number. */
  newPack(kind: PackKind): number;
  pack(number: number): PackInfo;
}

/**
 * An open pack's place: "m" for metadata, "d0".."dN" for data. A store written piece by piece (the filesystem)
 * gets several open data packs: buffered writes into one file take turns on the file's lock, so with a single
 * pack one thread at a time copied records into the page cache, which held a 2 GiB backup to ~650 MB/s on two
 * cores. Buffered packs keep one data lane, since each open one holds a pack buffer.
 */
type Lane = string;
const STREAMED_DATA_LANES = 2;

interface PackBuilder {
  number: number;
  kind: PackKind;
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
const EMPTY = Buffer.alloc(0);
/** The first buffer of a metadata pack; it doubles as trees are added. */
const METADATA_PACK_START = 256 * 1024;

export class PackWriter {
  private readonly settings: PackWriterSettings;
  private readonly building = new Map<Lane, PackBuilder>();
  private nextDataLane = 0;
  private readonly uploads = new Set<Promise<void>>();
  /** Buffered packs being uploaded: their records are read from here meanwhile. */
  private readonly uploadingData = new Map<number, Buffer>();
  /** Streamed packs being finished and committed: a read of one of their records waits for it. */
  private readonly committing = new Map<number, Promise<void>>();
  /** Staging buffers of streamed packs (small records are gathered before they are written). */
  private readonly stagingBuffers = new BufferPool(1 << 20, 4);
  private readonly packBuffers: BufferPool;
  private unindexed: number[] = [];
  private waitingForSlot = 0;
  private failure: Error | undefined;

  constructor(settings: PackWriterSettings) {
    this.settings = settings;
    this.packBuffers = new BufferPool(settings.packSize + PACK_SLACK, settings.maxUploads + 1);
  }

  checkHealthy(): void {
    if (this.failure)
      throw new Error("an earlier pack upload failed; nothing more is written", { cause: this.failure });
  }

  /**
   * Appends `record` (blob `id`) to the open pack of `kind`. `claim(pack, offset)` runs synchronously once the
   * pack has room, so concurrent callers cannot change the pack in between; it records the blob's place and
   * returns false when the record is not to be written after all (another caller stored the same content).
   * Resolves once `record` may be reused.
   */
  async write(kind: PackKind, id: Buffer, record: Buffer, claim: (pack: number, offset: number) => boolean) {
    this.checkHealthy();
    let written: Promise<void> | undefined;
    const lane = this.laneFor(kind);
    for (;;) {
      const builder = await this.openPack(lane, kind, record.length);
      // Awaiting the open pack gives other writers a turn: one of them may have filled and closed it meanwhile,
      // and a record appended to a closed pack would land after its trailer (or over it, in a buffered pack).
      if (builder === undefined || this.building.get(lane) !== builder) continue;
      if (builder.size + record.length > builder.capacity) continue;
      if (claim(builder.number, builder.size)) written = this.append(builder, id, record);
      if (builder.size >= this.settings.packSize) await this.finishPack(lane);
      break;
    }
    await written;
  }

  /** Data records take the streamed lanes in turn; everything else has one lane per kind. */
  private laneFor(kind: PackKind): Lane {
    if (kind !== "d" || this.settings.store.openWriter === undefined) return kind;
    const lane = this.nextDataLane;
    this.nextDataLane = (lane + 1) % STREAMED_DATA_LANES;
    return `d${lane}`;
  }

  /**
   * The open pack of `lane` (holding packs of `kind`) with room for `length` more bytes, or undefined when the
   * caller must look again (it waited, and the open pack may have changed meanwhile).
   */
  private async openPack(lane: Lane, kind: PackKind, length: number): Promise<PackBuilder | undefined> {
    const builder = this.building.get(lane);
    if (builder !== undefined && builder.size + length > builder.capacity) {
      if (builder.stream === undefined && !builder.pooled && builder.buffer.length < this.packBuffers.size) {
        this.growMetadataBuffer(builder, length);
      } else await this.finishPack(lane);
      return undefined;
    }
    if (builder !== undefined) return builder;
    const store = this.settings.store;
    if (kind === "d" && store.openWriter !== undefined) {
      // Data packs go straight to a store that can write objects piece by piece: no pack buffer, no copy.
      const number = this.startPack(kind);
      const stream = new StreamedPack(
        store.openWriter(packKey(kind, this.settings.pack(number).id)),
        this.stagingBuffers,
      );
      const capacity = Math.max(length, this.packBuffers.size);
      return this.opened(lane, { kind, number, buffer: EMPTY, stream, capacity, pooled: false });
    }
    if (kind === "m" && length <= METADATA_PACK_START) {
      // Metadata packs start small and grow: a backup of a few large files writes a few kilobytes of trees,
      // and a full-size buffer for them would be ~17 MB of the process's memory for nothing.
      const buffer = Buffer.allocUnsafeSlow(METADATA_PACK_START);
      const number = this.startPack(kind);
      return this.opened(lane, { kind, number, buffer, stream: undefined, capacity: buffer.length, pooled: false });
    }
    // Backpressure on whole packs: when the store is slower than sealing, full packs would otherwise pile up
    // waiting for an upload slot (each concurrent writer opening a new one), measured at 800 MB of RSS with one
    // upload slot. The open data pack plus the uploads is all that may hold a pack buffer (metadata packs grow
    // their own buffers).
    if (this.packBuffers.outstanding > this.settings.maxUploads) {
      await this.packBuffers.whenBelow(this.settings.maxUploads + 1);
      return undefined;
    }
    const pooled = length <= this.packBuffers.size;
    const buffer = pooled ? this.packBuffers.take() : Buffer.allocUnsafe(length);
    const number = this.startPack(kind);
    return this.opened(lane, { kind, number, buffer, stream: undefined, capacity: buffer.length, pooled });
  }

  private startPack(kind: PackKind): number {
    const number = this.settings.newPack(kind);
    this.settings.pack(number).state = "building";
    return number;
  }

  private opened(lane: Lane, parts: Omit<PackBuilder, "size" | "entries">): PackBuilder {
    const builder: PackBuilder = { ...parts, size: 0, entries: new TrailerEntries() };
    this.building.set(lane, builder);
    return builder;
  }

  /** Doubles a metadata pack's own buffer (up to the pooled size) so that `length` more bytes fit. */
  private growMetadataBuffer(builder: PackBuilder, length: number): void {
    const size = Math.min(this.packBuffers.size, Math.max(builder.buffer.length * 2, builder.size + length));
    const bigger = Buffer.allocUnsafeSlow(size);
    builder.buffer.copy(bigger, 0, 0, builder.size);
    builder.buffer = bigger;
    builder.capacity = size;
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

  /** Packs stored but not yet named by an index file written by this process. */
  takeUnindexed(): number[] {
    const out = this.unindexed;
    this.unindexed = [];
    return out;
  }

  /** Puts back packs whose index file could not be written, for the next flush. */
  returnUnindexed(numbers: number[]): void {
    this.unindexed.push(...numbers);
  }

  /**
   * Where a record of pack `number` can be read before the pack is stored: the buffer of a pack being uploaded.
   * An open pack is closed first, and a streamed pack being committed is waited for (then read from the store).
   */
  async pendingData(number: number): Promise<Buffer | undefined> {
    const info = this.settings.pack(number);
    if (info.state === "building") {
      for (const [lane, builder] of this.building) if (builder.number === number) await this.finishPack(lane);
    }
    // A streamed pack is readable once committed (a failed commit leaves it unreadable: the read fails).
    const commit = this.committing.get(number);
    if (commit !== undefined) await commit;
    return this.uploadingData.get(number);
  }

  /** Closes the open pack of `lane` and starts its upload, waiting first if too many uploads are running. */
  private async finishPack(lane: Lane): Promise<void> {
    const builder = this.building.get(lane);
    if (builder === undefined) return;
    this.building.delete(lane);
    const kind = builder.kind;
    const pack = this.settings.pack(builder.number);
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
  async flush(): Promise<void> {
    // Data packs first, then the metadata pack.
    for (const lane of [...this.building.keys()]) if (lane !== "m") await this.finishPack(lane);
    await this.finishPack("m");
    while (this.uploads.size > 0 || this.waitingForSlot > 0) {
      if (this.uploads.size > 0) await Promise.race(this.uploads);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    this.checkHealthy();
  }
}

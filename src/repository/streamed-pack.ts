/**
 * A data pack written straight into its object as records arrive, for stores that offer openWriter (the
 * filesystem). Buffered packs hold up to a pack's worth of records in memory and copy every record once more;
 * here a large record goes from the seal pool to the file, and small records are gathered in 1 MiB staging
 * buffers so that many small files still make few write calls. A writer that gathers writes itself (the
 * filesystem's direct writer, ObjectWriter.copies) gets every record as it comes instead. The caller reserves
 * each record's offset (contiguously, in the order records are placed), so the writes themselves may complete
 * in any order.
 */
import type { ObjectWriter } from "../objectstore/types.ts";
import type { BufferPool } from "./buffer-pool.ts";

/** Records at least this large are written from their own buffer; smaller ones are copied into staging. */
const DIRECT_FROM = 256 * 1024;

export class StreamedPack {
  private readonly writer: Promise<ObjectWriter>;
  /** The writer once opened, when it copies and gathers writes itself (then records go to it as they come). */
  private copyingWriter: ObjectWriter | undefined;
  private readonly staging: BufferPool;
  private buffer: Buffer | undefined;
  private bufferStart = 0;
  private bufferLength = 0;
  private readonly pending = new Set<Promise<void>>();
  private failure: unknown;

  /** `staging` lends the buffers small records are gathered in. */
  constructor(writer: Promise<ObjectWriter>, staging: BufferPool) {
    this.writer = writer;
    this.staging = staging;
    // An open that fails is reported by the first write or by finish; never as an unhandled rejection.
    writer.then(
      (opened) => {
        if (opened.copies) this.copyingWriter = opened;
      },
      () => {},
    );
  }

  /**
   * Writes `record` at `offset`. Resolves once the caller may reuse the record's memory (at once for records
   * copied into staging), and rejects when the write failed.
   */
  write(record: Uint8Array, offset: number): Promise<void> {
    if (record.length >= DIRECT_FROM || this.copyingWriter !== undefined) {
      this.flushStaging();
      return this.track(this.writeAt(record, offset));
    }
    const buffer = this.buffer;
    if (
      buffer !== undefined &&
      (this.bufferStart + this.bufferLength !== offset || this.bufferLength + record.length > buffer.length)
    ) {
      this.flushStaging();
    }
    if (this.buffer === undefined) {
      this.buffer = this.staging.take();
      this.bufferStart = offset;
      this.bufferLength = 0;
    }
    this.buffer.set(record, this.bufferLength);
    this.bufferLength += record.length;
    return Promise.resolve();
  }

  /** Writes the trailer at `offset` (after the last record) and waits for every write; throws the first failure. */
  async finish(trailer: Uint8Array, offset: number): Promise<void> {
    this.flushStaging();
    void this.track(this.writeAt(trailer, offset)).catch(() => {});
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    if (this.failure !== undefined) throw this.failure;
  }

  async commit(): Promise<void> {
    await (await this.writer).commit();
  }

  /** Removes the partial object; safe to call after any failure. */
  async abort(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    const writer = await this.writer.catch(() => undefined);
    await writer?.abort().catch(() => {});
  }

  private async writeAt(data: Uint8Array, offset: number): Promise<void> {
    await (await this.writer).writeAt(data, offset);
  }

  private flushStaging(): void {
    const buffer = this.buffer;
    if (buffer === undefined) return;
    this.buffer = undefined;
    const write = this.writeAt(buffer.subarray(0, this.bufferLength), this.bufferStart).finally(() =>
      this.staging.give(buffer),
    );
    // Staged records were acknowledged already: a failure surfaces from finish.
    void this.track(write).catch(() => {});
  }

  private track(write: Promise<void>): Promise<void> {
    const settled: Promise<void> = write
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.pending.delete(settled));
    this.pending.add(settled);
    return write;
  }
}

/**
 * Reading whole objects for a restore: each chunk's record is read into one of a few reused buffers, opened
 * there (record-open.ts) and handed to the caller's writer with its offset in the object. Several chunks of an
 * object are in flight at once and their writes may finish in any order, so reads, decryption and writes
 * overlap; the buffers are shared by every object read at once, which bounds the memory of the whole restore.
 */
import type { BlobStore } from "./blob-store.ts";
import { BufferPool } from "./buffer-pool.ts";
import { ByteBudget } from "./byte-budget.ts";
import { RECORD_OVERHEAD } from "./crypto.ts";
import type { ChunkRef } from "./tree-codec.ts";

/** Receives one chunk's bytes and their offset in the object; the bytes are reused once it resolves. */
export type ChunkWriter = (data: Uint8Array, offset: number) => Promise<void>;

/** Chunks in flight across all objects (each holds a buffer of the largest record). */
const TOTAL_IN_FLIGHT = 4;
/** Chunks in flight per object: enough to overlap the read, decryption and write of neighbours. */
const PER_OBJECT = 4;

export class ChunkReader {
  readonly #blobs: BlobStore;
  readonly #buffers: BufferPool;
  readonly #slots = new ByteBudget(TOTAL_IN_FLIGHT);

  /** `maxChunk`: the chunker's largest chunk (a record is that plus its overhead). */
  constructor(blobs: BlobStore, maxChunk: number) {
    this.#blobs = blobs;
    this.#buffers = new BufferPool(maxChunk + RECORD_OVERHEAD, TOTAL_IN_FLIGHT);
  }

  /**
   * Reads `chunks` (an object's, in order) and writes each through `write`. Resolves once every write has;
   * on failure, stops starting chunks, waits for those running and throws the first error. `missing` makes the
   * error for a chunk the index does not have.
   */
  async read(
    chunks: ChunkRef[],
    write: ChunkWriter,
    missing: (chunk: ChunkRef) => Error,
    signal?: AbortSignal,
  ): Promise<void> {
    const running = new Set<Promise<void>>();
    let failure: unknown;
    let offset = 0;
    for (const chunk of chunks) {
      while (running.size >= PER_OBJECT) await Promise.race(running);
      if (failure !== undefined || signal?.aborted) break;
      await this.#slots.acquire(1);
      const at = offset;
      offset += chunk.size;
      const task = this.#readOne(chunk, at, write, missing)
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => {
          this.#slots.release(1);
          running.delete(task);
        });
      running.add(task);
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure;
    signal?.throwIfAborted();
  }

  async #readOne(
    chunk: ChunkRef,
    offset: number,
    write: ChunkWriter,
    missing: (chunk: ChunkRef) => Error,
  ): Promise<void> {
    const buffer = this.#buffers.take();
    try {
      const data = await this.#blobs.readBlobInto(chunk.id, buffer, chunk.size);
      if (data === undefined) throw missing(chunk);
      if (data.length !== chunk.size) throw new Error(`chunk ${chunk.id.toString("hex")} has the wrong size`);
      await write(data, offset);
      // A chunk not read into the buffer (decompressed, say) came in a buffer of its own, made for this read:
      // free it now, not at the next garbage collection, which external memory triggers only every 64 MB or so.
      if (data.buffer !== buffer.buffer) release(data);
    } finally {
      this.#buffers.give(buffer);
    }
  }
}

/** Detaches a result's own ArrayBuffer (zlib's output may be a little longer than the data; it is still its own). */
function release(data: Buffer): void {
  const whole = data.buffer;
  if (data.byteOffset === 0 && whole instanceof ArrayBuffer && whole.byteLength >= 64 * 1024) whole.transfer(0);
}

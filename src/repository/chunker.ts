/**
 * Content-defined chunking with a gear rolling hash. A boundary falls after a byte where the top bits of the
 * hash are all zero; the hash only looks at the last 32 bytes, so the first minSize-32 bytes of a chunk are
 * skipped without hashing. The gear table is derived from the repository key, so boundaries (and thus chunk
 * sizes) reveal nothing comparable across repositories.
 */
import { createHmac } from "node:crypto";
import type { BufferPool } from "./buffer-pool.ts";
import type { ChunkerParams } from "./config.ts";

export function gearTable(macKey: Uint8Array): Int32Array {
  // Int32, not Uint32: values stay in the int32 range the optimizing compiler keeps in registers.
  const table = new Int32Array(256);
  const stream = Buffer.alloc(1024);
  for (let block = 0; block < 32; block++) {
    createHmac("sha256", macKey)
      .update(`skiff gear table ${block}`)
      .digest()
      .copy(stream, block * 32);
  }
  for (let i = 0; i < 256; i++) table[i] = stream.readInt32LE(i * 4);
  return table;
}

/** Mask of the top `bits` bits of a 32-bit hash. */
function topMask(bits: number): number {
  return 0xffffffff << (32 - bits);
}

/** A finished chunk: its bytes, and the pooled buffer holding them when it is a large chunk. */
export interface Chunk {
  data: Buffer;
  pooled: Buffer | undefined;
}

/**
 * Splits a stream into chunks. Bytes are copied as they arrive (the source may reuse its buffers): small
 * chunks into private copies, chunks that grow past `smallLimit` into a buffer from the pool, which the
 * consumer returns once the chunk is stored.
 */
export class Chunker {
  private readonly gear: Int32Array;
  private readonly minSize: number;
  private readonly maxSize: number;
  private readonly mask: number;
  private readonly pool: BufferPool;
  private readonly smallLimit: number;
  private small: Buffer[] = [];
  private big: Buffer | undefined;
  /** Bytes in the current (unfinished) chunk. */
  private length = 0;
  private hash = 0;

  constructor(gear: Int32Array, params: ChunkerParams, pool: BufferPool, smallLimit = 64 * 1024) {
    if (pool.size < params.maxSize) throw new Error("chunk buffers must hold the largest chunk");
    this.gear = gear;
    this.minSize = params.minSize;
    this.maxSize = params.maxSize;
    this.pool = pool;
    this.smallLimit = smallLimit;
    const spread = Math.max(1, params.avgSize - params.minSize);
    this.mask = topMask(Math.max(1, Math.round(Math.log2(spread))));
  }

  /** Whether the current chunk is empty: the next byte starts a chunk. */
  get atBoundary(): boolean {
    return this.length === 0;
  }

  /** Feeds bytes; returns the chunks they complete. */
  push(data: Uint8Array): Chunk[] {
    const out: Chunk[] = [];
    let pos = 0;
    while (pos < data.length) {
      const cut = this.scan(data, pos);
      if (cut < 0) {
        this.append(data.subarray(pos));
        return out;
      }
      this.append(data.subarray(pos, cut));
      out.push(this.take());
      pos = cut;
    }
    return out;
  }

  /**
   * Feeds bytes up to the first chunk boundary among them: returns how many it used and the chunk they completed,
   * if any. For callers that must act at each boundary before going on.
   */
  pushToBoundary(data: Uint8Array): { used: number; chunk: Chunk | undefined } {
    const cut = this.scan(data, 0);
    if (cut < 0) {
      this.append(data);
      return { used: data.length, chunk: undefined };
    }
    this.append(data.subarray(0, cut));
    return { used: cut, chunk: this.take() };
  }

  /**
   * The index in `data` just past the current chunk's boundary when it falls at or after `pos`, else -1 (the
   * rolling hash is then kept for the next bytes). A boundary depends only on the chunk's own bytes, never on where
   * the stream was split into pieces.
   */
  private scan(data: Uint8Array, pos: number): number {
    const gear = this.gear;
    const mask = this.mask;
    const hashFrom = this.minSize - 32;
    // Index in `data` where hashing starts, and where the chunk must end at the latest.
    let i = pos + Math.max(0, hashFrom - this.length);
    const limit = Math.min(data.length, pos + (this.maxSize - this.length));
    let h = this.hash;
    for (; i < limit; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & mask) === 0 && this.length + (i - pos) + 1 >= this.minSize) return i + 1;
    }
    if (limit - pos + this.length >= this.maxSize) return limit;
    this.hash = h;
    return -1;
  }

  /** The last, shorter chunk (empty when the stream was empty or ended on a boundary). */
  finish(): Chunk {
    return this.take();
  }

  /** Returns a pooled buffer still held (when the write is abandoned midway). */
  discard(): void {
    if (this.big !== undefined) this.pool.give(this.big);
    this.big = undefined;
    this.small = [];
    this.length = 0;
  }

  private append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.big === undefined && this.length + bytes.length <= this.smallLimit) {
      this.small.push(Buffer.from(bytes));
      this.length += bytes.length;
      return;
    }
    if (this.big === undefined) {
      const big = this.pool.take();
      let at = 0;
      for (const part of this.small) {
        big.set(part, at);
        at += part.length;
      }
      this.small = [];
      this.big = big;
    }
    this.big.set(bytes, this.length);
    this.length += bytes.length;
  }

  private take(): Chunk {
    let chunk: Chunk;
    if (this.big !== undefined) chunk = { data: this.big.subarray(0, this.length), pooled: this.big };
    else {
      const data = this.small.length === 1 ? this.small[0]! : Buffer.concat(this.small, this.length);
      chunk = { data, pooled: undefined };
    }
    this.small = [];
    this.big = undefined;
    this.length = 0;
    this.hash = 0;
    return chunk;
  }
}

/**
 * Content-defined chunking with a gear rolling hash. A boundary falls after a byte where the top bits of the
 * hash are all zero; the hash only looks at the last 32 bytes, so the first minSize-32 bytes of a chunk are
 * skipped without hashing. The gear table is derived from the repository key, so boundaries (and thus chunk
 * sizes) reveal nothing comparable across repositories.
 */
import { createHmac } from "node:crypto";
import type { ChunkerParams } from "./config.ts";

export function gearTable(macKey: Uint8Array): Uint32Array {
  const table = new Uint32Array(256);
  const stream = Buffer.alloc(1024);
  for (let block = 0; block < 32; block++) {
    createHmac("sha256", macKey)
      .update(`skiff gear table ${block}`)
      .digest()
      .copy(stream, block * 32);
  }
  for (let i = 0; i < 256; i++) table[i] = stream.readUInt32LE(i * 4);
  return table;
}

/** Mask of the top `bits` bits of a 32-bit hash. */
function topMask(bits: number): number {
  return (0xffffffff << (32 - bits)) >>> 0;
}

export class Chunker {
  private readonly gear: Uint32Array;
  private readonly minSize: number;
  private readonly maxSize: number;
  private readonly mask: number;
  private parts: Uint8Array[] = [];
  /** Bytes in the current (unfinished) chunk. */
  private length = 0;
  private hash = 0;

  constructor(gear: Uint32Array, params: ChunkerParams) {
    this.gear = gear;
    this.minSize = params.minSize;
    this.maxSize = params.maxSize;
    const spread = Math.max(1, params.avgSize - params.minSize);
    this.mask = topMask(Math.max(1, Math.round(Math.log2(spread))));
  }

  /** Feeds bytes; returns the chunks they complete (each a fresh, contiguous buffer). */
  push(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = 0;
    const gear = this.gear;
    const mask = this.mask;
    while (pos < data.length) {
      const hashFrom = this.minSize - 32;
      // Index in `data` where hashing starts, and where the chunk must end at the latest.
      let i = pos + Math.max(0, hashFrom - this.length);
      const limit = Math.min(data.length, pos + (this.maxSize - this.length));
      let h = this.hash;
      let cut = -1;
      for (; i < limit; i++) {
        h = ((h << 1) + gear[data[i]!]!) | 0;
        if ((h & mask) === 0 && this.length + (i - pos) + 1 >= this.minSize) {
          cut = i + 1;
          break;
        }
      }
      if (cut < 0 && limit - pos + this.length >= this.maxSize) cut = limit;
      if (cut < 0) {
        this.hash = h;
        this.parts.push(data.subarray(pos));
        this.length += data.length - pos;
        return out;
      }
      this.parts.push(data.subarray(pos, cut));
      this.length += cut - pos;
      out.push(this.take());
      pos = cut;
    }
    return out;
  }

  /** The last, shorter chunk (may be empty when the stream was empty or ended on a boundary). */
  finish(): Uint8Array {
    return this.take();
  }

  private take(): Uint8Array {
    const chunk = this.parts.length === 1 ? Buffer.from(this.parts[0]!) : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    this.hash = 0;
    return chunk;
  }
}

/**
 * The in-memory blob index: open-addressing hash tables in Uint32Arrays, 7 words (28 bytes) per slot: the 128-bit
 * blob id, the pack number, the offset and the stored length. No JS object per blob, so a million blobs cost
 * about 28 bytes / load factor (35-45 bytes) each and the garbage collector never sees them.
 * Pack number 0 marks an empty slot; real pack numbers start at 1.
 *
 * The ids are spread over 256 segments by their first byte, each a table of its own that grows alone: growing one
 * big table needs the old and the new array at once (a million blobs: 34 + 50 MB for a moment, and the old one
 * until the collector frees it), growing a segment a 256th of that. Slot numbers run through the segments in
 * order; they stay valid until the next insert.
 */

const STRIDE = 7;
/**
 * A segment grows at 80% load by 30%, so it runs between 62% and 80% full (linear probing at 80% still finds a
 * free slot within a few cache lines); a million blobs take ~39 MB.
 */
const MAX_LOAD = 0.8;
const GROWTH = 1.3;
const SEGMENTS = 256;

class Segment {
  words: Uint32Array;
  slots: number;
  count = 0;
  constructor(slots: number) {
    this.slots = slots;
    this.words = new Uint32Array(slots * STRIDE);
  }
}

/** The home slot of an id in a segment of `slots` slots (the first byte chose the segment, so it is left out). */
function home(b: number, c: number, slots: number): number {
  return ((b ^ (c >>> 7)) >>> 0) % slots;
}

export class IndexTable {
  private readonly segments: Segment[] = [];
  /** First global slot of each segment, and the total capacity at the end. */
  private readonly bases = new Float64Array(SEGMENTS + 1);
  private count = 0;
  /** The segment of the last slot looked up (slots are mostly visited in order), and its words. */
  private lastSegment = 0;
  private located: Uint32Array;

  constructor(initialCapacity = 1 << 12) {
    const perSegment = Math.max(16, Math.ceil(initialCapacity / SEGMENTS));
    for (let i = 0; i < SEGMENTS; i++) this.segments.push(new Segment(perSegment));
    this.located = this.segments[0]!.words;
    this.rebase(0);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.bases[SEGMENTS]!;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.words.byteLength;
    return bytes;
  }

  /** The slot holding `id`, or -1. */
  find(id: Uint8Array): number {
    const a = readWord(id, 0);
    const b = readWord(id, 4);
    const c = readWord(id, 8);
    const d = readWord(id, 12);
    const index = a & 0xff;
    const { words, slots } = this.segments[index]!;
    let slot = home(b, c, slots);
    for (;;) {
      const base = slot * STRIDE;
      if (words[base + 4] === 0) return -1;
      if (words[base] === a && words[base + 1] === b && words[base + 2] === c && words[base + 3] === d) {
        return this.bases[index]! + slot;
      }
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }

  /** Adds an entry unless the id is present; returns the slot and whether it was added. */
  insert(
    id: Uint8Array,
    pack: number,
    offset: number,
    length: number,
    /** Where the id starts in `id` (index files are read without slicing out every id). */
    at = 0,
  ): { slot: number; added: boolean } {
    if (pack <= 0) throw new Error("pack numbers start at 1");
    const a = readWord(id, at);
    const b = readWord(id, at + 4);
    const c = readWord(id, at + 8);
    const d = readWord(id, at + 12);
    const index = a & 0xff;
    let segment = this.segments[index]!;
    if ((segment.count + 1) / segment.slots > MAX_LOAD) {
      segment = this.grow(index);
    }
    const { words, slots } = segment;
    let slot = home(b, c, slots);
    for (;;) {
      const base = slot * STRIDE;
      if (words[base + 4] === 0) {
        words[base] = a;
        words[base + 1] = b;
        words[base + 2] = c;
        words[base + 3] = d;
        words[base + 4] = pack;
        words[base + 5] = offset;
        words[base + 6] = length;
        segment.count++;
        this.count++;
        return { slot: this.bases[index]! + slot, added: true };
      }
      if (words[base] === a && words[base + 1] === b && words[base + 2] === c && words[base + 3] === d) {
        return { slot: this.bases[index]! + slot, added: false };
      }
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }

  /** Moves an entry to another place (pack rewrite). */
  relocate(slot: number, pack: number, offset: number, length: number): void {
    const base = this.locate(slot);
    const words = this.located;
    words[base + 4] = pack;
    words[base + 5] = offset;
    words[base + 6] = length;
  }

  isUsed(slot: number): boolean {
    const base = this.locate(slot);
    const words = this.located;
    return words[base + 4] !== 0;
  }
  packOf(slot: number): number {
    const base = this.locate(slot);
    const words = this.located;
    return words[base + 4]!;
  }
  offsetOf(slot: number): number {
    const base = this.locate(slot);
    const words = this.located;
    return words[base + 5]!;
  }
  lengthOf(slot: number): number {
    const base = this.locate(slot);
    const words = this.located;
    return words[base + 6]!;
  }
  idOf(slot: number): Buffer {
    const out = Buffer.allocUnsafe(16);
    this.copyId(slot, out, 0);
    return out;
  }
  /** Copies the id into `target` at `at` without allocating. */
  copyId(slot: number, target: Buffer, at: number): void {
    const base = this.locate(slot);
    const words = this.located;
    for (let i = 0; i < 4; i++) target.writeUInt32LE(words[base + i]!, at + i * 4);
  }

  /** Points `located` at the segment's words of a global slot and returns the slot's word offset in them. */
  private locate(slot: number): number {
    const bases = this.bases;
    let index = this.lastSegment;
    if (!(slot >= bases[index]! && slot < bases[index + 1]!)) {
      if (!(slot >= 0 && slot < bases[SEGMENTS]!)) throw new RangeError(`slot ${slot} is outside the index table`);
      let lo = 0;
      let hi = SEGMENTS - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (bases[mid]! <= slot) lo = mid;
        else hi = mid - 1;
      }
      index = lo;
      this.lastSegment = index;
    }
    this.located = this.segments[index]!.words;
    return (slot - bases[index]!) * STRIDE;
  }

  private grow(index: number): Segment {
    const old = this.segments[index]!;
    const next = new Segment(Math.ceil(old.slots * GROWTH));
    const { words, slots } = next;
    for (let s = 0; s < old.slots; s++) {
      const base = s * STRIDE;
      if (old.words[base + 4] === 0) continue;
      let slot = home(old.words[base + 1]!, old.words[base + 2]!, slots);
      while (words[slot * STRIDE + 4] !== 0) slot = slot + 1 === slots ? 0 : slot + 1;
      words.set(old.words.subarray(base, base + STRIDE), slot * STRIDE);
    }
    next.count = old.count;
    this.segments[index] = next;
    this.rebase(index);
    return next;
  }

  /** Recomputes the first slots of the segments after `from`. */
  private rebase(from: number): void {
    for (let i = from; i < SEGMENTS; i++) this.bases[i + 1] = this.bases[i]! + this.segments[i]!.slots;
  }
}

function readWord(id: Uint8Array, at: number): number {
  return (id[at]! | (id[at + 1]! << 8) | (id[at + 2]! << 16) | (id[at + 3]! << 24)) >>> 0;
}

/** A bit per table slot, for marking (reachability, damage) without per-blob objects. */
export class SlotBits {
  private readonly bits: Uint32Array;
  constructor(capacity: number) {
    this.bits = new Uint32Array(Math.ceil(capacity / 32));
  }
  set(slot: number): void {
    this.bits[slot >>> 5]! |= 1 << (slot & 31);
  }
  has(slot: number): boolean {
    return (this.bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }
}

/** The used slots grouped by pack number (a counting sort): slots of pack p are slots[start[p]..start[p+1]). */
export function slotsByPack(table: IndexTable, packCount: number): { start: Uint32Array; slots: Uint32Array } {
  const start = new Uint32Array(packCount + 1);
  for (let slot = 0; slot < table.capacity; slot++) if (table.isUsed(slot)) start[table.packOf(slot)]!++;
  let sum = 0;
  for (let p = 0; p < packCount; p++) {
    const n = start[p]!;
    start[p] = sum;
    sum += n;
  }
  start[packCount] = sum;
  const fill = start.slice(0, packCount);
  const slots = new Uint32Array(sum);
  for (let slot = 0; slot < table.capacity; slot++) if (table.isUsed(slot)) slots[fill[table.packOf(slot)]!++] = slot;
  return { start, slots };
}

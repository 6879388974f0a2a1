/**
 * The in-memory blob index: an open-addressing hash table in one Uint32Array, 7 words (28 bytes) per slot:
 * the 128-bit blob id, the pack number, the offset and the stored length. No JS object per blob, so a million
 * blobs cost about 28 bytes / load factor (37-56 bytes) each and the garbage collector never sees them.
 * Pack number 0 marks an empty slot; real pack numbers start at 1.
 */

const STRIDE = 7;
const MAX_LOAD = 0.75;
/** Growing by half (not doubling) keeps the table, and the copy made while growing, smaller. */
const GROWTH = 1.5;

export class IndexTable {
  private words: Uint32Array;
  private slots: number;
  private count = 0;

  constructor(initialCapacity = 1 << 12) {
    this.slots = Math.max(16, Math.ceil(initialCapacity));
    this.words = new Uint32Array(this.slots * STRIDE);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.slots;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.words.byteLength;
  }

  /** The slot holding `id`, or -1. */
  find(id: Uint8Array): number {
    const a = readWord(id, 0);
    const b = readWord(id, 4);
    const c = readWord(id, 8);
    const d = readWord(id, 12);
    const words = this.words;
    const slots = this.slots;
    let slot = ((a ^ (b >>> 7)) >>> 0) % slots;
    for (;;) {
      const base = slot * STRIDE;
      if (words[base + 4] === 0) return -1;
      if (words[base] === a && words[base + 1] === b && words[base + 2] === c && words[base + 3] === d) return slot;
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
    if ((this.count + 1) / this.capacity > MAX_LOAD) this.grow();
    const a = readWord(id, at);
    const b = readWord(id, at + 4);
    const c = readWord(id, at + 8);
    const d = readWord(id, at + 12);
    const words = this.words;
    const slots = this.slots;
    let slot = ((a ^ (b >>> 7)) >>> 0) % slots;
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
        this.count++;
        return { slot, added: true };
      }
      if (words[base] === a && words[base + 1] === b && words[base + 2] === c && words[base + 3] === d) {
        return { slot, added: false };
      }
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }

  /** Moves an entry to another place (pack rewrite). */
  relocate(slot: number, pack: number, offset: number, length: number): void {
    const base = slot * STRIDE;
    this.words[base + 4] = pack;
    this.words[base + 5] = offset;
    this.words[base + 6] = length;
  }

  isUsed(slot: number): boolean {
    return this.words[slot * STRIDE + 4] !== 0;
  }
  packOf(slot: number): number {
    return this.words[slot * STRIDE + 4]!;
  }
  offsetOf(slot: number): number {
    return this.words[slot * STRIDE + 5]!;
  }
  lengthOf(slot: number): number {
    return this.words[slot * STRIDE + 6]!;
  }
  idOf(slot: number): Buffer {
    const base = slot * STRIDE;
    const out = Buffer.allocUnsafe(16);
    for (let i = 0; i < 4; i++) out.writeUInt32LE(this.words[base + i]!, i * 4);
    return out;
  }
  /** Copies the id into `target` at `at` without allocating. */
  copyId(slot: number, target: Buffer, at: number): void {
    const base = slot * STRIDE;
    for (let i = 0; i < 4; i++) target.writeUInt32LE(this.words[base + i]!, at + i * 4);
  }

  private grow(): void {
    const old = this.words;
    const oldSlots = this.slots;
    const slots = Math.ceil(oldSlots * GROWTH);
    const words = new Uint32Array(slots * STRIDE);
    for (let s = 0; s < oldSlots; s++) {
      const base = s * STRIDE;
      if (old[base + 4] === 0) continue;
      let slot = ((old[base]! ^ (old[base + 1]! >>> 7)) >>> 0) % slots;
      while (words[slot * STRIDE + 4] !== 0) slot = slot + 1 === slots ? 0 : slot + 1;
      words.set(old.subarray(base, base + STRIDE), slot * STRIDE);
    }
    this.words = words;
    this.slots = slots;
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

/**
 * Binary layouts of pack files and index files (see docs/repository-format.md).
 *
 * Pack: blob records back to back, then the sealed trailer (the pack's own index: id, offset, length per
 * blob), then 8 bytes: trailer length (u32 LE) and the magic "SKP1". The trailer lets verify and repair
 * check a pack without any index file.
 *
 * Index file: sealed; plaintext "SKX1", pack count (u32), entry count (u32), the packs (16-byte id + kind
 * byte), then the entries sorted by blob id: id (16), pack number within this file (u32), offset (u32),
 * length (u32).
 */
import { randomBytes } from "node:crypto";
import { openFile, type RepositoryKeys, sealFile } from "./crypto.ts";

export type PackKind = "d" | "m";
export const PACK_MAGIC = "SKP1";
const INDEX_MAGIC = "SKX1";
const TRAILER_ENTRY = 24;
const INDEX_ENTRY = 28;

export function newPackId(): string {
  return randomBytes(16).toString("hex");
}

export function packKey(kind: PackKind, id: string): string {
  return `packs/${kind}/${id}`;
}

export function parsePackKey(key: string): { kind: PackKind; id: string } | undefined {
  const m = /^packs\/([dm])\/([0-9a-f]{32})$/.exec(key);
  return m ? { kind: m[1] as PackKind, id: m[2]! } : undefined;
}

export interface PackEntry {
  id: Buffer;
  offset: number;
  length: number;
}

/**
 * The entries of a pack being built, 24 bytes each in trailer layout (id, offset, length): no object per blob,
 * so a pack of a hundred thousand small files costs the garbage collector nothing.
 */
export class TrailerEntries {
  private buf = Buffer.allocUnsafe(4 + 1024 * TRAILER_ENTRY);
  count = 0;

  push(id: Uint8Array, offset: number, length: number): void {
    const at = 4 + this.count * TRAILER_ENTRY;
    if (at + TRAILER_ENTRY > this.buf.length) {
      const next = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    this.buf.set(id, at);
    this.buf.writeUInt32LE(offset, at + 16);
    this.buf.writeUInt32LE(length, at + 20);
    this.count++;
  }

  /** The trailer plaintext: count, then the entries. */
  plaintext(): Buffer {
    this.buf.writeUInt32LE(this.count, 0);
    return this.buf.subarray(0, 4 + this.count * TRAILER_ENTRY);
  }
}

export function encodeTrailer(keys: RepositoryKeys, packId: string, entries: TrailerEntries): Buffer {
  const sealed = sealFile(keys, `pack-trailer:${packId}`, entries.plaintext());
  const tail = Buffer.allocUnsafe(8);
  tail.writeUInt32LE(sealed.length, 0);
  tail.write(PACK_MAGIC, 4, "latin1");
  return Buffer.concat([sealed, tail]);
}

/** The bytes after a pack's sealed trailer: its length (u32 LE) and the magic. */
export const PACK_TAIL_BYTES = 8;

/** The sealed trailer's length, from a pack's last PACK_TAIL_BYTES of `packSize`. Throws naming the pack. */
export function trailerLength(packId: string, tail: Uint8Array, packSize: number): number {
  const buf = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  if (buf.length !== PACK_TAIL_BYTES || buf.toString("latin1", 4) !== PACK_MAGIC) {
    throw new Error(`pack ${packId} has no trailer (truncated or not a pack)`);
  }
  const sealedLength = buf.readUInt32LE(0);
  if (sealedLength + PACK_TAIL_BYTES > packSize) throw new Error(`pack ${packId} has a trailer longer than the pack`);
  return sealedLength;
}

/**
 * Opens a pack's sealed trailer. `recordsEnd` is where the trailer starts: every entry must lie before it.
 * Throws naming the pack when the trailer was altered or does not fit the pack.
 */
export function openTrailer(keys: RepositoryKeys, packId: string, sealed: Uint8Array, recordsEnd: number): PackEntry[] {
  const plain = openFile(keys, `pack-trailer:${packId}`, sealed, `trailer of pack ${packId}`);
  const count = plain.length >= 4 ? plain.readUInt32LE(0) : -1;
  if (plain.length !== 4 + count * TRAILER_ENTRY) throw new Error(`trailer of pack ${packId} has a bad length`);
  const entries: PackEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 4 + i * TRAILER_ENTRY;
    const entry = {
      id: Buffer.from(plain.subarray(at, at + 16)),
      offset: plain.readUInt32LE(at + 16),
      length: plain.readUInt32LE(at + 20),
    };
    if (entry.offset + entry.length > recordsEnd) {
      throw new Error(`trailer of pack ${packId} names a record past the pack's records`);
    }
    entries.push(entry);
  }
  return entries;
}

/** Reads the trailer of a complete pack. Throws naming the pack when it is truncated or altered. */
export function decodeTrailer(keys: RepositoryKeys, packId: string, pack: Uint8Array): PackEntry[] {
  const buf = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength);
  if (buf.length < PACK_TAIL_BYTES) throw new Error(`pack ${packId} has no trailer (truncated or not a pack)`);
  const sealedLength = trailerLength(packId, buf.subarray(buf.length - PACK_TAIL_BYTES), buf.length);
  const recordsEnd = buf.length - PACK_TAIL_BYTES - sealedLength;
  return openTrailer(keys, packId, buf.subarray(recordsEnd, buf.length - PACK_TAIL_BYTES), recordsEnd);
}

export interface IndexFilePack {
  id: string;
  kind: PackKind;
}

export interface IndexFileContents {
  packs: IndexFilePack[];
  /** entryCount * 28 bytes, sorted by id: id16, pack (index into packs), offset, length. */
  entries: Buffer;
  entryCount: number;
}

/** Encodes entries (already 28-byte records with pack numbers into `packs`), sorting them by id. */
export function encodeIndexFile(keys: RepositoryKeys, name: string, packs: IndexFilePack[], entries: Buffer): Buffer {
  const count = entries.length / INDEX_ENTRY;
  // Sort by the first four id bytes held in a typed array (no allocation per comparison); full ids break ties.
  const order = new Uint32Array(count);
  const prefix = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    order[i] = i;
    prefix[i] = entries.readUInt32BE(i * INDEX_ENTRY);
  }
  order.sort((x, y) => prefix[x]! - prefix[y]! || Buffer.compare(entryId(entries, x), entryId(entries, y)));
  const header = 12 + packs.length * 17;
  const plain = Buffer.allocUnsafe(header + entries.length);
  plain.write(INDEX_MAGIC, 0, "latin1");
  plain.writeUInt32LE(packs.length, 4);
  plain.writeUInt32LE(count, 8);
  packs.forEach((p, i) => {
    Buffer.from(p.id, "hex").copy(plain, 12 + i * 17);
    plain[12 + i * 17 + 16] = p.kind === "d" ? 0 : 1;
  });
  for (let i = 0; i < count; i++) {
    entries.copy(plain, header + i * INDEX_ENTRY, order[i]! * INDEX_ENTRY, (order[i]! + 1) * INDEX_ENTRY);
  }
  return sealFile(keys, `index:${name}`, plain);
}

function entryId(entries: Buffer, i: number): Buffer {
  return entries.subarray(i * INDEX_ENTRY, i * INDEX_ENTRY + 16);
}

export function decodeIndexFile(keys: RepositoryKeys, name: string, sealed: Uint8Array): IndexFileContents {
  const plain = openFile(keys, `index:${name}`, sealed, `index file ${name}`);
  if (plain.length < 12 || plain.toString("latin1", 0, 4) !== INDEX_MAGIC) {
    throw new Error(`index file ${name} has an unknown layout`);
  }
  const packCount = plain.readUInt32LE(4);
  const entryCount = plain.readUInt32LE(8);
  const header = 12 + packCount * 17;
  if (plain.length !== header + entryCount * INDEX_ENTRY) throw new Error(`index file ${name} has a bad length`);
  const packs: IndexFilePack[] = [];
  for (let i = 0; i < packCount; i++) {
    const at = 12 + i * 17;
    packs.push({ id: plain.toString("hex", at, at + 16), kind: plain[at + 16] === 0 ? "d" : "m" });
  }
  return { packs, entries: plain.subarray(header), entryCount };
}

export const INDEX_ENTRY_BYTES = INDEX_ENTRY;

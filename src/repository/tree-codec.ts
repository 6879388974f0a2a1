/**
 * Compact binary encodings of the repository's metadata blobs: directory trees (TreeEntry lists), chunk lists
 * of large objects, and object ids. Encodings are canonical (the same entries give the same bytes), which is
 * what makes identical trees share one id.
 */
import type { EntryType, ObjectRef, TreeEntry } from "./types.ts";

const TREE_VERSION = 1;
/** Chunk lists: version 1 holds ids and sizes; version 2 also each chunk's fingerprint (crypto.chunkFingerprint). */
const CHUNK_LIST_VERSION = 1;
const CHUNK_LIST_WITH_FINGERPRINTS = 2;
const TYPES: EntryType[] = ["file", "dir", "symlink", "block-device", "char-device", "fifo", "socket"];

/** An object id names one blob (a single-chunk object) or a chunk list ("l" + hex). */
export interface ParsedObjectId {
  list: boolean;
  blob: Buffer;
}

export function formatObjectId(list: boolean, blob: Uint8Array): string {
  return (list ? "l" : "") + Buffer.from(blob).toString("hex");
}

export function parseObjectId(id: string): ParsedObjectId {
  const list = id.startsWith("l");
  const hex = list ? id.slice(1) : id;
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`'${id}' is not a valid object id`);
  return { list, blob: Buffer.from(hex, "hex") };
}

export function parseTreeId(id: string): Buffer {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`'${id}' is not a valid tree id`);
  return Buffer.from(id, "hex");
}

class Writer {
  private buf = Buffer.allocUnsafe(4096);
  private pos = 0;
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  uint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`cannot encode ${value} as an unsigned integer`);
    this.room(8);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }
  bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  string(value: string): void {
    // Most strings here are short ASCII (decimal numbers, names): written byte by byte, without a Buffer each.
    if (value.length < 0x80 && isAscii(value)) {
      this.room(1 + value.length);
      this.buf[this.pos++] = value.length;
      for (let i = 0; i < value.length; i++) this.buf[this.pos++] = value.charCodeAt(i);
      return;
    }
    const data = Buffer.from(value, "utf8");
    this.uint(data.length);
    this.bytes(data);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * Order of two names by their UTF-8 bytes. UTF-16 code unit order is the same unless a surrogate meets a code
 * unit in U+E000..U+FFFF, so only names with such characters are encoded to compare.
 */
function compareUtf8(a: string, b: string): number {
  if (!hasHighUnits(a) && !hasHighUnits(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function hasHighUnits(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0xd800) return true;
  return false;
}

class Reader {
  private pos = 0;
  private readonly buf: Buffer;
  private readonly what: string;
  constructor(buf: Buffer, what: string) {
    this.buf = buf;
    this.what = what;
  }
  uint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error(`${this.what} is truncated`);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new Error(`${this.what} holds an oversized number`);
    }
  }
  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error(`${this.what} is truncated`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  string(): string {
    return this.bytes(this.uint()).toString("utf8");
  }
  get atEnd(): boolean {
    return this.pos === this.buf.length;
  }
}

const F_CONTENT = 1;
const F_SUBTREE = 2;
const F_LINK = 4;
const F_HARDLINK = 8;
const F_RDEV = 16;
const F_INODE = 32;
const F_CTIME = 64;

function writeRef(w: Writer, ref: ObjectRef): void {
  const parsed = parseObjectId(ref.id);
  w.uint(parsed.list ? 1 : 0);
  w.bytes(parsed.blob);
  w.uint(ref.size);
}

function readRef(r: Reader): ObjectRef {
  const list = r.uint() === 1;
  return { id: formatObjectId(list, r.bytes(16)), size: r.uint() };
}

/** Checks order and encodes. Throws naming the first offending entry. */
export function encodeTree(entries: TreeEntry[]): Buffer {
  const w = new Writer();
  w.uint(TREE_VERSION);
  w.uint(entries.length);
  let previous: string | undefined;
  for (const e of entries) {
    if (e.name === "" || e.name.includes("/") || e.name === "." || e.name === "..") {
      throw new Error(`invalid tree entry name '${e.name}'`);
    }
    if (previous !== undefined && compareUtf8(previous, e.name) >= 0) {
      throw new Error(`tree entries must be sorted by name without duplicates: '${e.name}' is out of order`);
    }
    previous = e.name;
    const type = TYPES.indexOf(e.type);
    if (type < 0) throw new Error(`tree entry '${e.name}' has unknown type '${e.type}'`);
    if (!/^-?\d+$/.test(e.mtimeNs)) throw new Error(`tree entry '${e.name}' has invalid mtimeNs '${e.mtimeNs}'`);
    let flags = 0;
    if (e.content !== undefined) flags |= F_CONTENT;
    if (e.subtree !== undefined) flags |= F_SUBTREE;
    if (e.linkTarget !== undefined) flags |= F_LINK;
    if (e.hardLinkGroup !== undefined) flags |= F_HARDLINK;
    if (e.rdev !== undefined) flags |= F_RDEV;
    if (e.inode !== undefined) flags |= F_INODE;
    if (e.ctimeNs !== undefined) flags |= F_CTIME;
    w.string(e.name);
    w.uint(type);
    w.uint(flags);
    w.uint(e.mode);
    w.uint(e.uid);
    w.uint(e.gid);
    w.string(e.mtimeNs);
    w.uint(e.size);
    if (e.content !== undefined) writeRef(w, e.content);
    if (e.subtree !== undefined) w.bytes(parseTreeId(e.subtree));
    if (e.linkTarget !== undefined) w.string(e.linkTarget);
    if (e.hardLinkGroup !== undefined) w.string(e.hardLinkGroup);
    if (e.rdev !== undefined) w.uint(e.rdev);
    if (e.inode !== undefined) w.string(e.inode);
    if (e.ctimeNs !== undefined) w.string(e.ctimeNs);
  }
  return w.done();
}

export function decodeTree(data: Buffer, id: string): TreeEntry[] {
  const r = new Reader(data, `tree ${id}`);
  const version = r.uint();
  if (version !== TREE_VERSION) throw new Error(`tree ${id} has unknown encoding version ${version}`);
  const count = r.uint();
  const entries: TreeEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.string();
    const type = TYPES[r.uint()];
    if (type === undefined) throw new Error(`tree ${id} entry '${name}' has an unknown type`);
    const flags = r.uint();
    const e: TreeEntry = { name, type, mode: r.uint(), uid: r.uint(), gid: r.uint(), mtimeNs: r.string(), size: 0 };
    e.size = r.uint();
    if (flags & F_CONTENT) e.content = readRef(r);
    if (flags & F_SUBTREE) e.subtree = r.bytes(16).toString("hex");
    if (flags & F_LINK) e.linkTarget = r.string();
    if (flags & F_HARDLINK) e.hardLinkGroup = r.string();
    if (flags & F_RDEV) e.rdev = r.uint();
    if (flags & F_INODE) e.inode = r.string();
    if (flags & F_CTIME) e.ctimeNs = r.string();
    entries.push(e);
  }
  if (!r.atEnd) throw new Error(`tree ${id} has trailing bytes`);
  return entries;
}

export interface ChunkRef {
  id: Buffer;
  size: number;
  /** 16 bytes (crypto.chunkFingerprint); in lists written since version 2 of the encoding. */
  fingerprint?: Buffer | undefined;
}

/** Version 2 (with fingerprints) when every chunk has one, version 1 otherwise. */
export function encodeChunkList(chunks: ChunkRef[]): Buffer {
  const withFingerprints = chunks.length > 0 && chunks.every((c) => c.fingerprint?.length === 16);
  const w = new Writer();
  w.uint(withFingerprints ? CHUNK_LIST_WITH_FINGERPRINTS : CHUNK_LIST_VERSION);
  w.uint(chunks.length);
  for (const c of chunks) {
    w.bytes(c.id);
    w.uint(c.size);
    if (withFingerprints) w.bytes(c.fingerprint!);
  }
  return w.done();
}

export function decodeChunkList(data: Buffer, id: string): ChunkRef[] {
  const r = new Reader(data, `chunk list ${id}`);
  const version = r.uint();
  if (version !== CHUNK_LIST_VERSION && version !== CHUNK_LIST_WITH_FINGERPRINTS) {
    throw new Error(`chunk list ${id} has unknown encoding version ${version}`);
  }
  const count = r.uint();
  const chunks: ChunkRef[] = [];
  for (let i = 0; i < count; i++) {
    const chunk: ChunkRef = { id: Buffer.from(r.bytes(16)), size: r.uint() };
    if (version === CHUNK_LIST_WITH_FINGERPRINTS) chunk.fingerprint = Buffer.from(r.bytes(16));
    chunks.push(chunk);
  }
  if (!r.atEnd) throw new Error(`chunk list ${id} has trailing bytes`);
  return chunks;
}

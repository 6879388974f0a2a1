/**
 * Deterministic data sets for the data mover benchmark. Every byte is a function of (seed, file, position), so
 * the same flags always give the same data, and a modified region can be put back exactly.
 *
 * - large: a few big files of 1 MiB segments, half random (incompressible) and half word-like text
 *   (compresses ~3x), with some segments repeated across files so deduplication has something to find;
 * - small: many files of 0.5-16 KiB (log-uniform), nested two folders deep;
 * - the 1% change: a few rewritten regions inside the large files plus one new file.
 */
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

const MiB = 1024 * 1024;
const SEGMENT = MiB;
const GENERATOR_VERSION = 1;

/** A keystream from AES-256-CTR keyed by a label: fast (GB/s), deterministic and addressable. */
function keystream(label: string, length: number): Buffer {
  const key = createHash("sha256").update(`skiff-bench/${GENERATOR_VERSION}/${label}`).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

const words = (
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they " +
  "you were her she there been one all we their has would when if so no will more out up into do any your what " +
  "volume backup snapshot restore cluster node pod storage chunk index pack repository"
).split(" ");

/** Word-like text from a keystream: one byte picks a word, so it compresses like prose or logs. */
function textFrom(random: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (let i = 0; at < length; i = (i + 1) % random.length) {
    const byte = random[i]!;
    const word = words[byte % words.length]!;
    const written = out.write(word, at, "latin1");
    at += written;
    if (at < length) out[at++] = byte > 240 ? 10 : 32;
  }
  return out;
}

/** Bytes for one labelled block: random or text by a deterministic coin. */
function block(label: string, length: number, kind: "random" | "text"): Buffer {
  const random = keystream(label, kind === "random" ? length : Math.max(1024, Math.ceil(length / 4)));
  return kind === "random" ? random : textFrom(random, length);
}

export interface LargeSpec {
  seed: string;
  totalBytes: number;
}

/** File sizes for the large set: eight files in fixed proportions (sum = total, whole segments). */
export function largeFiles(spec: LargeSpec): Array<{ path: string; size: number }> {
  const shares = [0.25, 0.1875, 0.15625, 0.125, 0.125, 0.09375, 0.03125, 0.03125];
  const segments = Math.max(shares.length, Math.floor(spec.totalBytes / SEGMENT));
  const sizes = shares.map((s) => Math.max(1, Math.floor(s * segments)));
  sizes[0]! += segments - sizes.reduce((a, b) => a + b, 0);
  return sizes.map((n, i) => ({ path: `volume-${i}/file-${i}.bin`, size: n * SEGMENT }));
}

/** The content of segment `index` of a large file; about one in ten repeats an earlier segment elsewhere. */
export function largeSegment(seed: string, fileIndex: number, index: number): Buffer {
  const coin = keystream(`${seed}/coin/${fileIndex}/${index}`, 2);
  if (fileIndex > 0 && coin[0]! < 26) {
    return largeSegment(seed, 0, (coin[1]! * 7 + index) % 64);
  }
  return block(`${seed}/large/${fileIndex}/${index}`, SEGMENT, coin[1]! < 128 ? "random" : "text");
}

async function writeLargeFile(root: string, seed: string, fileIndex: number, path: string, size: number) {
  const full = join(root, path);
  await mkdir(dirname(full), { recursive: true });
  const handle = await open(full, "w");
  try {
    for (let i = 0; i < size / SEGMENT; i++) await handle.write(largeSegment(seed, fileIndex, i));
  } finally {
    await handle.close();
  }
}

export interface SmallSpec {
  seed: string;
  files: number;
}

/** Path and size of small file i: log-uniform 512 B - 16 KiB, 100 files per folder, 100 folders per parent. */
export function smallFile(seed: string, i: number): { path: string; size: number; kind: "random" | "text" } {
  const r = keystream(`${seed}/small-size/${i}`, 4);
  const u = r.readUInt32LE(0) / 2 ** 32;
  const size = Math.round(512 * 32 ** u);
  const folder = Math.floor(i / 100);
  const path = `d${String(Math.floor(folder / 100)).padStart(3, "0")}/s${String(folder % 100).padStart(2, "0")}/f${String(i).padStart(7, "0")}.dat`;
  return { path, size, kind: r[3]! < 128 ? "random" : "text" };
}

export interface DatasetInfo {
  dir: string;
  files: number;
  bytes: number;
}

interface Marker {
  version: number;
  kind: string;
  spec: unknown;
  files: number;
  bytes: number;
  modified?: boolean;
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "..", `${dir.split("/").pop()}.json`), "utf8")) as Marker;
  } catch {
    return undefined;
  }
}

async function writeMarker(dir: string, marker: Marker): Promise<void> {
  await writeFile(join(dir, "..", `${dir.split("/").pop()}.json`), `${JSON.stringify(marker)}\n`);
}

function sameSpec(marker: Marker | undefined, kind: string, spec: unknown): marker is Marker {
  return (
    marker?.version === GENERATOR_VERSION &&
    marker.kind === kind &&
    JSON.stringify(marker.spec) === JSON.stringify(spec)
  );
}

/** Generates the large set unless an identical one is already there; undoes a previous run's 1% change. */
export async function ensureLarge(dir: string, spec: LargeSpec, log: (line: string) => void): Promise<DatasetInfo> {
  const files = largeFiles(spec);
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  const marker = await readMarker(dir);
  if (sameSpec(marker, "large", spec)) {
    if (marker.modified) {
      log(`restoring ${dir} to its generated state`);
      await revertChange(dir, spec);
      await writeMarker(dir, { ...marker, modified: false });
    }
    return { dir, files: files.length, bytes };
  }
  log(`generating ${(bytes / MiB).toFixed(0)} MiB in ${files.length} large files under ${dir}`);
  await rm(dir, { recursive: true, force: true });
  for (const [i, f] of files.entries()) await writeLargeFile(dir, spec.seed, i, f.path, f.size);
  await writeMarker(dir, { version: GENERATOR_VERSION, kind: "large", spec, files: files.length, bytes });
  return { dir, files: files.length, bytes };
}

export async function ensureSmall(dir: string, spec: SmallSpec, log: (line: string) => void): Promise<DatasetInfo> {
  const marker = await readMarker(dir);
  if (sameSpec(marker, "small", spec)) return { dir, files: marker.files, bytes: marker.bytes };
  log(`generating ${spec.files.toLocaleString("en")} small files under ${dir}`);
  await rm(dir, { recursive: true, force: true });
  let bytes = 0;
  let madeFolder = "";
  for (let i = 0; i < spec.files; i++) {
    const f = smallFile(spec.seed, i);
    const full = join(dir, f.path);
    const folder = dirname(full);
    if (folder !== madeFolder) {
      await mkdir(folder, { recursive: true });
      madeFolder = folder;
    }
    await writeFile(full, block(`${spec.seed}/small/${i}`, f.size, f.kind));
    bytes += f.size;
    if (i > 0 && i % 100_000 === 0) log(`  ${i.toLocaleString("en")} files`);
  }
  await writeMarker(dir, { version: GENERATOR_VERSION, kind: "small", spec, files: spec.files, bytes });
  return { dir, files: spec.files, bytes };
}

/** The 1% change: regions rewritten in place (same size) across several files, plus one new file. */
export function changePlan(spec: LargeSpec): {
  regions: Array<{ fileIndex: number; path: string; offset: number; length: number }>;
  newFile: { path: string; size: number };
  bytes: number;
} {
  const files = largeFiles(spec);
  const budget = Math.floor(spec.totalBytes * 0.01);
  const regionLength = Math.max(64 * 1024, Math.floor(budget / 2 / 5 / 4096) * 4096);
  const regions = [0, 1, 2, 4, 6].map((fileIndex, n) => {
    const f = files[fileIndex]!;
    // Spread over the file and off segment boundaries, as real edits are.
    const offset = Math.min(f.size - regionLength, Math.floor(((n + 1) * f.size) / 7) + 12_345);
    return { fileIndex, path: f.path, offset, length: regionLength };
  });
  const newFile = { path: "volume-new/added.bin", size: budget - regionLength * regions.length };
  return { regions, newFile, bytes: budget };
}

export async function applyChange(dir: string, spec: LargeSpec): Promise<number> {
  const plan = changePlan(spec);
  for (const [n, region] of plan.regions.entries()) {
    const handle = await open(join(dir, region.path), "r+");
    try {
      await handle.write(
        block(`${spec.seed}/change/${n}`, region.length, n % 2 ? "text" : "random"),
        0,
        region.length,
        region.offset,
      );
    } finally {
      await handle.close();
    }
  }
  await mkdir(dirname(join(dir, plan.newFile.path)), { recursive: true });
  await writeFile(join(dir, plan.newFile.path), block(`${spec.seed}/change/new`, plan.newFile.size, "random"));
  const marker = await readMarker(dir);
  if (marker) await writeMarker(dir, { ...marker, modified: true });
  return plan.bytes;
}

/** Puts the changed regions back from the generator and removes the new file. */
async function revertChange(dir: string, spec: LargeSpec): Promise<void> {
  const plan = changePlan(spec);
  for (const region of plan.regions) {
    const handle = await open(join(dir, region.path), "r+");
    try {
      const first = Math.floor(region.offset / SEGMENT);
      const last = Math.floor((region.offset + region.length - 1) / SEGMENT);
      for (let s = first; s <= last; s++)
        await handle.write(largeSegment(spec.seed, region.fileIndex, s), 0, SEGMENT, s * SEGMENT);
    } finally {
      await handle.close();
    }
  }
  await rm(join(dir, dirname(plan.newFile.path)), { recursive: true, force: true });
}

/** Total size of the files under dir (apparent sizes), for repository sizes. */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

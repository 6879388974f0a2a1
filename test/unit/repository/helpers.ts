/** Small repositories for the repository tests: tiny chunks and packs, cheap key derivation, temp dirs. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import type { ObjectStore } from "../../../src/objectstore/types.ts";
import { type InitOptions, initRepository, type RepositoryOptions } from "../../../src/repository/open.ts";
import type { SkiffRepository } from "../../../src/repository/repository.ts";
import type { ObjectRef, SnapshotManifest, TreeEntry } from "../../../src/repository/types.ts";

export const PASSWORD = "correct horse battery staple";
export const SMALL: InitOptions = {
  chunker: { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 },
  packSize: 512 * 1024,
  kdf: { N: 1024, r: 8, p: 1 },
};
export const FAST: RepositoryOptions = { workers: 1, lockSettleMs: 0, lockWaitMs: 0 };

/**
 * Temp dirs are removed once the whole file is done, not in a test's own after hook: hooks run in the order they
 * were registered, so a repository a test opens later (and closes in a later hook) would otherwise flush its packs
 * into a directory already removed, creating it again.
 */
const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

export async function tempDir(_t?: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "skiff-repo-test-"));
  tempDirs.push(dir);
  return dir;
}

export async function newRepository(
  t: { after(fn: () => Promise<void>): void },
  options: RepositoryOptions & InitOptions = {},
): Promise<{ repo: SkiffRepository; store: ObjectStore; dir: string }> {
  const dir = await tempDir();
  const store = await openFilesystemStore(join(dir, "repo"), { create: true });
  const repo = await initRepository(store, PASSWORD, { ...SMALL, ...FAST, ...options });
  t.after(() => repo.close());
  return { repo, store, dir };
}

export async function* streamOf(data: Uint8Array, piece = 100_000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += piece) yield data.subarray(i, Math.min(data.length, i + piece));
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

/** Compressible but not trivially repetitive bytes. */
export function textLike(size: number, seed = 1): Buffer {
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
  const out = Buffer.alloc(size);
  let x = seed;
  let at = 0;
  while (at < size) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    at += out.write(`${words[x % words.length]} ${x % 1000}\n`, at);
  }
  return out;
}

export const random = (n: number) => randomBytes(n);

/** A regular file entry (mode 0644, root-owned) holding `content`. */
export const fileEntry = (name: string, content: ObjectRef): TreeEntry => ({
  name,
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtimeNs: "1",
  size: content.size,
  content,
});

export function manifest(extra: Partial<Omit<SnapshotManifest, "id">> = {}): Omit<SnapshotManifest, "id"> {
  return {
    startTime: new Date().toISOString(),
    endTime: new Date().toISOString(),
    hostname: "test",
    source: { path: "/data", volumeMode: "Filesystem" },
    tags: {},
    stats: { files: 0, dirs: 0, bytes: 0, bytesRead: 0, bytesStored: 0, errors: 0 },
    ...extra,
  };
}

export async function storedBytes(store: ObjectStore, prefix = ""): Promise<number> {
  let total = 0;
  for await (const info of store.list(prefix)) total += info.size;
  return total;
}

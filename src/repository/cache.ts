/**
 * The local cache of immutable repository objects (index files and metadata packs), stored exactly as they are
 * in the object store (so still encrypted). The size limit is hard: least recently used files are evicted
 * before a new one is written, and an object larger than the whole limit is simply not cached. A miss, or a
 * cache file that cannot be read, just means reading from the store again.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface CacheStats {
  bytes: number;
  files: number;
  limitBytes: number;
}

export class BoundedCache {
  private readonly dir: string;
  private readonly limit: number;
  /** key -> size, in least-recently-used-first order (a Map keeps insertion order). */
  private readonly entries = new Map<string, number>();
  private total = 0;

  private constructor(dir: string, limitBytes: number) {
    this.dir = dir;
    this.limit = limitBytes;
  }

  /** Opens (creating) the cache directory and adopts the files already there, oldest use first. */
  static async open(dir: string, limitBytes: number): Promise<BoundedCache> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const cache = new BoundedCache(dir, limitBytes);
    const found: { key: string; size: number; used: number }[] = [];
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (name.startsWith(".tmp-")) {
        await unlink(path).catch(() => {});
        continue;
      }
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile()) found.push({ key: name, size: info.size, used: info.mtimeMs });
    }
    found.sort((a, b) => a.used - b.used);
    for (const f of found) {
      cache.entries.set(f.key, f.size);
      cache.total += f.size;
    }
    await cache.evictUntil(cache.limit);
    return cache;
  }

  stats(): CacheStats {
    return { bytes: this.total, files: this.entries.size, limitBytes: this.limit };
  }

  private fileOf(key: string): string {
    return join(this.dir, key.replaceAll("/", "_"));
  }

  async get(key: string): Promise<Buffer | undefined> {
    const name = key.replaceAll("/", "_");
    const size = this.entries.get(name);
    if (size === undefined) return undefined;
    try {
      const data = await readFile(this.fileOf(key));
      if (data.length !== size) throw new Error("size changed");
      this.entries.delete(name);
      this.entries.set(name, size);
      const now = new Date();
      await utimes(this.fileOf(key), now, now).catch(() => {});
      return data;
    } catch {
      await this.remove(name);
      return undefined;
    }
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const name = key.replaceAll("/", "_");
    if (data.length > this.limit) return;
    if (this.entries.has(name)) return;
    await this.evictUntil(this.limit - data.length);
    // Reserve the space before the write, so concurrent puts cannot together pass the limit.
    this.entries.set(name, data.length);
    this.total += data.length;
    const temp = join(this.dir, `.tmp-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(temp, data, { mode: 0o600 });
      await rename(temp, this.fileOf(key));
    } catch {
      await unlink(temp).catch(() => {});
      await this.remove(name);
    }
  }

  /** Drops an entry (its contents turned out to be damaged). */
  async delete(key: string): Promise<void> {
    await this.remove(key.replaceAll("/", "_"));
  }

  private async evictUntil(maxTotal: number): Promise<void> {
    while (this.total > maxTotal) {
      const oldest = this.entries.keys().next();
      if (oldest.done) return;
      await this.remove(oldest.value);
    }
  }

  private async remove(name: string): Promise<void> {
    const size = this.entries.get(name);
    if (size === undefined) return;
    this.entries.delete(name);
    // Count the space as used until the file is really gone.
    await unlink(join(this.dir, name)).catch(() => {});
    this.total -= size;
  }
}

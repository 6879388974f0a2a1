import assert from "node:assert/strict";
import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { BoundedCache } from "../../../src/repository/cache.ts";
import { openRepository } from "../../../src/repository/open.ts";
import type { TreeEntry } from "../../../src/repository/types.ts";
import { FAST, manifest, newRepository, PASSWORD, tempDir } from "./helpers.ts";

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    const info = await stat(join(dir, name));
    if (info.isFile()) total += info.size;
  }
  return total;
}

test("the cache never holds more than its limit and evicts the least recently used", async (t) => {
  const dir = await tempDir(t);
  const cache = await BoundedCache.open(join(dir, "c"), 10_000);
  await cache.put("index/a", Buffer.alloc(4000, 1));
  await cache.put("index/b", Buffer.alloc(4000, 2));
  assert.ok(await cache.get("index/a")); // a is now more recent than b
  await cache.put("packs/m/c", Buffer.alloc(4000, 3));
  assert.equal(await cache.get("index/b"), undefined);
  assert.deepEqual(await cache.get("index/a"), Buffer.alloc(4000, 1));
  assert.ok(await cache.get("packs/m/c"));
  await cache.put("too-big", Buffer.alloc(20_000));
  assert.equal(await cache.get("too-big"), undefined);
  assert.ok((await dirBytes(join(dir, "c"))) <= 10_000);

  // Reopening adopts the files and still enforces a (smaller) limit.
  const again = await BoundedCache.open(join(dir, "c"), 5000);
  assert.ok(again.stats().bytes <= 5000);
  assert.ok((await dirBytes(join(dir, "c"))) <= 5000);
});

test("a damaged cache file is dropped and the object read from the store again", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const root = await repo.writeTree([{ name: "f", type: "fifo", mode: 0o600, uid: 0, gid: 0, mtimeNs: "1", size: 0 }]);
  await repo.saveSnapshot(manifest({ root }));
  const cacheDir = join(dir, "cache");
  const first = await openRepository(store, PASSWORD, { ...FAST, cacheDir });
  assert.equal((await first.readTree(root)).length, 1);
  await first.close();
  const files = await readdir(cacheDir, { recursive: true });
  for (const name of files) {
    const path = join(cacheDir, name);
    if ((await stat(path)).isFile()) await writeFile(path, Buffer.alloc((await stat(path)).size, 0x55));
  }
  const second = await openRepository(store, PASSWORD, { ...FAST, cacheDir });
  t.after(() => second.close());
  assert.equal((await second.readTree(root)).length, 1);
});

test("a repository's cache stays within cacheLimitMB while reading many trees", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  // Many small trees fill several metadata packs (512 kB each in tests).
  let previous: string | undefined;
  for (let i = 0; i < 300; i++) {
    const entries: TreeEntry[] = [];
    for (let j = 0; j < 100; j++) {
      entries.push({
        name: `file-${String(j).padStart(3, "0")}`,
        type: "fifo",
        mode: 0o600,
        uid: i,
        gid: j,
        mtimeNs: `${i * 1000 + j}`,
        size: 0,
      });
    }
    if (previous !== undefined) entries.push({ ...entries[0]!, name: "zz-sub", type: "dir", subtree: previous });
    previous = await repo.writeTree(entries);
  }
  await repo.saveSnapshot(manifest({ root: previous! }));
  await repo.close();

  const cacheDir = join(dir, "cache");
  const limitMB = 1;
  const reader = await openRepository(store, PASSWORD, { ...FAST, cacheDir, cacheLimitMB: limitMB });
  t.after(() => reader.close());
  let id: string | undefined = previous;
  let depth = 0;
  while (id !== undefined) {
    const entries = await reader.readTree(id);
    id = entries.find((e) => e.name === "zz-sub")?.subtree;
    depth++;
    assert.ok((await dirBytes(cacheDir)) <= limitMB * 1024 * 1024);
  }
  assert.equal(depth, 300);
  assert.ok((await dirBytes(cacheDir)) > 0, "the cache was used");
});

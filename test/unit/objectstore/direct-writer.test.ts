import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DIRECT_BLOCK_BYTES, DirectFileWriter, openDirect } from "../../../src/objectstore/direct-writer.ts";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "skiff-direct-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `pieces` one after another (offsets in sequence, calls not awaited in between, as packs do). */
async function writeInSequence(writer: { writeAt(d: Uint8Array, o: number): Promise<void> }, pieces: Buffer[]) {
  let offset = 0;
  const writes: Promise<void>[] = [];
  for (const piece of pieces) {
    writes.push(writer.writeAt(piece, offset));
    offset += piece.length;
  }
  await Promise.all(writes);
}

test("pack writers of the filesystem store bypass the page cache here, and objects come out exact", async (t) => {
  const store = await openFilesystemStore(join(await tempDir(t), "s"), { create: true });
  const block = DIRECT_BLOCK_BYTES;
  // Lengths around the 4 KiB alignment and the 1 MiB block: the last block is padded and cut back.
  const cases: number[][] = [
    [],
    [1],
    [4095],
    [4096],
    [block],
    [block + 1],
    [7, block - 7, 4097],
    [300_000, 5, 3 * block + 11],
  ];
  for (const [n, sizes] of cases.entries()) {
    const writer = await store.openWriter!(`packs/d/p${n}`);
    assert.equal(writer.copies, true, "the test machine's temporary directory takes O_DIRECT");
    const pieces = sizes.map((size) => randomBytes(size));
    await writeInSequence(writer, pieces);
    await writer.commit();
    const stored = Buffer.from(await store.get(`packs/d/p${n}`));
    assert.equal(
      stored.length,
      sizes.reduce((a, b) => a + b, 0),
      `sizes ${sizes}`,
    );
    assert.ok(stored.equals(Buffer.concat(pieces)), `content of sizes ${sizes}`);
  }
});

test("writes may come in any order, and a gap never written reads as zeros", async (t) => {
  const dir = await tempDir(t);
  const store = await openFilesystemStore(join(dir, "s"), { create: true });
  const writer = await store.openWriter!("packs/d/p");
  const first = randomBytes(DIRECT_BLOCK_BYTES + 5000);
  const gap = randomBytes(70_000);
  const after = randomBytes(12_345);
  await writer.writeAt(first, 0);
  // Past the end, leaving a hole that a later write fills.
  await writer.writeAt(after, first.length + gap.length);
  await writer.writeAt(gap, first.length);
  await writer.commit();
  assert.ok(Buffer.from(await store.get("packs/d/p")).equals(Buffer.concat([first, gap, after])));
  assert.deepEqual(await readdir(join(dir, "s", "packs", "d")), ["p"]);

  const holed = await store.openWriter!("packs/d/q");
  const tail = randomBytes(3000);
  await holed.writeAt(first.subarray(0, 10_000), 0);
  await holed.writeAt(tail, 3 * DIRECT_BLOCK_BYTES + 777);
  await holed.commit();
  const expected = Buffer.alloc(3 * DIRECT_BLOCK_BYTES + 777 + tail.length);
  first.copy(expected, 0, 0, 10_000);
  tail.copy(expected, 3 * DIRECT_BLOCK_BYTES + 777);
  assert.ok(Buffer.from(await store.get("packs/d/q")).equals(expected));
});

test("pieces written concurrently in a shuffled order come out exact (the restore's pattern)", async (t) => {
  const path = join(await tempDir(t), "file");
  const handle = await openDirect(path, 0o600);
  assert.ok(handle !== undefined, "the test machine's temporary directory takes O_DIRECT");
  const file = new DirectFileWriter(path, handle);
  // Sizes like chunks (0.3-2.3 MiB), placed back to back, then written in a fixed shuffled order.
  const pieces: { data: Buffer; offset: number }[] = [];
  let offset = 0;
  for (let i = 0; i < 24; i++) {
    const data = randomBytes(300_000 + ((i * 7919) % 2_000_000));
    pieces.push({ data, offset });
    offset += data.length;
  }
  const order = pieces.map((_, i) => (i * 11) % pieces.length);
  await Promise.all(order.map((i) => file.writeAt(pieces[i]!.data, pieces[i]!.offset)));
  await file.flush();
  assert.equal(file.allDirect, true, "the blocks are aligned well enough for O_DIRECT here");
  await file.close(true);
  assert.ok((await readFile(path)).equals(Buffer.concat(pieces.map((p) => p.data))));
});

test("many files written at once each get blocks of their own", async (t) => {
  const dir = await tempDir(t);
  // More blocks at once than one slab holds, so blocks of several slabs are in use together.
  const files = await Promise.all(
    Array.from({ length: 12 }, async (_, n) => {
      const path = join(dir, `file-${n}`);
      const handle = await openDirect(path, 0o600);
      assert.ok(handle !== undefined);
      const pieces = [randomBytes(700_000), randomBytes(1_500_000), randomBytes(333_333)];
      return { path, file: new DirectFileWriter(path, handle), pieces };
    }),
  );
  // Each file's second piece first, then the first, then the last: every file holds partial blocks meanwhile.
  for (const index of [1, 0, 2]) {
    await Promise.all(
      files.map(({ file, pieces }) => {
        const offset = pieces.slice(0, index).reduce((sum, p) => sum + p.length, 0);
        return file.writeAt(pieces[index]!, offset);
      }),
    );
  }
  for (const { path, file, pieces } of files) {
    await file.flush();
    assert.equal(file.allDirect, true);
    await file.close(false);
    assert.ok((await readFile(path)).equals(Buffer.concat(pieces)), path);
  }
});

test("with direct writes turned off the writer neither copies nor changes the bytes", async (t) => {
  const store = await openFilesystemStore(join(await tempDir(t), "s"), { create: true, directWrites: false });
  const writer = await store.openWriter!("k");
  assert.equal(writer.copies, undefined);
  const data = randomBytes(10_000);
  await writer.writeAt(data, 0);
  await writer.commit();
  assert.ok(Buffer.from(await store.get("k")).equals(data));
});

/** A real file handle whose writes fail with `code` (what a filesystem refusing direct writes, or a disk, says). */
async function failingHandle(path: string, code: string) {
  const real = await open(path, "w");
  return new Proxy(real, {
    get(target, name) {
      if (name === "write") return async () => Promise.reject(Object.assign(new Error(`${code} (test)`), { code }));
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

test("direct writes the filesystem refuses (EINVAL) go through the page cache instead", async (t) => {
  const path = join(await tempDir(t), "file");
  const file = new DirectFileWriter(path, await failingHandle(path, "EINVAL"));
  const pieces = [randomBytes(DIRECT_BLOCK_BYTES + 3), randomBytes(1000), randomBytes(2 * DIRECT_BLOCK_BYTES)];
  await writeInSequence(file, pieces);
  await file.flush();
  assert.equal(file.allDirect, false);
  await file.close(true);
  assert.ok((await readFile(path)).equals(Buffer.concat(pieces)));
});

test("a failed write is reported by flush, naming the file", async (t) => {
  const path = join(await tempDir(t), "file");
  const file = new DirectFileWriter(path, await failingHandle(path, "EIO"));
  await file.writeAt(randomBytes(DIRECT_BLOCK_BYTES), 0);
  await file.writeAt(randomBytes(10), DIRECT_BLOCK_BYTES);
  await assert.rejects(file.flush(), (err: Error) => {
    assert.match(err.message, new RegExp(`cannot write ${path}`));
    assert.match(String((err.cause as Error).message), /EIO/);
    return true;
  });
  await file.discard();
  assert.equal((await stat(path)).size, 0, "nothing was written");
});

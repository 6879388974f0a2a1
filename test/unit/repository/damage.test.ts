import assert from "node:assert/strict";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openRepository } from "../../../src/repository/open.ts";
import { packKey } from "../../../src/repository/pack-format.ts";
import type { SkiffRepository } from "../../../src/repository/repository.ts";
import type { ObjectRef, TreeEntry } from "../../../src/repository/types.ts";
import { verifyRepository } from "../../../src/repository/verify.ts";
import { FAST, fileEntry, manifest, newRepository, PASSWORD, random, streamOf, textLike } from "./helpers.ts";

async function twoSnapshots(repo: SkiffRepository) {
  const a = await repo.writeObject(streamOf(textLike(300_000)));
  const b = await repo.writeObject(streamOf(random(600_000)));
  const c = await repo.writeObject(streamOf(random(100_000)));
  const docs = await repo.writeTree([fileEntry("a.txt", a)]);
  const data = await repo.writeTree([fileEntry("b.bin", b)]);
  const dir = (name: string, subtree: string): TreeEntry => ({ ...fileEntry(name, a), type: "dir", size: 0, subtree });
  const { content: _drop, ...dirBase } = dir("x", docs);
  const root1 = await repo.writeTree([
    fileEntry("c", c),
    { ...dirBase, name: "data", subtree: data },
    { ...dirBase, name: "docs", subtree: docs },
  ]);
  const root2 = await repo.writeTree([fileEntry("c", c)]);
  const s1 = await repo.saveSnapshot(manifest({ root: root1 }));
  const s2 = await repo.saveSnapshot(manifest({ root: root2 }));
  return { a, b, c, s1, s2 };
}

/** The pack file and offset of an object's chunk. */
async function whereIs(repo: SkiffRepository, ref: ObjectRef, chunk = 0) {
  const chunks = await repo.chunksOf(ref);
  const slot = repo.blobs.table.find(chunks[chunk]!.id);
  const pack = repo.blobs.packs[repo.blobs.table.packOf(slot)]!;
  return {
    key: packKey(pack.kind, pack.id),
    offset: repo.blobs.table.offsetOf(slot),
    length: repo.blobs.table.lengthOf(slot),
  };
}

test("a flipped bit in a pack is found by verify --read-data and traced to the snapshot and file", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const { b, s1, s2 } = await twoSnapshots(repo);
  const before = await verifyRepository(repo, { readData: true });
  assert.deepEqual(before.problems, []);
  assert.ok(before.ok);

  const where = await whereIs(repo, b);
  const file = await open(join(dir, "repo", where.key), "r+");
  const at = where.offset + Math.floor(where.length / 2);
  const byte = Buffer.alloc(1);
  await file.read(byte, 0, 1, at);
  byte[0]! ^= 0x10;
  await file.write(byte, 0, 1, at);
  await file.close();

  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  const report = await verifyRepository(reader, { readData: true });
  assert.equal(report.ok, false);
  assert.ok(report.problems.some((p) => p.kind === "damaged-blob" && p.message.includes(where.key.slice(6))));
  const affected = report.problems.filter((p) => p.kind === "damaged-snapshot");
  assert.deepEqual(
    affected.map((p) => [p.snapshot, p.paths]),
    [[s1.id, ["/data/b.bin"]]],
  );
  assert.ok(!affected.some((p) => p.snapshot === s2.id));
});

test("a deleted pack is reported, with every snapshot and path that needs it", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const { c, s1, s2 } = await twoSnapshots(repo);
  const where = await whereIs(repo, c);
  await unlink(join(dir, "repo", where.key));

  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  const report = await verifyRepository(reader);
  assert.equal(report.ok, false);
  assert.ok(report.problems.some((p) => p.kind === "missing-pack" && p.message.includes(where.key.slice(6))));
  const bySnapshot = new Map(
    report.problems.filter((p) => p.kind === "damaged-snapshot").map((p) => [p.snapshot, p.paths ?? []]),
  );
  assert.ok(bySnapshot.get(s1.id)?.includes("/c"));
  assert.deepEqual(bySnapshot.get(s2.id), ["/c"]);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import type { TreeEntry } from "../../../src/repository/types.ts";
import { manifest, newRepository, random, streamOf } from "./helpers.ts";

const file = (name: string, extra: Partial<TreeEntry> = {}): TreeEntry => ({
  name,
  type: "file",
  mode: 0o644,
  uid: 1000,
  gid: 1000,
  mtimeNs: "1732540000123456789",
  size: 0,
  ...extra,
});

test("trees keep every field and identical trees share an id", async (t) => {
  const { repo } = await newRepository(t);
  const content = await repo.writeObject(streamOf(random(300_000)));
  const sub = await repo.writeTree([file("inner")]);
  const entries: TreeEntry[] = [
    file("a", { size: content.size, content, inode: "2049:77", ctimeNs: "1732540000000000001" }),
    file("b-hard", { hardLinkGroup: "2049:78", mode: 0o4755 }),
    { ...file("dev"), type: "block-device", rdev: 2049, size: 0 },
    { ...file("dir"), type: "dir", mode: 0o1777, subtree: sub },
    { ...file("link"), type: "symlink", linkTarget: "../some where/ünïcode" },
    { ...file("pipe"), type: "fifo", uid: 0, gid: 0, mtimeNs: "-5" },
  ];
  const id = await repo.writeTree(entries);
  assert.deepEqual(await repo.readTree(id), entries);
  assert.equal(await repo.writeTree(structuredClone(entries)), id);
  assert.notEqual(await repo.writeTree(entries.slice(1)), id);
  assert.deepEqual(await repo.readTree(await repo.writeTree([])), []);
});

test("trees out of order, with duplicates or with bad names are refused", async (t) => {
  const { repo } = await newRepository(t);
  await assert.rejects(repo.writeTree([file("b"), file("a")]), /sorted/);
  await assert.rejects(repo.writeTree([file("a"), file("a")]), /sorted/);
  await assert.rejects(repo.writeTree([file("x/y")]), /invalid tree entry name/);
  // Byte order, not locale order: "Z" (0x5a) sorts before "a" (0x61).
  assert.ok(await repo.writeTree([file("Z"), file("a")]));
});

test("snapshots are saved, listed, loaded by prefix and deleted", async (t) => {
  const { repo } = await newRepository(t);
  const root = await repo.writeTree([file("x")]);
  const first = await repo.saveSnapshot({ ...manifest(), root, tags: { backup: "one" } });
  const second = await repo.saveSnapshot({ ...manifest(), root, tags: { backup: "two" } });
  assert.match(first.id, /^[0-9a-f]{32}$/);
  const listed = await repo.listSnapshots();
  assert.deepEqual(listed.map((s) => s.id).sort(), [first.id, second.id].sort());
  assert.deepEqual(await repo.loadSnapshot(first.id.slice(0, 10)), first);
  await assert.rejects(repo.loadSnapshot("ffff0000ffff0000"), /no snapshot/);
  await repo.deleteSnapshot(first.id);
  assert.deepEqual(
    (await repo.listSnapshots()).map((s) => s.id),
    [second.id],
  );
});

/**
 * The data mover against the real repository on the filesystem store: every attribute survives a round trip,
 * incremental backups read only what changed, and volumes sharing files share their chunks.
 */
import assert from "node:assert/strict";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { backupDirectory, restoreSnapshot } from "../../../src/datamover/index.ts";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import { initRepository, openRepository } from "../../../src/repository/index.ts";
import type { Repository } from "../../../src/repository/types.ts";
import {
  allocatedBlocks,
  assertSameTree,
  buildRichTree,
  bytes,
  describeTree,
  isRoot,
} from "../../support/datamover-tree.ts";

const password = "correct horse battery staple";
const fastKdf = { N: 1 << 10, r: 8, p: 1 };

function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const info = lstatSync(path);
    total += info.isDirectory() ? directoryBytes(path) : info.size;
  }
  return total;
}

describe("data mover round trips through the real repository", () => {
  let work: string;
  let repoDir: string;
  let repo: Repository;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "skiff-dm-int-"));
    repoDir = join(work, "repo");
    repo = await initRepository(await openFilesystemStore(repoDir, { create: true }), password, {
      kdf: fastKdf,
      lockSettleMs: 10,
      workers: 1,
    });
  });
  after(async () => {
    await repo.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("preserves types, modes, owners, mtimes, links, fifos, sparse files and odd names", async () => {
    const source = join(work, "rich");
    buildRichTree(source);
    const snapshot = await backupDirectory(repo, { source, tags: { pvc: "rich" }, parallelFiles: 4 });
    assert.equal(snapshot.stats.errors, 0);
    assert.match(snapshot.id, /^[0-9a-f]+$/);

    // A fresh handle proves the snapshot is durable, not just cached in the writer.
    const reader = await openRepository(await openFilesystemStore(repoDir), password, { workers: 1, lockSettleMs: 10 });
    try {
      const target = join(work, "rich-restored");
      const result = await restoreSnapshot(reader, snapshot.id.slice(0, 8), {
        target,
        parallelFiles: 4,
        writeSparseFiles: true,
      });
      assertSameTree(describeTree(target), describeTree(source));
      assert.equal(result.stats.hardLinks, 2);
      assert.equal(
        lstatSync(join(target, "links", "hard-a")).ino,
        lstatSync(join(target, "links", "sub", "hard-c")).ino,
      );
      assert.ok(allocatedBlocks(join(target, "sparse.img")) <= 4096 + 64, "sparse file restored with holes");
      assert.equal(statSync(join(target, "sparse.img")).size, 7 << 20);
      if (isRoot) {
        assert.equal(lstatSync(join(target, "owned")).uid, 1234);
        assert.equal(lstatSync(join(target, "owned")).gid, 5678);
        assert.equal(lstatSync(join(target, "owned-dir")).uid, 4321);
      }
      assert.equal(lstatSync(join(target, "modes", "setuid")).mode & 0o7777, 0o4755);
      assert.equal(lstatSync(join(target, "modes", "sticky")).mode & 0o7777, 0o1777);
    } finally {
      await reader.close();
    }
  });

  it("re-reads only the changed files of an incremental backup", async () => {
    const source = join(work, "incremental");
    mkdirSync(join(source, "a"), { recursive: true });
    mkdirSync(join(source, "b"), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(source, i < 10 ? "a" : "b", `f${i}`), bytes(100 + i, 20_000));
    const first = await backupDirectory(repo, { source, tags: { pvc: "inc" } });
    assert.equal(first.stats.bytesRead, 400_000);
    writeFileSync(join(source, "b", "f15"), bytes(999, 30_000));
    const second = await backupDirectory(repo, { source, tags: { pvc: "inc" }, parent: "auto" });
    assert.equal(second.parent, first.id);
    assert.equal(second.stats.bytesRead, 30_000);
    assert.equal(second.stats.bytes, 410_000);
    const target = join(work, "incremental-restored");
    await restoreSnapshot(repo, second.id, { target });
    assertSameTree(describeTree(target), describeTree(source));
  });

  it("stores files shared by two volumes once", async () => {
    const volumeA = join(work, "volume-a");
    mkdirSync(volumeA);
    for (let i = 0; i < 8; i++) writeFileSync(join(volumeA, `shared-${i}`), bytes(500 + i, 250_000));
    const volumeB = join(work, "volume-b");
    cpSync(volumeA, volumeB, { recursive: true });
    writeFileSync(join(volumeB, "own"), bytes(600, 10_000));

    await backupDirectory(repo, { source: volumeA, tags: { pvc: "a" } });
    // Packs are written by the next flush (on saveSnapshot): measure after each snapshot.
    const afterA = directoryBytes(repoDir);
    const b = await backupDirectory(repo, { source: volumeB, tags: { pvc: "b" } });
    const grown = directoryBytes(repoDir) - afterA;
    assert.equal(b.stats.bytesRead, 2_010_000, "volume B is read in full (different source, no parent)");
    assert.ok(grown < 100_000, `the second volume added ${grown} bytes for 10 kB of new data`);
  });
});

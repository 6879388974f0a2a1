import assert from "node:assert/strict";
import {
  appendFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { maxQueuedFiles } from "../../../src/datamover/backup-walk.ts";
import { backupDirectory, restoreSnapshot } from "../../../src/datamover/index.ts";
import {
  allocatedBlocks,
  assertSameTree,
  buildRichTree,
  bytes,
  canMakeDevices,
  describeTree,
  isRoot,
} from "../../support/datamover-tree.ts";
import { InMemoryRepositoryDouble } from "../../support/memory-repository.ts";

describe("backup and restore with the in-memory repository double", () => {
  let work: string;
  let source: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), "skiff-dm-unit-"));
    source = join(work, "source");
    buildRichTree(source);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("restores every entry with its type, mode, owner, mtime, content and links", async () => {
    const repo = new InMemoryRepositoryDouble();
    const issues: string[] = [];
    const snapshot = await backupDirectory(repo, {
      source,
      tags: { volume: "data" },
      parallelFiles: 3,
      onIssue: (i) => issues.push(i.path),
    });
    assert.deepEqual(issues, []);
    assert.equal(snapshot.stats.errors, 0);
    assert.equal(snapshot.source.volumeMode, "Filesystem");
    assert.deepEqual(snapshot.tags, { volume: "data" });
    // The three names of the hard-linked file are read once.
    assert.ok(snapshot.stats.bytesRead < snapshot.stats.bytes);

    const target = join(work, "restored");
    const result = await restoreSnapshot(repo, snapshot.id, { target, parallelFiles: 3 });
    assert.equal(result.stats.hardLinks, 2);
    assertSameTree(describeTree(target), describeTree(source));
    if (isRoot) {
      assert.equal(lstatSync(join(target, "owned")).uid, 1234);
      assert.equal(lstatSync(join(target, "owned")).gid, 5678);
    }
  });

  it("writes zero runs as holes when asked, and fully otherwise", async () => {
    const repo = new InMemoryRepositoryDouble();
    const snapshot = await backupDirectory(repo, { source });
    const sparseTarget = join(work, "sparse-target");
    const denseTarget = join(work, "dense-target");
    await restoreSnapshot(repo, snapshot.id, { target: sparseTarget, writeSparseFiles: true });
    await restoreSnapshot(repo, snapshot.id, { target: denseTarget, writeSparseFiles: false });
    const sparseBlocks = allocatedBlocks(join(sparseTarget, "sparse.img"));
    const denseBlocks = allocatedBlocks(join(denseTarget, "sparse.img"));
    assert.equal(lstatSync(join(sparseTarget, "sparse.img")).size, 7 << 20);
    // 2 MiB of data = 4096 blocks of 512 bytes (plus possibly a little metadata); dense holds all 7 MiB.
    assert.ok(sparseBlocks <= 4096 + 64, `sparse restore allocated ${sparseBlocks} blocks`);
    assert.ok(denseBlocks >= (7 << 20) / 512, `dense restore allocated ${denseBlocks} blocks`);
    assert.equal(describeTree(sparseTarget).get("sparse.img")?.sha256, describeTree(source).get("sparse.img")?.sha256);
  });

  it("restores the same tree with direct writes turned off (large files through the page cache)", async () => {
    const repo = new InMemoryRepositoryDouble();
    const snapshot = await backupDirectory(repo, { source });
    const target = join(work, "buffered-target");
    await restoreSnapshot(repo, snapshot.id, { target, directWrites: false });
    assertSameTree(describeTree(target), describeTree(source));
  });

  it("an incremental backup reads only changed files and reuses unchanged trees", async () => {
    const src = join(work, "incremental");
    buildRichTree(src);
    const repo = new InMemoryRepositoryDouble();
    const first = await backupDirectory(repo, { source: src, tags: { pvc: "a" } });
    const treesBefore = repo.writeTreeCalls;
    const unchanged = await backupDirectory(repo, { source: src, tags: { pvc: "a" }, parent: "auto" });
    assert.equal(unchanged.parent, first.id);
    assert.equal(unchanged.stats.bytesRead, 0);
    assert.equal(unchanged.root, first.root);
    assert.equal(repo.writeTreeCalls, treesBefore, "no tree is written again when nothing changed");

    appendFileSync(join(src, "plain.txt"), "more\n");
    writeFileSync(join(src, "links", "sub", "new-file"), bytes(9, 1000));
    const changed = await backupDirectory(repo, { source: src, tags: { pvc: "a" }, parent: first.id });
    assert.equal(changed.stats.bytesRead, lstatSync(join(src, "plain.txt")).size + 1000);
    assert.notEqual(changed.root, first.root);
    // Only the changed path's trees are new: root, links, links/sub.
    assert.equal(repo.writeTreeCalls - treesBefore, 3);

    const target = join(work, "incremental-restored");
    await restoreSnapshot(repo, changed.id, { target });
    assertSameTree(describeTree(target), describeTree(src));
  });

  it("does not take a snapshot of another source or other tags as parent", async () => {
    const repo = new InMemoryRepositoryDouble();
    await backupDirectory(repo, { source, tags: { pvc: "a" } });
    const other = await backupDirectory(repo, { source, tags: { pvc: "b" }, parent: "auto" });
    assert.equal(other.parent, undefined);
    assert.ok(other.stats.bytesRead > 0);
  });

  it("notices a file rewritten with its old mtime (ctime changed)", async () => {
    const src = join(work, "same-mtime");
    buildRichTree(src);
    const repo = new InMemoryRepositoryDouble();
    const first = await backupDirectory(repo, { source: src });
    const path = join(src, "plain.txt");
    const { atime, mtime } = lstatSync(path);
    writeFileSync(path, "HELLO DATA MOVER\n");
    utimesSync(path, atime, mtime);
    const second = await backupDirectory(repo, { source: src, parent: first.id });
    assert.equal(second.stats.bytesRead, 17);
  });

  it("refuses a non-empty target unless overwriting", async () => {
    const repo = new InMemoryRepositoryDouble();
    const snapshot = await backupDirectory(repo, { source });
    const target = join(work, "occupied");
    await restoreSnapshot(repo, snapshot.id, { target });
    await assert.rejects(restoreSnapshot(repo, snapshot.id, { target }), /is not empty/);
    writeFileSync(join(target, "plain.txt"), "changed locally");
    await restoreSnapshot(repo, snapshot.id, { target, overwrite: true });
    assertSameTree(describeTree(target), describeTree(source));
  });

  it("an aborted backup rejects and saves no snapshot", async () => {
    const repo = new InMemoryRepositoryDouble();
    let release = () => {};
    repo.writeGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const controller = new AbortController();
    const running = backupDirectory(repo, { source, signal: controller.signal, parallelFiles: 2 });
    while (repo.writeObjectCalls === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("canceled by the test"));
    release();
    await assert.rejects(running, /canceled by the test/);
    assert.equal(repo.snapshots.length, 0);
  });

  it("an aborted restore rejects and leaves no file under its final name half-written", async () => {
    const repo = new InMemoryRepositoryDouble();
    const snapshot = await backupDirectory(repo, { source });
    let release = () => {};
    repo.readGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const controller = new AbortController();
    const target = join(work, "aborted-restore");
    const running = restoreSnapshot(repo, snapshot.id, { target, signal: controller.signal, parallelFiles: 2 });
    while (repo.readObjectCalls === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("stop"));
    release();
    await assert.rejects(running, /stop/);
    const original = describeTree(source);
    for (const [path, entry] of describeTree(target)) {
      if (entry.type !== "file" || /\.skiff-restore-/.test(path)) continue;
      assert.equal(entry.sha256, original.get(path)?.sha256, `'${path}' is complete or absent`);
    }
  });

  it("restoring as a non-root user keeps the current owner, says so once, and skips device files", async () => {
    const repo = new InMemoryRepositoryDouble();
    const snapshot = await backupDirectory(repo, { source });
    const notices: string[] = [];
    const target = join(work, "as-user");
    const result = await restoreSnapshot(repo, snapshot.id, {
      target,
      asRoot: false,
      onNotice: (m) => notices.push(m),
    });
    assert.equal(notices.filter((m) => /not running as root/.test(m)).length, 1);
    const me = process.geteuid?.() ?? 0;
    if (isRoot) assert.equal(lstatSync(join(target, "owned")).uid, me, "owner not changed when not root");
    if (canMakeDevices) {
      assert.equal(result.stats.skipped, 1);
      assert.ok(notices.some((m) => /null-device: device files can only be created by root/.test(m)));
      assert.equal(describeTree(target).has("null-device"), false);
    }
    assert.equal(lstatSync(join(target, "modes", "setgid")).mode & 0o7777, 0o2750);
  });

  it("counts and names files that vanish during the walk, and goes on", async () => {
    const dir = join(work, "vanishing");
    mkdirSync(dir);
    // The walker stats at most maxQueuedFiles files ahead of the uploads, so the last names of the listing are not
    // stat'ed before the first upload completes; they are deleted while that upload is held.
    const ahead = maxQueuedFiles(1);
    const count = ahead + 40;
    for (let i = 0; i < count; i++) writeFileSync(join(dir, `f${String(i).padStart(4, "0")}`), `file ${i}`);
    const late = readdirSync(dir).slice(ahead + 20);
    const repo = new InMemoryRepositoryDouble();
    let release = () => {};
    repo.writeGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const issues: string[] = [];
    const running = backupDirectory(repo, { source: dir, parallelFiles: 1, onIssue: (i) => issues.push(i.path) });
    while (repo.writeObjectCalls === 0) await new Promise((resolve) => setImmediate(resolve));
    for (const name of late) rmSync(join(dir, name));
    release();
    const snapshot = await running;
    assert.equal(snapshot.stats.errors, late.length);
    assert.deepEqual(issues.sort(), [...late].sort());
    assert.equal((await repo.readTree(snapshot.root!)).length, count - late.length);
  });
});

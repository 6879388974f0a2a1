import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { LockConflictError } from "../../../src/repository/locks.ts";
import { runMaintenance } from "../../../src/repository/maintenance.ts";
import { openRepository } from "../../../src/repository/open.ts";
import type { SkiffRepository } from "../../../src/repository/repository.ts";
import type { ObjectRef } from "../../../src/repository/types.ts";
import { verifyRepository } from "../../../src/repository/verify.ts";
import {
  collect,
  FAST,
  fileEntry,
  manifest,
  newRepository,
  PASSWORD,
  random,
  storedBytes,
  streamOf,
} from "./helpers.ts";

const HOUR = 3600_000;

async function snapshotOf(repo: SkiffRepository, files: Record<string, ObjectRef>) {
  const entries = Object.entries(files).map(([name, content]) => fileEntry(name, content));
  return repo.saveSnapshot(manifest({ root: await repo.writeTree(entries) }));
}

test("full maintenance deletes only unreachable data older than the safety margin", async (t) => {
  const { repo, store } = await newRepository(t);
  const gone = random(1_500_000);
  const kept = random(700_000);
  const goneRef = await repo.writeObject(streamOf(gone));
  const old = await snapshotOf(repo, { gone: goneRef });
  const keptRef = await repo.writeObject(streamOf(kept));
  await snapshotOf(repo, { kept: keptRef });
  await repo.deleteSnapshot(old.id);
  const before = await storedBytes(store, "packs/");

  // Everything is younger than the margin: nothing may go.
  const early = await runMaintenance(repo, { full: true, now: () => Date.now() + HOUR });
  assert.equal(early.packsDeleted + early.packsRewritten + early.unindexedPacksDeleted, 0);
  assert.ok(early.packsKeptForMargin > 0);
  assert.equal(await storedBytes(store, "packs/"), before);

  const late = await runMaintenance(repo, { full: true, now: () => Date.now() + 25 * HOUR });
  assert.ok(late.packsDeleted + late.packsRewritten > 0);
  const after = await storedBytes(store, "packs/");
  assert.ok(before - after > 1_000_000, `freed only ${before - after} bytes`);

  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  assert.ok((await collect(reader.readObject(keptRef))).equals(kept));
  await assert.rejects(collect(reader.readObject(goneRef)), /not in the index/);
  const report = await verifyRepository(reader, { readData: true });
  assert.deepEqual(report.problems, []);
});

test("quick maintenance compacts index files without losing entries", async (t) => {
  const { repo, store } = await newRepository(t);
  const refs: ObjectRef[] = [];
  const datas: Buffer[] = [];
  for (let i = 0; i < 4; i++) {
    datas.push(random(200_000));
    refs.push(await repo.writeObject(streamOf(datas[i]!)));
    await snapshotOf(repo, { [`f${i}`]: refs[i]! });
  }
  assert.equal(repo.blobs.indexFiles.length, 4);
  const report = await runMaintenance(repo);
  assert.equal(report.indexFilesBefore, 4);
  assert.equal(report.indexFilesAfter, 1);
  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  assert.equal(reader.blobs.indexFiles.length, 1);
  for (let i = 0; i < 4; i++) assert.ok((await collect(reader.readObject(refs[i]!))).equals(datas[i]!));
  assert.ok((await verifyRepository(reader, { readData: true })).ok);
});

test("concurrent writers and maintenance: nothing reachable is lost", async (t) => {
  const { repo: first, store } = await newRepository(t);
  const second = await openRepository(store, PASSWORD, FAST);
  t.after(() => second.close());
  const shared = random(500_000);
  const own1 = random(400_000);
  const own2 = random(400_000);
  // Both write at the same time, including the same content.
  const [a, b] = await Promise.all([
    (async () => {
      const s = await first.writeObject(streamOf(shared));
      const o = await first.writeObject(streamOf(own1));
      return { s, o, snap: await snapshotOf(first, { own: o, shared: s }) };
    })(),
    (async () => {
      const s = await second.writeObject(streamOf(shared, 33_333));
      const o = await second.writeObject(streamOf(own2));
      return { s, o, snap: await snapshotOf(second, { own: o, shared: s }) };
    })(),
  ]);
  assert.equal(a.s.id, b.s.id);

  // While a writer holds its lock, the deleting phase cannot start.
  const maintainer = await openRepository(store, PASSWORD, FAST);
  t.after(() => maintainer.close());
  await assert.rejects(runMaintenance(maintainer, { full: true, safetyMarginMs: 0 }), LockConflictError);
  // Quick maintenance runs beside writers.
  const [quick] = await Promise.all([runMaintenance(maintainer), second.writeObject(streamOf(random(300_000)))]);
  assert.ok(quick.indexFilesAfter >= 1);

  await first.close();
  await second.close();
  const gc = await runMaintenance(maintainer, { full: true, safetyMarginMs: 0 });
  assert.equal(gc.snapshots, 2);
  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  for (const [ref, data] of [
    [a.s, shared],
    [a.o, own1],
    [b.o, own2],
  ] as const) {
    assert.ok((await collect(reader.readObject(ref))).equals(data));
  }
  const report = await verifyRepository(reader, { readData: true });
  assert.deepEqual(report.problems, []);
  assert.equal(report.snapshots, 2);
});

test("a writer opened before full maintenance does not reuse data maintenance removed", async (t) => {
  const { repo, store } = await newRepository(t);
  const data = random(600_000);
  const ref = await repo.writeObject(streamOf(data));
  const snap = await snapshotOf(repo, { f: ref });
  await repo.close();

  // Opened (index loaded, no lock yet) while the only snapshot naming the data is deleted and collected.
  const writer = await openRepository(store, PASSWORD, FAST);
  t.after(() => writer.close());
  const maintainer = await openRepository(store, PASSWORD, FAST);
  t.after(() => maintainer.close());
  await maintainer.deleteSnapshot(snap.id);
  const gc = await runMaintenance(maintainer, { full: true, safetyMarginMs: 0 });
  assert.ok(gc.packsDeleted > 0);

  // Writing the same bytes again must store them again, not point at the deleted pack.
  const again = await writer.writeObject(streamOf(data));
  await snapshotOf(writer, { f: again });
  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  assert.ok((await collect(reader.readObject(again))).equals(data));
  assert.deepEqual((await verifyRepository(reader, { readData: true })).problems, []);
});

test("full maintenance removes the temporary files of writers that died, once older than the margin", async (t) => {
  const { repo, dir } = await newRepository(t);
  await snapshotOf(repo, { a: await repo.writeObject(streamOf(random(300_000))) });
  // What a backup killed in the middle of a pack leaves behind.
  const packDir = join(dir, "repo", "packs", "d");
  const abandoned = join(packDir, ".tmp-0123456789abcdef");
  await writeFile(abandoned, random(100_000));
  const early = await runMaintenance(repo, { full: true, now: () => Date.now() + HOUR });
  assert.equal(early.abandonedWritesRemoved, 0, "a young temporary file may belong to a live writer");
  assert.ok((await readdir(packDir)).includes(".tmp-0123456789abcdef"));
  const late = await runMaintenance(repo, { full: true, now: () => Date.now() + 25 * HOUR });
  assert.equal(late.abandonedWritesRemoved, 1);
  assert.ok(!(await readdir(packDir)).includes(".tmp-0123456789abcdef"));
  assert.ok((await readdir(packDir)).length > 0, "real packs stay");
});

import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { ObjectStore } from "../../../src/objectstore/types.ts";
import { DamagedIndexFileError } from "../../../src/repository/blob-store.ts";
import { runMaintenance } from "../../../src/repository/maintenance.ts";
import { openRepository } from "../../../src/repository/open.ts";
import { repairIndex } from "../../../src/repository/repair-index.ts";
import type { SkiffRepository } from "../../../src/repository/repository.ts";
import type { ObjectRef } from "../../../src/repository/types.ts";
import { verifyRepository } from "../../../src/repository/verify.ts";
import { runSkiff } from "../../support/run-skiff.ts";
import { collect, FAST, fileEntry, manifest, newRepository, PASSWORD, random, streamOf } from "./helpers.ts";

const skiff = (argv: string[]) => runSkiff(argv, { SKIFF_REPO_PASSWORD: PASSWORD });

const HOUR = 3600_000;

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys.sort();
}

async function snapshotOf(repo: SkiffRepository, files: Record<string, ObjectRef>) {
  const entries = Object.entries(files).map(([name, content]) => fileEntry(name, content));
  return repo.saveSnapshot(manifest({ root: await repo.writeTree(entries) }));
}

/** Opens the repository again, letting damaged index files through (as the repair command does). */
async function reopen(t: { after(fn: () => Promise<void>): void }, store: ObjectStore, tolerant = false) {
  const repo = await openRepository(store, PASSWORD, {
    ...FAST,
    ...(tolerant ? { onDamagedIndexFile: () => {} } : {}),
  });
  t.after(() => repo.close());
  return repo;
}

/** A single-chunk object written and indexed on its own: its data pack is named by an index file of its own. */
async function indexedAlone(repo: SkiffRepository, store: ObjectStore, data: Buffer) {
  const before = new Set(await keysUnder(store, "index/"));
  const ref = await repo.writeObject(streamOf(data));
  await repo.blobs.flush();
  const added = (await keysUnder(store, "index/")).filter((k) => !before.has(k));
  assert.equal(added.length, 1);
  return { ref, indexKey: added[0]! };
}

test("full maintenance deletes nothing while a tree the snapshots need is missing from the index", async (t) => {
  const { repo, store } = await newRepository(t);
  const data = random(600_000);
  const ref = await repo.writeObject(streamOf(data));
  await snapshotOf(repo, { a: ref });
  await repo.close();
  for (const key of await keysUnder(store, "index/")) await store.delete(key);
  const packs = await keysUnder(store, "packs/");

  const lost = await reopen(t, store);
  await assert.rejects(
    runMaintenance(lost, { full: true, now: () => Date.now() + 25 * HOUR }),
    /stopped before deleting anything: \/: tree [0-9a-f]+ is not in the index .*skiff repo repair-index/,
  );
  assert.deepEqual(await keysUnder(store, "packs/"), packs);

  const report = await repairIndex(lost);
  assert.equal(report.packsIndexed, packs.length);
  assert.ok(report.rewritten);
  const repaired = await reopen(t, store);
  assert.ok((await collect(repaired.readObject(ref))).equals(data));
  assert.deepEqual((await verifyRepository(repaired, { readData: true })).problems, []);
});

test("full maintenance deletes nothing while a chunk list the snapshots need is missing from the index", async (t) => {
  const { repo, store } = await newRepository(t);
  const first = random(600_000);
  const grown = Buffer.concat([first, random(1_000)]);
  // The chunks of `first` are indexed on their own; `grown` shares them, and its chunk list goes in a later file.
  await indexedAlone(repo, store, first);
  const { ref, indexKey } = await indexedAlone(repo, store, grown);
  await snapshotOf(repo, { grown: ref });
  await repo.close();
  await store.delete(indexKey);
  const packs = await keysUnder(store, "packs/");

  // Without the chunk list, the shared chunks look unreachable: deleting their pack would lose `grown`.
  const lost = await reopen(t, store);
  await assert.rejects(
    runMaintenance(lost, { full: true, now: () => Date.now() + 25 * HOUR }),
    /stopped before deleting anything: \/grown: chunk list of object l[0-9a-f]+ is not in the index/,
  );
  assert.deepEqual(await keysUnder(store, "packs/"), packs);
  await repairIndex(lost);
  const repaired = await reopen(t, store);
  assert.ok((await collect(repaired.readObject(ref))).equals(grown));
});

test("full maintenance keeps packs no index names while file chunks are missing from the index", async (t) => {
  const { repo, store } = await newRepository(t);
  const data = random(10_000);
  const { ref, indexKey } = await indexedAlone(repo, store, data);
  const doomed = await repo.writeObject(streamOf(random(10_000)));
  const old = await snapshotOf(repo, { doomed });
  await snapshotOf(repo, { kept: ref });
  await repo.deleteSnapshot(old.id);
  await repo.close();
  await store.delete(indexKey);

  const lost = await reopen(t, store);
  const gc = await runMaintenance(lost, { full: true, now: () => Date.now() + 25 * HOUR });
  assert.equal(gc.missingChunks, 1);
  assert.equal(gc.unindexedPacksKept, 1);
  assert.equal(gc.unindexedPacksDeleted, 0);

  const report = await repairIndex(lost);
  assert.equal(report.packsIndexed, 1);
  assert.equal(report.blobsIndexed, 1);
  const repaired = await reopen(t, store);
  assert.ok((await collect(repaired.readObject(ref))).equals(data));
  const again = await runMaintenance(repaired, { full: true, now: () => Date.now() + 25 * HOUR });
  assert.equal(again.missingChunks, 0);
  assert.deepEqual((await verifyRepository(repaired, { readData: true })).problems, []);
});

test("a damaged index file fails the open with its name; repair-index rebuilds it from the packs", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const files = { a: random(700_000), b: random(40_000), c: random(5_000) };
  const refs: Record<string, ObjectRef> = {};
  for (const [name, data] of Object.entries(files)) refs[name] = await repo.writeObject(streamOf(data));
  await snapshotOf(repo, refs);
  await repo.close();
  const [indexKey] = await keysUnder(store, "index/");
  const path = join(dir, "repo", indexKey!);
  const bytes = await readFile(path);
  bytes[bytes.length >> 1]! ^= 0x10;
  await writeFile(path, bytes);

  await assert.rejects(openRepository(store, PASSWORD, FAST), (err: unknown) => {
    assert.ok(err instanceof DamagedIndexFileError);
    assert.equal(err.key, indexKey);
    assert.match(err.message, /index\/[0-9a-f]{32} cannot be read: .*failed authentication.*skiff repo repair-index/);
    return true;
  });

  // verify still runs, and names the damaged file first.
  const verify = await skiff(["repo", "verify", "--repo", join(dir, "repo")]);
  assert.equal(verify.code, 1);
  assert.match(verify.out, new RegExp(`damaged-index: ${indexKey} cannot be read: .*failed authentication`));
  assert.match(verify.out, /hint: 'skiff repo repair-index' replaces the damaged index files/);

  const report = await repairIndex(await reopen(t, store, true));
  assert.deepEqual(
    report.damagedIndexFiles.map((d) => d.key),
    [indexKey],
  );
  assert.ok(report.packsIndexed > 0 && report.blobsIndexed > 0);
  assert.equal(report.unreadablePacks.length, 0);
  assert.ok(!(await keysUnder(store, "index/")).includes(indexKey!), "the damaged file is replaced");
  const repaired = await reopen(t, store);
  for (const [name, data] of Object.entries(files))
    assert.ok((await collect(repaired.readObject(refs[name]!))).equals(data));
  assert.deepEqual((await verifyRepository(repaired, { readData: true })).problems, []);
});

test("repair-index drops entries of a pack that is gone, so the next backup stores that content again", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const data = random(10_000);
  const { ref } = await indexedAlone(repo, store, data);
  await snapshotOf(repo, { a: ref });
  await repo.close();
  const dataPacks = await keysUnder(store, "packs/d/");
  assert.equal(dataPacks.length, 1);
  await rm(join(dir, "repo", dataPacks[0]!));

  const report = await repairIndex(await reopen(t, store));
  assert.equal(report.missingPacks, 1);
  assert.equal(report.entriesDropped, 1);
  const verify = await verifyRepository(await reopen(t, store));
  assert.ok(verify.problems.some((p) => p.kind === "damaged-snapshot" && p.paths?.includes("/a")));

  // Without the repair the index would still claim this content and the new snapshot would be broken too.
  const writer = await reopen(t, store);
  const again = await writer.writeObject(streamOf(data));
  assert.equal(again.id, ref.id);
  await snapshotOf(writer, { a: again });
  assert.equal((await keysUnder(store, "packs/d/")).length, 1);
  assert.ok((await collect((await reopen(t, store)).readObject(ref))).equals(data));
});

test("repair-index points a blob whose pack is gone at a copy in a pack no index names", async (t) => {
  const { repo: first, store } = await newRepository(t);
  const second = await reopen(t, store);
  // The second writer takes its lock (and reads the index) before the first stores the shared content.
  await second.writeObject(streamOf(random(3_000)));
  const shared = random(10_000);
  const { ref } = await indexedAlone(first, store, shared);
  const firstPacks = await keysUnder(store, "packs/d/");
  const { indexKey: secondIndex } = await indexedAlone(second, store, shared);
  const secondPack = (await keysUnder(store, "packs/d/")).filter((k) => !firstPacks.includes(k));
  assert.ok(secondPack.length > 0, "the second writer stored its own copy");
  await first.close();
  await second.close();
  // The first copy's pack is lost and the index file naming the second copy too.
  assert.equal(firstPacks.length, 1);
  await store.delete(firstPacks[0]!);
  await store.delete(secondIndex);

  const report = await repairIndex(await reopen(t, store));
  assert.equal(report.missingPacks, 1);
  assert.equal(report.entriesDropped, 0, "the blob moved to the surviving copy");
  const repaired = await reopen(t, store);
  assert.ok((await collect(repaired.readObject(ref))).equals(shared));
});

test("repair-index leaves a sound index alone, and --read-all-packs rebuilds it from the trailers", async (t) => {
  const { repo, store } = await newRepository(t);
  const data = random(300_000);
  const ref = await repo.writeObject(streamOf(data));
  await snapshotOf(repo, { a: ref });
  await repo.close();
  const before = await keysUnder(store, "index/");

  const noop = await repairIndex(await reopen(t, store));
  assert.equal(noop.rewritten, false);
  assert.deepEqual(await keysUnder(store, "index/"), before);

  const full = await repairIndex(await reopen(t, store), { readAllPacks: true });
  assert.equal(full.rewritten, true);
  assert.equal(full.trailersRead, full.packs);
  const after = await keysUnder(store, "index/");
  assert.equal(after.length, 1);
  assert.notDeepEqual(after, before);
  const repaired = await reopen(t, store);
  assert.ok((await collect(repaired.readObject(ref))).equals(data));
  assert.deepEqual((await verifyRepository(repaired, { readData: true })).problems, []);
});

test("skiff repo repair-index reports a pack whose trailer is damaged and exits 1", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const ref = await repo.writeObject(streamOf(random(10_000)));
  await snapshotOf(repo, { a: ref });
  await repo.close();
  for (const key of await keysUnder(store, "index/")) await store.delete(key);
  const [dataPack] = await keysUnder(store, "packs/d/");
  const path = join(dir, "repo", dataPack!);
  const bytes = await readFile(path);
  bytes[bytes.length - 20]! ^= 0x01;
  await writeFile(path, bytes);
  const location = join(dir, "repo");

  const listed = await skiff(["repo", "snapshots", "--repo", location]);
  assert.equal(listed.code, 0, "lost index files do not stop the repository from opening");
  const verify = await skiff(["repo", "verify", "--repo", location]);
  assert.equal(verify.code, 1);
  assert.match(
    verify.out,
    /hint: what the snapshots miss may be in the \d+ packs no index file names; 'skiff repo repair-index'/,
  );
  const repair = await skiff(["repo", "repair-index", "--repo", location]);
  assert.equal(repair.code, 1, repair.err);
  assert.match(repair.out, new RegExp(`cannot index ${dataPack}: trailer of pack [0-9a-f]+ failed authentication`));
  assert.match(repair.out, /run 'skiff repo verify'/);
  const json = await skiff(["repo", "repair-index", "--repo", location, "--json"]);
  assert.equal(JSON.parse(json.out).unreadablePacks.length, 1);
  const usage = await skiff(["repo", "repair-index", "--repo", location, "--bogus"]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /unexpected argument '--bogus'/);
});

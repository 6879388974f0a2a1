/**
 * The repository on the real S3 server (test/env's useS3): write, snapshot, verify with data, full maintenance
 * and read back, through the same ObjectStore the data mover uses in clusters.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { createS3Store, type S3ObjectStore } from "../../../src/objectstore/s3.ts";
import { runMaintenance } from "../../../src/repository/maintenance.ts";
import { initRepository, openRepository } from "../../../src/repository/open.ts";
import { repairIndex } from "../../../src/repository/repair-index.ts";
import { verifyRepository } from "../../../src/repository/verify.ts";
import { type S3Server, useS3 } from "../../env/index.ts";
import { collect, fileEntry, manifest, PASSWORD, SMALL, streamOf, textLike } from "../../unit/repository/helpers.ts";

let s3: S3Server;
const bucket = `skiff-repo-${randomBytes(4).toString("hex")}`;
const stores: S3ObjectStore[] = [];

before(async () => {
  s3 = await useS3();
  await s3.createBucket(bucket);
});
after(() => {
  for (const store of stores) store.close();
});

async function store(prefix: string): Promise<S3ObjectStore> {
  const created = await createS3Store({
    bucket,
    prefix,
    config: { region: s3.region, s3Url: s3.endpoint, s3ForcePathStyle: "true" },
    credentialsFile: s3.credentialsFile,
  });
  stores.push(created);
  return created;
}

test("a repository on S3: back up, verify every pack, collect garbage, read back", async () => {
  const options = { ...SMALL, workers: 1, lockSettleMs: 0, lockWaitMs: 0 };
  const repo = await initRepository(await store("repo-a"), PASSWORD, options);
  const kept = Buffer.concat([randomBytes(600_000), textLike(600_000)]);
  const dropped = randomBytes(900_000);
  const keptRef = await repo.writeObject(streamOf(kept));
  const droppedRef = await repo.writeObject(streamOf(dropped));
  await repo.saveSnapshot(manifest({ root: await repo.writeTree([fileEntry("kept", keptRef)]) }));
  const old = await repo.saveSnapshot(manifest({ root: await repo.writeTree([fileEntry("dropped", droppedRef)]) }));
  await repo.deleteSnapshot(old.id);
  await repo.close();

  const reader = await openRepository(await store("repo-a"), PASSWORD, options);
  try {
    const report = await verifyRepository(reader, { readData: true });
    assert.deepEqual(report.problems, []);
    assert.ok(report.packs > 2);
    const gc = await runMaintenance(reader, { full: true, safetyMarginMs: 0 });
    assert.ok(gc.packsDeleted + gc.packsRewritten > 0);
    assert.ok(
      (await collect(reader.readObject(keptRef, { offset: 1000, length: 700_000 }))).equals(
        kept.subarray(1000, 701_000),
      ),
    );
    await assert.rejects(collect(reader.readObject(droppedRef)), /not in the index/);
    assert.deepEqual((await verifyRepository(reader, { readData: true })).problems, []);
  } finally {
    await reader.close();
  }
  await assert.rejects(openRepository(await store("repo-a"), "wrong", options), /wrong password/);
  await assert.rejects(openRepository(await store("nothing-here"), PASSWORD, options), /no skiff repository/);
});

test("a repository on S3 whose index files are lost is rebuilt from the pack trailers (ranged reads)", async () => {
  const options = { ...SMALL, workers: 1, lockSettleMs: 0, lockWaitMs: 0 };
  const target = await store("repo-repair");
  const repo = await initRepository(target, PASSWORD, options);
  const data = Buffer.concat([randomBytes(500_000), textLike(300_000)]);
  const ref = await repo.writeObject(streamOf(data));
  await repo.saveSnapshot(manifest({ root: await repo.writeTree([fileEntry("f", ref)]) }));
  await repo.close();
  for await (const info of target.list("index/")) await target.delete(info.key);

  const lost = await openRepository(await store("repo-repair"), PASSWORD, options);
  try {
    await assert.rejects(collect(lost.readObject(ref)), /not in the index/);
    const report = await repairIndex(lost);
    assert.equal(report.unreadablePacks.length, 0);
    assert.equal(report.packsIndexed, report.packs);
    assert.ok(report.blobsIndexed > 2);
  } finally {
    await lost.close();
  }
  const repaired = await openRepository(await store("repo-repair"), PASSWORD, options);
  try {
    assert.ok((await collect(repaired.readObject(ref))).equals(data));
    assert.deepEqual((await verifyRepository(repaired, { readData: true })).problems, []);
  } finally {
    await repaired.close();
  }
});

import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { backupDirectory } from "../../../src/datamover/index.ts";
import { runMaintenance } from "../../../src/repository/maintenance.ts";
import { openRepository } from "../../../src/repository/open.ts";
import { DamagedSnapshotError } from "../../../src/repository/repository.ts";
import { verifyRepository } from "../../../src/repository/verify.ts";
import { runSkiff } from "../../support/run-skiff.ts";
import { FAST, fileEntry, manifest, newRepository, PASSWORD, random, streamOf, tempDir } from "./helpers.ts";

const skiff = (argv: string[]) => runSkiff(argv, { SKIFF_REPO_PASSWORD: PASSWORD });

const HOUR = 3600_000;

test("a damaged snapshot manifest is named, and listing, verify and later backups go on without it", async (t) => {
  const { repo, store, dir } = await newRepository(t);
  const source = join(await tempDir(), "volume");
  await mkdir(source);
  await writeFile(join(source, "f"), random(20_000));
  const first = await backupDirectory(repo, { source, tags: { pvc: "a" } });
  const ref = await repo.writeObject(streamOf(random(30_000)));
  const other = await repo.saveSnapshot(manifest({ root: await repo.writeTree([fileEntry("g", ref)]) }));
  await repo.close();
  const path = join(dir, "repo", "snapshots", first.id);
  const bytes = await readFile(path);
  bytes[20]! ^= 0x04;
  await writeFile(path, bytes);

  const reader = await openRepository(store, PASSWORD, FAST);
  t.after(() => reader.close());
  await assert.rejects(reader.listSnapshots(), (err: unknown) => {
    assert.ok(err instanceof DamagedSnapshotError);
    assert.match(
      err.message,
      new RegExp(`^snapshots/${first.id} cannot be read: snapshot ${first.id} failed authentication`),
    );
    return true;
  });
  const damaged: string[] = [];
  assert.deepEqual(
    (await reader.listSnapshots((d) => damaged.push(d.id))).map((s) => s.id),
    [other.id],
  );
  assert.deepEqual(damaged, [first.id]);

  const report = await verifyRepository(reader);
  assert.equal(report.snapshots, 1, "the readable snapshot is still walked");
  assert.deepEqual(
    report.problems.map((p) => [p.kind, p.snapshot]),
    [["unreadable", first.id]],
  );

  // What the damaged manifest needs is unknown: maintenance must not delete anything.
  await assert.rejects(
    runMaintenance(reader, { full: true, now: () => Date.now() + 25 * HOUR }),
    new RegExp(`stopped before deleting anything: snapshot manifests cannot be read: ${first.id}.*--delete`),
  );

  // A backup choosing its parent skips the damaged manifest (and says so) instead of failing.
  const warnings: string[] = [];
  const next = await backupDirectory(reader, {
    source,
    tags: { pvc: "a" },
    parent: "auto",
    onWarning: (m) => warnings.push(m),
  });
  assert.equal(next.parent, undefined);
  assert.equal(next.stats.bytesRead, 20_000, "without a parent the file is read again");
  assert.match(warnings.join("\n"), new RegExp(`snapshots/${first.id} cannot be read .* not considered as a parent`));

  const location = join(dir, "repo");
  const listed = await skiff(["repo", "snapshots", "--repo", location, "--json"]);
  assert.equal(listed.code, 1);
  assert.match(listed.err, new RegExp(`snapshots/${first.id} cannot be read`));
  assert.equal(JSON.parse(listed.out).length, 2);
  assert.match((await skiff(["repo", "snapshots", "--repo", location, "--delete", "abc"])).err, /full 32-character/);
  assert.equal((await skiff(["repo", "snapshots", "--repo", location, "--delete"])).code, 2);
  assert.match(
    (await skiff(["repo", "snapshots", "--repo", location, `--delete=${"0".repeat(32)}`])).err,
    /no snapshot 0{32} in /,
  );
  const deleted = await skiff(["repo", "snapshots", "--repo", location, "--delete", first.id]);
  assert.equal(deleted.code, 0, deleted.err);
  assert.equal((await skiff(["repo", "snapshots", "--repo", location])).code, 0);
  const gc = await runMaintenance(reader, { full: true, now: () => Date.now() + 25 * HOUR });
  assert.equal(gc.snapshots, 2);
  assert.deepEqual((await verifyRepository(reader, { readData: true })).problems, []);
});

/** The restore read path: readObjectInto reads chunks into reused buffers, opens them in place, writes by offset. */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { IntegrityError, openBlob, splitMasterKey } from "../../../src/repository/crypto.ts";
import { packKey } from "../../../src/repository/pack-format.ts";
import { MissingBlobError, type SkiffRepository } from "../../../src/repository/repository.ts";
import { formatObjectId } from "../../../src/repository/tree-codec.ts";
import type { ObjectRef } from "../../../src/repository/types.ts";
import { manifest, newRepository, random, SMALL, streamOf, textLike } from "./helpers.ts";

/** Reads `ref` with readObjectInto, each write finishing after a random delay (so out of order). */
async function readInto(repo: SkiffRepository, ref: ObjectRef): Promise<{ data: Buffer; inFlight: number }> {
  const out = Buffer.alloc(ref.size);
  let running = 0;
  let inFlight = 0;
  await repo.readObjectInto(ref, async (piece, offset) => {
    running++;
    inFlight = Math.max(inFlight, running);
    // The piece is only valid until this write resolves: copy it after the delay, as a file write would.
    await sleep(Math.random() * 3);
    out.set(piece, offset);
    running--;
  });
  return { data: out, inFlight };
}

const max = SMALL.chunker!.maxSize;

for (const compression of ["none", "zstd"] as const) {
  test(`objects read into reused buffers equal what was written (compression ${compression})`, async (t) => {
    const { repo } = await newRepository(t, { compression });
    const cases: [string, Buffer][] = [
      ["1 byte", random(1)],
      ["max chunk", random(max)],
      ["random, many chunks", random(12 * max + 17)],
      ["text, many chunks", textLike(3_000_000)],
      ["zeros", Buffer.alloc(5 * max)],
    ];
    const refs = [];
    for (const [, data] of cases) refs.push(await repo.writeObject(streamOf(data, 77_777)));
    // Before the snapshot some packs are still being written by this process: those chunks take the copying path.
    for (const [i, [name, data]] of cases.entries()) {
      assert.ok((await readInto(repo, refs[i]!)).data.equals(data), `${name}: before the packs are stored`);
    }
    await repo.saveSnapshot(manifest());
    let most = 0;
    for (const [i, [name, data]] of cases.entries()) {
      const { data: read, inFlight } = await readInto(repo, refs[i]!);
      assert.ok(read.equals(data), `${name}: from stored packs`);
      most = Math.max(most, inFlight);
    }
    assert.ok(most > 1, "several chunks of an object are written at once");
  });
}

test("concurrent objects share the buffers and each gets its own bytes", async (t) => {
  const { repo } = await newRepository(t);
  const datas = [random(7 * max), textLike(5 * max), random(3 * max + 5)];
  const refs = [];
  for (const data of datas) refs.push(await repo.writeObject(streamOf(data)));
  await repo.saveSnapshot(manifest());
  const read = await Promise.all(refs.map((ref) => readInto(repo, ref)));
  for (const [i, r] of read.entries()) assert.ok(r.data.equals(datas[i]!), `object ${i}`);
});

test("a damaged record fails authentication; a missing chunk names the object; a failed write stops the read", async (t) => {
  const { repo, dir } = await newRepository(t);
  const data = random(6 * max);
  const ref = await repo.writeObject(streamOf(data));
  await repo.saveSnapshot(manifest());
  const chunks = await repo.chunksOf(ref);
  assert.ok(chunks.length > 2);

  let writes = 0;
  await assert.rejects(
    repo.readObjectInto(ref, async () => {
      writes++;
      throw new Error("disk full");
    }),
    /disk full/,
  );
  assert.ok(writes < chunks.length, `stopped after ${writes} of ${chunks.length} writes`);

  const blobs = repo.blobs;
  const slot = blobs.table.find(chunks[1]!.id);
  const pack = blobs.packs[blobs.table.packOf(slot)]!;
  const path = join(dir, "repo", packKey(pack.kind, pack.id));
  const original = await readFile(path);
  const damaged = Buffer.from(original);
  damaged[blobs.table.offsetOf(slot) + 100]! ^= 1;
  await writeFile(path, damaged);
  await assert.rejects(
    repo.readObjectInto(ref, async () => {}),
    (err) => err instanceof IntegrityError,
  );
  await writeFile(path, original);

  const unknown = { id: formatObjectId(false, random(16)), size: 1000 };
  await assert.rejects(
    repo.readObjectInto(unknown, async () => {}),
    (err) => {
      assert.ok(err instanceof MissingBlobError);
      assert.match(err.message, new RegExp(`chunk [0-9a-f]{32} of object ${unknown.id}`));
      return true;
    },
  );
  assert.ok((await readInto(repo, ref)).data.equals(data), "the repository still reads after the failures");
});

test("sealed records of single-chunk objects open to their bytes; larger objects and unknown ones are told apart", async (t) => {
  const { repo } = await newRepository(t, { compression: "zstd" });
  const small = [random(5000), textLike(9000), random(1)];
  const refs = [];
  for (const data of small) refs.push(await repo.writeObject(streamOf(data)));
  const large = await repo.writeObject(streamOf(random(3 * max)));
  await repo.saveSnapshot(manifest());
  const source = repo.sealedRecords();
  const keys = splitMasterKey(Buffer.from(source.opening.master));
  for (const [i, ref] of refs.entries()) {
    const opened = await source.withRecord(ref, (id, record) => openBlob(keys, id, record));
    assert.ok(opened?.value.equals(small[i]!), `object ${i}`);
  }
  assert.equal(await source.withRecord(large, () => assert.fail("a chunk list has no single record")), undefined);
  await assert.rejects(
    source.withRecord({ id: formatObjectId(false, random(16)), size: 1 }, () => 1),
    MissingBlobError,
  );
});

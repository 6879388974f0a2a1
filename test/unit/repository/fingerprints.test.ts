import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { backupDirectory, restoreSnapshot } from "../../../src/datamover/index.ts";
import { decodeChunkList, encodeChunkList } from "../../../src/repository/tree-codec.ts";
import type { ObjectRef, WriteOptions } from "../../../src/repository/types.ts";
import { collect, newRepository, SMALL, streamOf, tempDir } from "./helpers.ts";

/** Where the chunker starts looking for a boundary in a chunk: a byte changed before it moves no boundary. */
const unhashedPrefix = SMALL.chunker!.minSize - 32;

test("a changed file's chunks that match the parent's in place and fingerprint are not hashed again", async (t) => {
  const { repo } = await newRepository(t);
  const original = randomBytes(3 << 20);
  const first = await repo.writeObject(streamOf(original));
  const before = await repo.chunksOf(first);
  assert.ok(before.length > 8, `${before.length} chunks`);
  assert.ok(
    before.every((c) => c.fingerprint?.length === 16),
    "new chunk lists carry a fingerprint per chunk",
  );

  // One byte early in the third chunk: every boundary stays, so that chunk keeps its offset and length but not its
  // content, and only its fingerprint can tell.
  const changed = Buffer.from(original);
  const thirdAt = before[0]!.size + before[1]!.size;
  assert.ok(100 < unhashedPrefix);
  changed[thirdAt + 100]! ^= 0xff;
  let matched = 0;
  const second = await repo.writeObject(streamOf(changed), {
    parent: first,
    onParentMatch: (bytes) => {
      matched += bytes;
    },
  });
  const after = await repo.chunksOf(second);
  assert.deepEqual(
    after.map((c) => c.size),
    before.map((c) => c.size),
  );
  assert.equal(matched, changed.length - before[2]!.size, "every chunk but the changed one matched");
  assert.ok(!after[2]!.id.equals(before[2]!.id), "the changed chunk got a new id");
  for (const [i, chunk] of after.entries()) if (i !== 2) assert.ok(chunk.id.equals(before[i]!.id), `chunk ${i}`);
  assert.ok((await collect(repo.readObject(second))).equals(changed));
});

test("an insertion shifts the offsets: nothing matches in place, and content still deduplicates by id", async (t) => {
  const { repo } = await newRepository(t);
  const original = randomBytes(2 << 20);
  const first = await repo.writeObject(streamOf(original));
  const grown = Buffer.concat([randomBytes(1000), original]);
  let matched = 0;
  const second = await repo.writeObject(streamOf(grown), {
    parent: first,
    onParentMatch: (bytes) => {
      matched += bytes;
    },
  });
  assert.equal(matched, 0);
  const beforeIds = new Set((await repo.chunksOf(first)).map((c) => c.id.toString("hex")));
  const shared = (await repo.chunksOf(second)).filter((c) => beforeIds.has(c.id.toString("hex")));
  assert.ok(shared.length > 0, "chunks after the insertion are found again by their ids");
  assert.ok((await collect(repo.readObject(second))).equals(grown));
});

test("a parent that cannot be read, or of one chunk, only means every chunk is hashed", async (t) => {
  const { repo } = await newRepository(t);
  const data = randomBytes(1 << 20);
  const plain = await repo.writeObject(streamOf(data));
  const missing: ObjectRef = { id: `l${"00".repeat(16)}`, size: data.length };
  const single = await repo.writeObject(streamOf(randomBytes(1000)));
  for (const parent of [missing, single]) {
    let matched = 0;
    const options: WriteOptions = { parent, onParentMatch: (bytes) => (matched += bytes) };
    const ref = await repo.writeObject(streamOf(data), options);
    assert.equal(matched, 0);
    assert.equal(ref.id, plain.id, "the same content makes the same object");
  }
});

test("a parent chunk that matches but is no longer indexed is hashed after all", async (t) => {
  const { repo } = await newRepository(t);
  const data = randomBytes(2 << 20);
  const real = await repo.writeObject(streamOf(data));
  const chunks = await repo.chunksOf(real);
  // The same offsets, lengths and fingerprints, under ids the index has never seen.
  const ghost = chunks.map((c) => ({ ...c, id: randomBytes(16) }));
  // biome-ignore lint/complexity/useLiteralKeys: a private method, reached on purpose to store a crafted chunk list
  const listId: Buffer = await repo["storeMetadata"](encodeChunkList(ghost));
  const parent: ObjectRef = { id: `l${listId.toString("hex")}`, size: data.length };
  let matched = 0;
  const again = await repo.writeObject(streamOf(data), { parent, onParentMatch: (bytes) => (matched += bytes) });
  assert.equal(matched, 0, "no chunk was taken from a parent whose chunks are gone");
  assert.equal(again.id, real.id, "each chunk got its real id");
});

test("chunk lists: version 2 carries fingerprints, version 1 (older lists, or a chunk without one) does not", () => {
  const id = (n: number) => Buffer.alloc(16, n);
  const withPrints = [
    { id: id(1), size: 10, fingerprint: Buffer.alloc(16, 7) },
    { id: id(2), size: 20, fingerprint: Buffer.alloc(16, 8) },
  ];
  const encoded = encodeChunkList(withPrints);
  assert.equal(encoded[0], 2);
  assert.deepEqual(decodeChunkList(encoded, "l1"), withPrints);
  const older = encodeChunkList([{ id: id(1), size: 10 }, withPrints[1]!]);
  assert.equal(older[0], 1);
  assert.deepEqual(decodeChunkList(older, "l2"), [
    { id: id(1), size: 10 },
    { id: id(2), size: 20 },
  ]);
  const future = Buffer.from(encoded);
  future[0] = 3;
  assert.throws(() => decodeChunkList(future, "l3"), /chunk list l3 has unknown encoding version 3/);
});

test("a re-backup of a changed large file hands the repository the file's content in the parent", async (t) => {
  const { repo } = await newRepository(t);
  const source = join(await tempDir(), "source");
  await mkdir(source);
  const data = randomBytes(3 << 20);
  await writeFile(join(source, "big.bin"), data);
  const parents: (ObjectRef | undefined)[] = [];
  const write = repo.writeObject.bind(repo);
  repo.writeObject = (stream, options) => {
    parents.push(options?.parent);
    return write(stream, options);
  };
  const first = await backupDirectory(repo, { source });
  data[5000]! ^= 1;
  await writeFile(join(source, "big.bin"), data);
  await utimes(join(source, "big.bin"), new Date(), new Date(Date.now() + 5000));
  const second = await backupDirectory(repo, { source, parent: first.id });
  assert.equal(parents[0], undefined);
  const firstContent = (await repo.readTree(first.root!)).find((e) => e.name === "big.bin")?.content;
  assert.deepEqual(parents[1], firstContent);
  const target = join(await tempDir(), "target");
  await restoreSnapshot(repo, second.id, { target });
  assert.ok((await collect(repo.readObject((await repo.readTree(second.root!))[0]!.content!))).equals(data));
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { compressesData, type RepositoryConfig } from "../../../src/repository/config.ts";
import { openRepository } from "../../../src/repository/open.ts";
import {
  collect,
  FAST,
  manifest,
  newRepository,
  PASSWORD,
  random,
  SMALL,
  storedBytes,
  streamOf,
  textLike,
} from "./helpers.ts";

test("objects of many sizes round-trip, whole and by range", async (t) => {
  const { repo } = await newRepository(t);
  const max = SMALL.chunker!.maxSize;
  const min = SMALL.chunker!.minSize;
  const cases: [string, Buffer][] = [
    ["empty", Buffer.alloc(0)],
    ["1 byte", random(1)],
    ["min chunk", random(min)],
    ["min chunk + 1", random(min + 1)],
    ["max chunk", random(max)],
    ["max chunk + 1", random(max + 1)],
    ["zeros", Buffer.alloc(3 * max)],
    ["random 2 MB", random(2_000_000)],
    ["text 2 MB", textLike(2_000_000)],
  ];
  for (const [name, data] of cases) {
    const ref = await repo.writeObject(streamOf(data, 77_777));
    assert.equal(ref.size, data.length, name);
    assert.ok(Buffer.from(await collect(repo.readObject(ref))).equals(data), `${name}: whole read`);
    if (data.length > 10) {
      const offset = Math.floor(data.length / 3);
      const length = Math.floor(data.length / 2);
      const part = await collect(repo.readObject(ref, { offset, length }));
      assert.ok(part.equals(data.subarray(offset, offset + length)), `${name}: range read`);
    }
  }
});

test("identical content gets the same id and is stored once; a reopened repository reads it", async (t) => {
  const { repo, store } = await newRepository(t);
  const data = Buffer.concat([random(700_000), textLike(500_000)]);
  const a = await repo.writeObject(streamOf(data));
  await repo.saveSnapshot(manifest());
  const sizeAfterFirst = await storedBytes(store);
  const b = await repo.writeObject(streamOf(data, 4096));
  assert.equal(a.id, b.id);
  await repo.saveSnapshot(manifest());
  const sizeAfterSecond = await storedBytes(store);
  // The second write adds no data packs (only index and snapshot objects).
  assert.ok(sizeAfterSecond - sizeAfterFirst < 100_000, `grew by ${sizeAfterSecond - sizeAfterFirst}`);

  // Shared content across objects: a prefix of the same bytes dedups most chunks.
  const reopened = await openRepository(store, PASSWORD, FAST);
  t.after(() => reopened.close());
  assert.ok((await collect(reopened.readObject(a))).equals(data));
  const before = await storedBytes(store);
  await reopened.writeObject(streamOf(Buffer.concat([data, random(1000)])));
  await reopened.saveSnapshot(manifest());
  const added = (await storedBytes(store)) - before;
  assert.ok(added < 400_000, `appending 1000 bytes stored ${added} bytes`);
});

test("with compression zstd, compressible data is stored compressed and random data is not inflated", async (t) => {
  const { repo, store } = await newRepository(t, { compression: "zstd" });
  assert.equal(repo.parts.config.compression, "zstd");
  const hex = Buffer.from(random(1_500_000).toString("hex"), "latin1");
  await repo.writeObject(streamOf(hex));
  await repo.saveSnapshot(manifest());
  const text = await storedBytes(store);
  assert.ok(text < 2_000_000, `3 MB of hex text stored as ${text} bytes`);
  const before = await storedBytes(store);
  await repo.writeObject(streamOf(random(1_000_000)));
  await repo.saveSnapshot(manifest());
  const grown = (await storedBytes(store)) - before;
  assert.ok(grown < 1_000_000 * 1.02 + 4096, `1 MB of random data took ${grown} bytes`);
});

test("new repositories store data chunks uncompressed unless asked; metadata stays compressed", async (t) => {
  const { repo, store } = await newRepository(t);
  assert.equal(repo.parts.config.compression, "none");
  // Hex text: compresses to about half, and no two chunks repeat (so deduplication cannot shrink it either).
  const hex = Buffer.from(random(1_500_000).toString("hex"), "latin1");
  const ref = await repo.writeObject(streamOf(hex));
  await repo.saveSnapshot(manifest());
  const stored = await storedBytes(store);
  assert.ok(stored >= hex.length, `3 MB of hex text stored as ${stored} bytes, so it was compressed`);
  assert.deepEqual(await collect(repo.readObject(ref)), hex);
});

test("a repository made before the compression setting existed keeps compressing", () => {
  const config = { compression: undefined } as unknown as RepositoryConfig;
  assert.equal(compressesData(config), true);
  assert.equal(compressesData({ ...config, compression: "none" }), false);
});

test("aborting a write does not wait for a stalled source", async (t) => {
  const { repo } = await newRepository(t);
  const controller = new AbortController();
  async function* stalled(): AsyncIterable<Uint8Array> {
    yield random(100_000);
    await new Promise(() => {}); // a read that never completes
  }
  const write = repo.writeObject(stalled(), { signal: controller.signal });
  setTimeout(() => controller.abort(new Error("data path is canceled")), 20);
  await assert.rejects(write, /data path is canceled/);
});

test("a failing source fails the write with its own error and the repository stays usable", async (t) => {
  const { repo } = await newRepository(t);
  async function* broken(): AsyncIterable<Uint8Array> {
    yield random(300_000);
    throw new Error("cannot read '/data/f': EIO");
  }
  await assert.rejects(repo.writeObject(broken()), /EIO/);
  const data = random(500_000);
  const ref = await repo.writeObject(streamOf(data));
  assert.ok((await collect(repo.readObject(ref))).equals(data));
});

test("more parallel writers than chunk slots all finish (a partial chunk does not hold a slot)", {
  timeout: 60_000,
}, async (t) => {
  const { repo } = await newRepository(t);
  const slots = repo.parts.chunksInFlight;
  const inputs = Array.from({ length: slots + 3 }, () => random(1_000_000));
  // Small pieces with a pause, so every writer holds a partly filled chunk while the others run.
  async function* slowly(data: Uint8Array): AsyncIterable<Uint8Array> {
    for (let at = 0; at < data.length; at += 50_000) {
      yield data.subarray(at, at + 50_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const refs = await Promise.all(inputs.map((data) => repo.writeObject(slowly(data))));
  for (const [i, ref] of refs.entries()) assert.deepEqual(await collect(repo.readObject(ref)), inputs[i]);
});

test("a snapshot records the bytes its backup added to the repository", async (t) => {
  const { repo } = await newRepository(t);
  const data = random(700_000);
  await repo.writeObject(streamOf(data));
  const first = await repo.saveSnapshot(manifest());
  assert.ok(first.stats.bytesStored >= data.length, `first: ${first.stats.bytesStored} bytes stored`);
  await repo.writeObject(streamOf(data));
  const second = await repo.saveSnapshot(manifest());
  assert.equal(second.stats.bytesStored, 0, "the same content again adds nothing");
});

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { BufferPool } from "../../../src/repository/buffer-pool.ts";
import { Chunker, gearTable } from "../../../src/repository/chunker.ts";
import { GuidedChunker, type NextChunk, ParentChunks } from "../../../src/repository/guided-chunker.ts";
import type { ChunkRef } from "../../../src/repository/tree-codec.ts";
import { collect, newRepository, SMALL, streamOf } from "./helpers.ts";

const params = SMALL.chunker!;
const gear = gearTable(randomBytes(32));
const print = (data: Uint8Array) => createHash("sha256").update(data).digest().subarray(0, 16);

/** Chunks `data` with the plain chunker, as the parent snapshot would have: refs whose id is the fingerprint. */
function parentOf(data: Buffer): ChunkRef[] {
  const chunker = new Chunker(gear, params, new BufferPool(params.maxSize, 2));
  const chunks = [...chunker.push(data), chunker.finish()].filter((c) => c.data.length > 0);
  return chunks.map((c) => ({ id: print(c.data), size: c.data.length, fingerprint: print(c.data) }));
}

/** Runs the guided chunker over `data` in pieces of `piece` bytes; returns its output and the pool it used. */
function guided(data: Buffer, parent: ChunkRef[], piece: number, indexed = (_id: Buffer) => true) {
  const pool = new BufferPool(params.maxSize, 4);
  const fingerprints: number[] = [];
  const hooks = {
    fingerprint: (bytes: Uint8Array) => {
      fingerprints.push(bytes.length);
      return print(bytes);
    },
    indexed,
  };
  const chunker = new GuidedChunker(new Chunker(gear, params, pool), pool, new ParentChunks(parent), hooks);
  const out: NextChunk[] = [];
  for (let at = 0; at < data.length; at += piece) out.push(...chunker.push(data.subarray(at, at + piece)));
  out.push(...chunker.finish());
  chunker.discard();
  return { out: out.filter((n) => n.reuse !== undefined || n.chunk.data.length > 0), pool, fingerprints };
}

/** The bytes the output stands for: reused chunks from the parent's data, the others as they are. */
function contentOf(out: NextChunk[], parentData: Map<string, Buffer>): Buffer {
  return Buffer.concat(out.map((n) => (n.reuse ? parentData.get(n.reuse.id.toString("hex"))! : n.chunk.data)));
}

function dataById(data: Buffer, refs: ChunkRef[]): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  let at = 0;
  for (const r of refs) {
    map.set(r.id.toString("hex"), data.subarray(at, at + r.size));
    at += r.size;
  }
  return map;
}

test("unchanged content is reused chunk by chunk, whatever the size of the pieces it arrives in", () => {
  const data = randomBytes(3 << 20);
  const parent = parentOf(data);
  for (const piece of [1000, 77_777, 1 << 20]) {
    const { out, pool } = guided(data, parent, piece);
    assert.deepEqual(
      out.map((n) => n.reuse?.id.toString("hex")),
      parent.map((r) => r.id.toString("hex")),
      `pieces of ${piece}`,
    );
    assert.equal(pool.outstanding, 0, "every guide buffer went back to the pool");
  }
});

test("an edit in place costs only the chunks it touches, and the boundaries are the chunker's own", () => {
  const original = randomBytes(3 << 20);
  const parent = parentOf(original);
  const changed = Buffer.from(original);
  randomBytes(40_000).copy(changed, 1_500_000);
  const { out, pool, fingerprints } = guided(changed, parent, 65_536);
  const fresh = out.filter((n) => n.reuse === undefined);
  assert.ok(fresh.length >= 1 && fresh.length <= 4, `${fresh.length} chunks stored`);
  assert.ok(out.length - fresh.length > parent.length - 6, "the chunks around the edit are reused");
  assert.deepEqual(
    out.map((n) => (n.reuse ? n.reuse.size : n.chunk.data.length)),
    parentOf(changed).map((r) => r.size),
    "the same boundaries as chunking the whole changed file",
  );
  assert.ok(contentOf(out, dataById(original, parent)).equals(changed));
  // A fingerprint per parent chunk compared: one per chunk reused, plus the one that failed where the edit is.
  assert.equal(fingerprints.length - (out.length - fresh.length), 1);
  for (const n of out) if (n.reuse === undefined && n.chunk.pooled) pool.give(n.chunk.pooled);
  assert.equal(pool.outstanding, 0);
});

test("a file that grew keeps all of the parent's chunks, and one that shrank is chunked to its new end", () => {
  const original = randomBytes(2 << 20);
  const parent = parentOf(original);
  const byId = dataById(original, parent);

  const grown = Buffer.concat([original, randomBytes(300_000)]);
  const more = guided(grown, parent, 100_000);
  assert.deepEqual(
    more.out.slice(0, parent.length).map((n) => n.reuse?.size),
    parent.map((r) => r.size),
  );
  assert.ok(contentOf(more.out, byId).equals(grown));

  const shrunk = original.subarray(0, original.length - 50_000);
  const less = guided(shrunk, parent, 100_000);
  assert.ok(contentOf(less.out, byId).equals(shrunk));
  assert.equal(less.out.at(-1)!.reuse, undefined, "the cut-short last chunk is new");
});

test("an unchanged chunk whose blob is gone is handed on to be stored, as the parent's chunk was cut", () => {
  const data = randomBytes(1 << 20);
  const parent = parentOf(data);
  const { out } = guided(data, parent, 50_000, () => false);
  assert.equal(out.length, parent.length);
  for (const [i, n] of out.entries()) {
    assert.equal(n.reuse, undefined);
    assert.equal(n.chunk.data.length, parent[i]!.size);
  }
  assert.ok(Buffer.concat(out.map((n) => (n.reuse ? Buffer.alloc(0) : n.chunk.data))).equals(data));
});

test("a write with a parent makes the very object a write without one makes, and reads back the same", async (t) => {
  const { repo } = await newRepository(t);
  const original = randomBytes(3 << 20);
  const first = await repo.writeObject(streamOf(original));
  const changed = Buffer.from(original);
  randomBytes(5000).copy(changed, 2_000_000);
  randomBytes(5000).copy(changed, 100_000);
  let matched = 0;
  const withParent = await repo.writeObject(streamOf(changed, 65_536), {
    parent: first,
    onParentMatch: (bytes) => (matched += bytes),
  });
  assert.ok(matched > changed.length / 2, `${matched} bytes matched`);
  const plain = await repo.writeObject(streamOf(changed));
  assert.equal(withParent.id, plain.id);
  assert.ok((await collect(repo.readObject(withParent))).equals(changed));
});

test("a damaged parent list (an empty or an oversized chunk) is not followed, and the content is still right", () => {
  const data = randomBytes(1 << 20);
  const parent = parentOf(data);
  const byId = dataById(data, parent);
  const empty = { id: print(Buffer.alloc(0)), size: 0, fingerprint: print(Buffer.alloc(0)) };
  const huge = { id: randomBytes(16), size: 2 ** 40, fingerprint: randomBytes(16) };
  for (const damaged of [
    [parent[0]!, empty, ...parent.slice(1)],
    [huge, ...parent],
  ]) {
    const { out, pool } = guided(data, damaged, 100_000);
    assert.ok(contentOf(out, byId).equals(data));
    for (const n of out) if (n.reuse === undefined && n.chunk.pooled) pool.give(n.chunk.pooled);
    assert.equal(pool.outstanding, 0);
  }
});

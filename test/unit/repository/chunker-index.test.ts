import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { BufferPool } from "../../../src/repository/buffer-pool.ts";
import { type Chunk, Chunker, gearTable } from "../../../src/repository/chunker.ts";
import { IndexTable } from "../../../src/repository/index-table.ts";

const params = { minSize: 8 * 1024, avgSize: 32 * 1024, maxSize: 128 * 1024 };
const gear = gearTable(Buffer.alloc(32, 7));

function chunkAll(data: Buffer, piece: number): Buffer[] {
  const pool = new BufferPool(params.maxSize, 4);
  const chunker = new Chunker(gear, params, pool, 4096);
  const out: Buffer[] = [];
  const keep = (c: Chunk) => {
    out.push(Buffer.from(c.data));
    if (c.pooled) pool.give(c.pooled);
  };
  for (let i = 0; i < data.length; i += piece) chunker.push(data.subarray(i, i + piece)).forEach(keep);
  keep(chunker.finish());
  return out.filter((c) => c.length > 0);
}

test("chunk boundaries depend on content, not on how the stream is cut", () => {
  const data = randomBytes(2_000_000);
  const a = chunkAll(data, 1 << 20);
  const b = chunkAll(data, 999);
  assert.deepEqual(
    a.map((c) => c.length),
    b.map((c) => c.length),
  );
  assert.ok(Buffer.concat(a).equals(data));
  for (const c of a.slice(0, -1)) assert.ok(c.length >= params.minSize && c.length <= params.maxSize);
  const mean = data.length / a.length;
  assert.ok(mean > params.minSize && mean < params.maxSize, `mean chunk ${mean}`);
});

test("inserting bytes at the front changes only the first chunks", () => {
  const data = randomBytes(2_000_000);
  const before = new Set(chunkAll(data, 65536).map((c) => c.toString("hex")));
  const after = chunkAll(Buffer.concat([randomBytes(100), data]), 65536);
  const same = after.filter((c) => before.has(c.toString("hex"))).length;
  assert.ok(same >= after.length - 2, `${same} of ${after.length} chunks reused`);
});

test("the chunker copies its input, so a source may reuse its buffer", () => {
  const data = randomBytes(300_000);
  const pool = new BufferPool(params.maxSize, 4);
  const chunker = new Chunker(gear, params, pool, 4096);
  const reused = Buffer.alloc(1000);
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += 1000) {
    data.copy(reused, 0, i, i + 1000);
    for (const c of chunker.push(reused)) out.push(Buffer.from(c.data));
    reused.fill(0xee);
  }
  out.push(Buffer.from(chunker.finish().data));
  assert.ok(Buffer.concat(out).equals(data));
});

test("the index table finds every inserted id across growth and keeps the first location", () => {
  const table = new IndexTable(16);
  const ids = Array.from({ length: 20_000 }, () => randomBytes(16));
  for (const [i, id] of ids.entries()) assert.ok(table.insert(id, (i % 7) + 1, i, i * 2).added);
  assert.equal(table.size, ids.length);
  assert.equal(table.insert(ids[5]!, 9, 9, 9).added, false);
  ids.forEach((id, i) => {
    const slot = table.find(id);
    assert.ok(slot >= 0);
    assert.deepEqual([table.packOf(slot), table.offsetOf(slot), table.lengthOf(slot)], [(i % 7) + 1, i, i * 2]);
    assert.ok(table.idOf(slot).equals(id));
  });
  assert.equal(table.find(randomBytes(16)), -1);
  assert.ok(table.byteLength / table.size < 64, `${table.byteLength / table.size} bytes per entry`);
});

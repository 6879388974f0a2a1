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

test("the index table's slots run through every entry once, also after growth and relocation", () => {
  const table = new IndexTable();
  const ids = Array.from({ length: 50_000 }, () => randomBytes(16));
  for (const [i, id] of ids.entries()) table.insert(id, (i % 5) + 1, i, 1);
  const seen = new Set<string>();
  for (let slot = 0; slot < table.capacity; slot++) {
    if (!table.isUsed(slot)) continue;
    const id = table.idOf(slot).toString("hex");
    assert.ok(!seen.has(id));
    seen.add(id);
  }
  assert.equal(seen.size, ids.length);
  const slot = table.find(ids[123]!);
  table.relocate(slot, 7, 8, 9);
  assert.deepEqual([table.packOf(slot), table.offsetOf(slot), table.lengthOf(slot)], [7, 8, 9]);
  assert.throws(() => table.packOf(table.capacity), RangeError);
});

test("index files keep their entries sorted by id and round-trip", async () => {
  const { decodeIndexFile, encodeIndexFile } = await import("../../../src/repository/pack-format.ts");
  const { splitMasterKey } = await import("../../../src/repository/crypto.ts");
  const keys = splitMasterKey(randomBytes(64));
  const count = 5000;
  const entries = Buffer.alloc(count * 28);
  for (let i = 0; i < count; i++) {
    // Many ids share their first four bytes, so ties are broken by the rest.
    const id = randomBytes(16);
    if (i % 3 === 0) id.writeUInt32BE(0xabcdef01, 0);
    id.copy(entries, i * 28);
    entries.writeUInt32LE(i % 2, i * 28 + 16);
    entries.writeUInt32LE(i, i * 28 + 20);
    entries.writeUInt32LE(i * 3, i * 28 + 24);
  }
  const packs = [
    { id: "00".repeat(16), kind: "d" as const },
    { id: "11".repeat(16), kind: "m" as const },
  ];
  const decoded = decodeIndexFile(keys, "x", encodeIndexFile(keys, "x", packs, entries));
  assert.deepEqual(decoded.packs, packs);
  assert.equal(decoded.entryCount, count);
  for (let i = 1; i < count; i++) {
    const a = decoded.entries.subarray((i - 1) * 28, (i - 1) * 28 + 16);
    const b = decoded.entries.subarray(i * 28, i * 28 + 16);
    assert.ok(Buffer.compare(a, b) < 0, `entry ${i} out of order`);
  }
  const original = new Set<string>();
  for (let i = 0; i < count; i++) original.add(entries.toString("hex", i * 28, i * 28 + 28));
  for (let i = 0; i < count; i++) assert.ok(original.has(decoded.entries.toString("hex", i * 28, i * 28 + 28)));
  assert.throws(() => decodeIndexFile(keys, "y", encodeIndexFile(keys, "x", packs, entries)), /authentication/);
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createZstdCompress, zstdCompressSync } from "node:zlib";
import {
  blobId,
  openBlob,
  RECORD_OVERHEAD,
  sealBlob,
  sealInPlace,
  splitMasterKey,
  zstdContentSize,
} from "../../../src/repository/crypto.ts";

test("zstdContentSize reads the size a frame declares, for every field width", () => {
  for (const size of [0, 1, 255, 256, 300, 65_535, 65_791, 70_000, 3 << 20]) {
    const frame = zstdCompressSync(Buffer.alloc(size, 7), { pledgedSrcSize: size });
    assert.equal(zstdContentSize(frame), size, `frame of ${size} bytes`);
  }
});

test("zstdContentSize gives no size for frames without one or for other bytes", async () => {
  const stream = createZstdCompress();
  const parts: Buffer[] = [];
  stream.on("data", (part: Buffer) => parts.push(part));
  const ended = new Promise((resolve) => stream.on("end", resolve));
  stream.end(Buffer.alloc(100_000, 3));
  await ended;
  assert.equal(zstdContentSize(Buffer.concat(parts)), undefined);
  assert.equal(zstdContentSize(Buffer.from("not a zstd frame")), undefined);
  assert.equal(zstdContentSize(Buffer.alloc(3)), undefined);
});

test("large compressible and incompressible blobs round-trip through seal and open", () => {
  const keys = splitMasterKey(randomBytes(64));
  const text = Buffer.from("backup volume snapshot ".repeat(150_000)).subarray(0, 3 << 20);
  const mixed = Buffer.concat([text.subarray(0, 1 << 20), randomBytes(1 << 20)]);
  for (const data of [text, mixed, randomBytes(2 << 20)]) {
    const id = blobId(keys, data);
    const record = sealBlob(keys, id, data);
    assert.ok(openBlob(keys, id, record).equals(data));
  }
  const id = blobId(keys, text);
  assert.ok(sealBlob(keys, id, text).length < text.length / 10, "text is stored compressed");
});

test("a chunk sealed in its own buffer opens to the same bytes, for sizes around the cipher's slices", () => {
  const keys = splitMasterKey(randomBytes(64));
  for (const size of [0, 1, 12, 13, 14, 65_535, 65_536, 65_537, 200_000, 2_097_152 + 7]) {
    const data = randomBytes(size);
    const id = blobId(keys, data);
    const buffer = Buffer.alloc(size + RECORD_OVERHEAD + 5, 0xee);
    data.copy(buffer);
    const length = sealInPlace(keys, id, buffer, size);
    assert.equal(length, size + RECORD_OVERHEAD);
    assert.equal(buffer[0], 0, "not compressed");
    assert.deepEqual(openBlob(keys, id, buffer.subarray(0, length)), data, `${size} bytes`);
    assert.equal(buffer[length], 0xee, "nothing written past the record");
  }
  assert.throws(() => sealInPlace(keys, Buffer.alloc(16), Buffer.alloc(100), 90), /too small/);
});

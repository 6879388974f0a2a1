import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import { compressSmall, SMALL_COMPRESS_LIMIT } from "../../../src/repository/small-compressor.ts";

function text(n: number, seed: number): Buffer {
  const words = ["pack", "blob", "tree", "index", "snapshot", "volume", `w${seed}`];
  let s = "";
  for (let i = 0; s.length < n; i++) s += `${words[(i * 7 + seed) % words.length]} `;
  return Buffer.from(s.slice(0, n));
}

test("one reused context gives independent frames that decompress to each input", () => {
  const inputs = [text(600, 1), randomBytes(3000), text(16 * 1024, 2), text(SMALL_COMPRESS_LIMIT, 3), text(300, 4)];
  for (const input of inputs) {
    const packed = compressSmall(input);
    if (packed === undefined) {
      assert.ok(input.length === 3000, "only the random input may come back uncompressed");
      continue;
    }
    assert.ok(packed.length < input.length);
    assert.deepEqual(zstdDecompressSync(Buffer.from(packed)), input);
  }
});

test("incompressible input leaves the context usable for the next blob", () => {
  assert.equal(compressSmall(randomBytes(8192)), undefined);
  const input = text(8192, 5);
  const packed = compressSmall(input);
  assert.ok(packed !== undefined);
  assert.deepEqual(zstdDecompressSync(Buffer.from(packed)), input);
});

test("inputs above the limit are still compressed", () => {
  const input = text(SMALL_COMPRESS_LIMIT * 2, 6);
  const packed = compressSmall(input);
  assert.ok(packed !== undefined);
  assert.deepEqual(zstdDecompressSync(packed), input);
});

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dataRuns, fileTarget, writeAt, writeStream } from "../../../src/datamover/sparse-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-sparse-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function* pieces(data: Buffer, size: number) {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function write(name: string, data: Buffer, sparse: boolean, pieceSize: number) {
  const path = join(dir, name);
  const handle = await open(path, "w");
  try {
    const result = await writeStream(fileTarget(handle), pieces(data, pieceSize), { sparse });
    return { path, result };
  } finally {
    await handle.close();
  }
}

function pattern(): Buffer {
  // data 5000 B | zeros 3 MiB | data 4096 B | zeros 10000 B (unaligned tail)
  const data = Buffer.alloc(5000 + (3 << 20) + 4096 + 10_000);
  data.fill(7, 0, 5000);
  data.fill(9, 5000 + (3 << 20), 5000 + (3 << 20) + 4096);
  return data;
}

describe("writeStream", () => {
  for (const pieceSize of [4096, 10_007, 1 << 20]) {
    it(`leaves holes for aligned zero blocks and keeps the content (pieces of ${pieceSize} B)`, async () => {
      const data = pattern();
      const { path, result } = await write(`sparse-${pieceSize}`, data, true, pieceSize);
      assert.equal(result.size, data.length);
      assert.ok(result.bytesWritten < 5000 + 4096 + 2 * 4096 * 2, `wrote ${result.bytesWritten} bytes`);
      assert.ok(readFileSync(path).equals(data));
      assert.ok(statSync(path).blocks * 512 < 1 << 20, "the 3 MiB zero run is a hole");
    });
  }

  it("writes every byte when not sparse", async () => {
    const data = pattern();
    const { path, result } = await write("dense", data, false, 65_536);
    assert.equal(result.bytesWritten, data.length);
    assert.ok(readFileSync(path).equals(data));
    assert.ok(statSync(path).blocks * 512 >= data.length);
  });

  it("produces an all-hole file of the right length for all-zero input", async () => {
    const data = Buffer.alloc(1 << 20);
    const { path, result } = await write("zeros", data, true, 100_000);
    assert.equal(result.bytesWritten, 0);
    assert.equal(statSync(path).size, 1 << 20);
    assert.equal(statSync(path).blocks, 0);
  });
});

describe("writeAt", () => {
  it("writes pieces at unaligned offsets in any order, leaving holes only for whole zero blocks", async () => {
    const data = pattern();
    const path = join(dir, "positional");
    const handle = await open(path, "w");
    let written = 0;
    try {
      // Pieces cut at odd places (as chunks are), written last first.
      const cuts = [0, 3001, 5000 + (1 << 20) + 7, 5000 + (3 << 20) + 100, data.length];
      const pieces = cuts.slice(1).map((end, i) => ({ at: cuts[i]!, bytes: data.subarray(cuts[i]!, end) }));
      for (const piece of pieces.reverse()) written += await writeAt(fileTarget(handle), piece.bytes, piece.at, true);
      await handle.truncate(data.length);
    } finally {
      await handle.close();
    }
    assert.ok(readFileSync(path).equals(data));
    assert.ok(written < 5000 + 4096 + 2 * 4096 * 2, `wrote ${written} bytes`);
    assert.ok(statSync(path).blocks * 512 < 1 << 20, "the 3 MiB zero run is a hole");
  });
});

describe("dataRuns", () => {
  it("counts blocks from the file offset the data goes to", () => {
    const data = Buffer.alloc(3 * 4096);
    data[100] = 1; // file offset 4096 - 10 + 100: the second file block
    assert.deepEqual(dataRuns(data, 4096 - 10), [[10, 10 + 4096]]);
    data[5] = 1; // the first, partial block (file offset 4086..4095)
    assert.deepEqual(dataRuns(data, 4096 - 10), [[0, 10 + 4096]]);
    assert.deepEqual(dataRuns(Buffer.alloc(100), 50), []);
  });

  it("merges neighbouring data blocks and treats a short zero tail as a hole", () => {
    const data = Buffer.alloc(5 * 4096 + 100);
    data[10] = 1; // block 0
    data[4096 + 5] = 1; // block 1 (merges with 0)
    data[3 * 4096] = 1; // block 3
    assert.deepEqual(dataRuns(data), [
      [0, 2 * 4096],
      [3 * 4096, 4 * 4096],
    ]);
    data[5 * 4096 + 99] = 1; // the short tail now holds data
    assert.deepEqual(dataRuns(data).at(-1), [5 * 4096, 5 * 4096 + 100]);
  });
});

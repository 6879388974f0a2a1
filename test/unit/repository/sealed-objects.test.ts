import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { blobId, openBlob, splitMasterKey } from "../../../src/repository/crypto.ts";
import { objectSealer, sealedBytes, splitSealed } from "../../../src/repository/sealed-objects.ts";
import { newRepository } from "./helpers.ts";

function sealOne(sealer: ReturnType<typeof objectSealer>, data: Uint8Array, at = 0) {
  const target = Buffer.alloc(at + sealedBytes(data.length) + 8);
  const length = sealer.sealInto(data, target, at);
  return splitSealed(target.buffer as ArrayBuffer, target.byteOffset + at, length);
}

describe("objects sealed off the repository's thread", () => {
  const master = randomBytes(64);
  const keys = splitMasterKey(master);
  const sizes = [1, 15, 16, 17, 63, 64, 65, 4095, 4096, 4097, 70_000, 300_000];

  for (const compress of [false, true]) {
    it(`have the repository's blob id and open as its records (${compress ? "compressed" : "plain"})`, () => {
      const sealer = objectSealer({ master, compress });
      for (const size of sizes) {
        // Half random, half zeros: compressible, so the compressed path really compresses.
        const data = Buffer.concat([randomBytes(size >> 1), Buffer.alloc(size - (size >> 1))]);
        const { id, record } = sealOne(sealer, data, size % 7);
        assert.deepEqual(id, blobId(keys, data), `id of ${size} bytes`);
        assert.deepEqual(openBlob(keys, id, record), data, `contents of ${size} bytes`);
        if (compress && size >= 4096) assert.equal(record[0]! & 1, 1, `${size} bytes are stored compressed`);
        if (!compress) assert.equal(record[0], 0);
      }
    });
  }

  it("use a fresh nonce for every record", () => {
    const sealer = objectSealer({ master, compress: false });
    const data = Buffer.from("same bytes");
    const a = sealOne(sealer, data).record;
    const b = sealOne(sealer, data).record;
    assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
  });
});

describe("the repository's sealed small-object path", () => {
  for (const compression of ["none", "zstd"] as const) {
    it(`stores what writeObject would, deduplicating against it (${compression})`, async (t) => {
      const { repo } = await newRepository(t, { compression });
      const sink = repo.sealedObjects();
      const sealer = objectSealer(sink.sealing);
      const data = Buffer.concat([randomBytes(3000), Buffer.alloc(3000)]);
      const { id, record } = sealOne(sealer, data);
      const sealed = await sink.add(id, record, data.length);
      assert.deepEqual(sealed, await repo.writeObject(single(data)));
      const other = randomBytes(5000);
      const written = await repo.writeObject(single(other));
      const again = sealOne(sealer, other);
      assert.deepEqual(await sink.add(again.id, again.record, other.length), written);
      assert.deepEqual(Buffer.concat(await collect(repo.readObject(sealed))), data);
      assert.ok(sink.maxObjectBytes >= 16 * 1024);
    });
  }
});

async function* single(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of source) out.push(piece);
  return out;
}

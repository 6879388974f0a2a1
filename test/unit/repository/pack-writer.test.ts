import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import type { ObjectStore } from "../../../src/objectstore/types.ts";
import { splitMasterKey } from "../../../src/repository/crypto.ts";
import { decodeTrailer, newPackId, type PackKind, packKey } from "../../../src/repository/pack-format.ts";
import { type PackInfo, PackWriter } from "../../../src/repository/pack-writer.ts";
import { tempDir } from "./helpers.ts";

/** A filesystem store without openWriter: packs are buffered and stored with one put. */
function bufferedOnly(store: ObjectStore): ObjectStore {
  return {
    describe: store.describe,
    put: (key, body) => store.put(key, body),
    get: (key, range) => store.get(key, range),
    stat: (key) => store.stat(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
  };
}

for (const [name, buffered] of [
  ["buffered packs", true],
  ["streamed packs", false],
] as const) {
  test(`${name}: writers that were handed a pack another writer then closed go on to a new one`, async () => {
    const fsStore = await openFilesystemStore(await tempDir());
    const store = buffered ? bufferedOnly(fsStore) : fsStore;
    const keys = splitMasterKey(randomBytes(64));
    const packs: PackInfo[] = [];
    const writer = new PackWriter({
      store,
      keys,
      packSize: 4096,
      maxUploads: 2,
      newPack: (kind: PackKind) => packs.push({ id: newPackId(), kind, state: "stored" }) - 1,
      pack: (number) => packs[number]!,
    });
    // Started in one turn: each is handed the open pack before any of them appends. The first record fills the
    // pack, so the writer that appends it closes the pack while the others still hold it.
    const records = [5000, 100, 200, 300, 6000, 50].map((size) => ({ id: randomBytes(16), data: randomBytes(size) }));
    const placed: Array<{ pack: number; offset: number }> = [];
    await Promise.all(
      records.map((r, i) =>
        writer.write("d", r.id, r.data, (pack, offset) => {
          placed[i] = { pack, offset };
          return true;
        }),
      ),
    );
    await writer.flush();
    for (const [i, r] of records.entries()) {
      const { pack, offset } = placed[i]!;
      const stored = await store.get(packKey("d", packs[pack]!.id));
      const named = decodeTrailer(keys, packs[pack]!.id, stored).find((e) => e.id.equals(r.id));
      assert.ok(named, `record ${i} is named by the trailer of the pack it was placed in`);
      assert.deepEqual({ offset: named.offset, length: named.length }, { offset, length: r.data.length });
      assert.ok(Buffer.from(stored.subarray(offset, offset + r.data.length)).equals(r.data), `record ${i} bytes`);
    }
  });
}

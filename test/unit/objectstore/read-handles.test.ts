import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import { ObjectNotFoundError } from "../../../src/objectstore/types.ts";

test("range reads reuse handles, see every object, and stop at a deleted one", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "skiff-read-handles-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openFilesystemStore(dir);
  // More objects than handles kept open, read in an interleaved order with reads in flight at once.
  const keys = Array.from({ length: 40 }, (_, i) => `packs/d/${String(i).padStart(32, "0")}`);
  await Promise.all(keys.map((key, i) => store.put(key, Buffer.from(`object ${i} `.repeat(10)))));
  const reads = [];
  for (let round = 0; round < 3; round++) {
    for (const [i, key] of keys.entries()) {
      reads.push(store.get(key, { offset: 7, length: 3 }).then((got) => [i, Buffer.from(got).toString()] as const));
    }
  }
  for (const [i, got] of await Promise.all(reads)) assert.equal(got, `object ${i} `.repeat(10).slice(7, 10));

  await assert.rejects(store.get(keys[0]!, { offset: 100, length: 10 }), /outside/);
  await store.delete(keys[0]!);
  await assert.rejects(store.get(keys[0]!, { offset: 0, length: 3 }), ObjectNotFoundError);
  await assert.rejects(store.get("packs/d/missing", { offset: 0, length: 3 }), ObjectNotFoundError);
});

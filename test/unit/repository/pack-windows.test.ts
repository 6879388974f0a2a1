import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { ObjectNotFoundError, type ObjectStore } from "../../../src/objectstore/types.ts";
import { PackWindows } from "../../../src/repository/pack-windows.ts";

/** Objects in memory with positional reads that count themselves and finish later (like a thread pool's). */
function storeOf(objects: Map<string, Buffer>): ObjectStore & { reads: number } {
  const store = {
    reads: 0,
    describe: "memory",
    async put() {},
    async get() {
      return new Uint8Array(0);
    },
    async readInto(key: string, offset: number, target: Uint8Array) {
      store.reads++;
      await new Promise((resolve) => setImmediate(resolve));
      const data = objects.get(key);
      if (data === undefined) throw new ObjectNotFoundError("memory", key);
      const part = data.subarray(offset, offset + target.length);
      target.set(part);
      return part.length;
    },
    async stat() {
      return undefined;
    },
    async *list() {},
    async delete() {},
  };
  return store;
}

test("records in order are served from few reads; each caller gets a copy of its own bytes", async () => {
  const pack = randomBytes(300_000);
  const store = storeOf(new Map([["p", pack]]));
  const windows = new PackWindows(store, 64 * 1024, 2);
  const records: [number, number][] = [];
  for (let at = 0; at + 4000 <= pack.length; at += 4000) records.push([at, 4000]);
  // Ten at a time, as a restore asks for them.
  const read: (Buffer | undefined)[] = [];
  for (let i = 0; i < records.length; i += 10) {
    const batch = records.slice(i, i + 10);
    read.push(...(await Promise.all(batch.map(([offset, length]) => windows.read("p", offset, length)))));
  }
  for (const [i, [offset, length]] of records.entries()) {
    assert.ok(read[i]?.equals(pack.subarray(offset, offset + length)), `record at ${offset}`);
  }
  assert.ok(store.reads <= Math.ceil(pack.length / (64 * 1024)) + 2, `${store.reads} reads`);
  // With every window busy loading, a record elsewhere is left to the store instead of waiting.
  const busy = [windows.read("p", 0, 10), windows.read("p", 100_000, 10)];
  assert.equal(await windows.read("p", 200_000, 10), undefined);
  await Promise.all(busy);
  // Copies: changing one does not change the others or later reads.
  read[0]!.fill(0);
  assert.ok((await windows.read("p", 0, 4000))?.equals(pack.subarray(0, 4000)));
});

test("a record past the end of the object, a large record or a failed read is left to the store", async () => {
  const store = storeOf(new Map([["p", randomBytes(10_000)]]));
  const windows = new PackWindows(store, 64 * 1024, 2);
  assert.equal(await windows.read("p", 9_000, 2_000), undefined);
  assert.equal(await windows.read("p", 0, windows.maxRecord + 1), undefined);
  await assert.rejects(windows.read("missing", 0, 10), ObjectNotFoundError);
  assert.ok((await windows.read("p", 0, 10))?.length === 10);
});

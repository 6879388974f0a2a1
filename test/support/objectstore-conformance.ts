/**
 * The ObjectStore contract as tests, run against every backend. A backend's test file calls
 * `objectStoreConformance(name, factory)`; the factory returns a fresh, empty store for each test.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore } from "../../src/objectstore/types.ts";

export interface StoreUnderTest {
  store: ObjectStore;
  /** Releases what the factory created (temp dir, client connections). */
  cleanup?: () => Promise<void>;
}

export type StoreFactory = () => Promise<StoreUnderTest>;

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const items: ObjectInfo[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const text = (value: string) => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Runs `body` with a fresh store and always releases it. */
function withStore(factory: StoreFactory, body: (store: ObjectStore) => Promise<void>): () => Promise<void> {
  return async () => {
    const { store, cleanup } = await factory();
    try {
      await body(store);
    } finally {
      await cleanup?.();
    }
  };
}

export function objectStoreConformance(name: string, factory: StoreFactory): void {
  const it = (title: string, body: (store: ObjectStore) => Promise<void>) => test(title, withStore(factory, body));

  describe(`ObjectStore conformance: ${name}`, () => {
    it("describes itself without secrets", async (store) => {
      assert.ok(store.describe.length > 0);
      assert.doesNotMatch(store.describe, /secret|password|:[^/]*@/i);
    });

    it("reads back exactly what was written, including empty and binary objects", async (store) => {
      const binary = randomBytes(1024 * 1024 + 7);
      await store.put("data/binary", binary);
      await store.put("data/empty", new Uint8Array(0));
      assert.deepEqual(Buffer.from(await store.get("data/binary")), binary);
      assert.equal((await store.get("data/empty")).byteLength, 0);
    });

    it("replaces an object on put", async (store) => {
      await store.put("k", text("first version"));
      await store.put("k", text("second"));
      assert.equal(decode(await store.get("k")), "second");
      assert.equal((await store.stat("k"))?.size, 6);
    });

    it("throws ObjectNotFoundError naming the key for a missing object", async (store) => {
      await assert.rejects(store.get("no/such/object"), (err: unknown) => {
        assert.ok(err instanceof ObjectNotFoundError, `expected ObjectNotFoundError, got ${String(err)}`);
        assert.equal(err.key, "no/such/object");
        assert.match(err.message, /no\/such\/object/);
        return true;
      });
      await assert.rejects(store.get("no/such/object", { offset: 0, length: 4 }), ObjectNotFoundError);
    });

    it("reads byte ranges", async (store) => {
      const bytes = randomBytes(100_000);
      await store.put("ranged", bytes);
      assert.deepEqual(Buffer.from(await store.get("ranged", { offset: 0, length: 10 })), bytes.subarray(0, 10));
      assert.deepEqual(
        Buffer.from(await store.get("ranged", { offset: 54_321, length: 4096 })),
        bytes.subarray(54_321, 54_321 + 4096),
      );
      assert.deepEqual(Buffer.from(await store.get("ranged", { offset: 99_990, length: 10 })), bytes.subarray(99_990));
      assert.equal((await store.get("ranged", { offset: 500, length: 0 })).byteLength, 0);
    });

    it("rejects a range that reaches past the end of the object", async (store) => {
      await store.put("short", text("0123456789"));
      await assert.rejects(store.get("short", { offset: 5, length: 10 }));
      await assert.rejects(store.get("short", { offset: 20, length: 1 }));
    });

    it("readInto fills a caller's buffer from an offset, short only where the object ends", async (store) => {
      // Optional in the interface, but both backends offer it: restores read records in place through it.
      assert.ok(store.readInto, `${name} has no readInto`);
      const bytes = randomBytes(300_000);
      await store.put("into/object", bytes);
      const target = Buffer.alloc(65_536, 0xee);
      assert.equal(await store.readInto("into/object", 12_345, target), target.length);
      assert.deepEqual(target, bytes.subarray(12_345, 12_345 + target.length));
      // Into the middle of a larger buffer (a view), past the end of the object: what is there, nothing more.
      const big = Buffer.alloc(1000, 0xee);
      const view = big.subarray(100, 900);
      assert.equal(await store.readInto("into/object", bytes.length - 300, view), 300);
      assert.deepEqual(big.subarray(100, 400), bytes.subarray(bytes.length - 300));
      assert.ok(big.subarray(400).every((b) => b === 0xee) && big.subarray(0, 100).every((b) => b === 0xee));
      assert.equal(await store.readInto("into/object", bytes.length, Buffer.alloc(10)), 0, "at the end");
      assert.equal(await store.readInto("into/object", 0, Buffer.alloc(0)), 0, "an empty buffer");
      await assert.rejects(store.readInto("into/missing", 0, Buffer.alloc(10)), ObjectNotFoundError);
      await assert.rejects(store.readInto("into/missing", 0, Buffer.alloc(0)), ObjectNotFoundError);
      await assert.rejects(store.readInto("into/object", -1, Buffer.alloc(10)), /offset/);
    });

    it("stats existing and missing objects", async (store) => {
      const before = Date.now();
      await store.put("a/b/c.bin", randomBytes(1234));
      const info = await store.stat("a/b/c.bin");
      assert.ok(info);
      assert.equal(info.key, "a/b/c.bin");
      assert.equal(info.size, 1234);
      // Clocks of a remote server and this host differ a little; an hour catches unit mistakes (s vs ms).
      assert.ok(Math.abs(info.modified - before) < 3_600_000, `modified ${info.modified} is far from ${before}`);
      assert.equal(await store.stat("a/b/missing"), undefined);
      assert.equal(await store.stat("a/b"), undefined, "a folder-like prefix is not an object");
    });

    it("lists every object under a prefix, in key order, with sizes", async (store) => {
      const keys = ["b/2", "a/1", "b/10", "b/1/x", "a/0", "ba", "c", "b-"];
      await Promise.all(keys.map((key, i) => store.put(key, randomBytes(i + 1))));
      const all = await collect(store.list(""));
      assert.deepEqual(
        all.map((o) => o.key),
        [...keys].sort(),
      );
      for (const item of all) assert.equal(item.size, keys.indexOf(item.key) + 1);
      assert.deepEqual(
        (await collect(store.list("b/"))).map((o) => o.key),
        ["b/1/x", "b/10", "b/2"],
      );
      assert.deepEqual(
        (await collect(store.list("b"))).map((o) => o.key),
        ["b-", "b/1/x", "b/10", "b/2", "ba"],
      );
      assert.deepEqual(
        (await collect(store.list("b/1"))).map((o) => o.key),
        ["b/1/x", "b/10"],
      );
      assert.deepEqual(await collect(store.list("zzz/")), []);
    });

    it("lists many objects across pages", async (store) => {
      const keys = Array.from({ length: 30 }, (_, i) => `many/${String(i).padStart(3, "0")}`);
      for (let i = 0; i < keys.length; i += 10) {
        await Promise.all(keys.slice(i, i + 10).map((key) => store.put(key, text(key))));
      }
      assert.deepEqual(
        (await collect(store.list("many/"))).map((o) => o.key),
        keys,
      );
    });

    it("keeps keys with spaces, unicode and URL-special characters intact", async (store) => {
      const keys = ["odd/with space", "odd/plus+sign", "odd/percent%20", "odd/q?x=1&y#z", "odd/ünïcødé-€"];
      for (const key of keys) await store.put(key, text(key));
      for (const key of keys) assert.equal(decode(await store.get(key)), key);
      const listed = (await collect(store.list("odd/"))).map((o) => o.key);
      assert.deepEqual([...listed].sort(), [...keys].sort());
    });

    it("rejects keys that are not plain relative paths", async (store) => {
      for (const key of ["", "/abs", "a/../b", "a//b", "./a", "a/"]) {
        await assert.rejects(store.put(key, text("x")), /key/, `key '${key}' should be rejected`);
      }
    });

    it("deletes, and deleting a missing object is not an error", async (store) => {
      await store.put("gone", text("x"));
      await store.delete("gone");
      assert.equal(await store.stat("gone"), undefined);
      await assert.rejects(store.get("gone"), ObjectNotFoundError);
      await store.delete("gone");
      await store.delete("never/existed");
      assert.deepEqual(await collect(store.list("")), []);
    });

    it("writes many objects concurrently", async (store) => {
      const bodies = Array.from({ length: 24 }, () => randomBytes(64 * 1024));
      await Promise.all(bodies.map((body, i) => store.put(`par/${String(i).padStart(2, "0")}`, body)));
      const read = await Promise.all(bodies.map((_, i) => store.get(`par/${String(i).padStart(2, "0")}`)));
      for (const [i, body] of read.entries()) assert.deepEqual(Buffer.from(body), bodies[i]);
    });

    it("putIfAbsent writes only when the key is free", async (store) => {
      if (!store.putIfAbsent) return;
      assert.equal(await store.putIfAbsent("lock", text("owner-1")), true);
      assert.equal(await store.putIfAbsent("lock", text("owner-2")), false);
      assert.equal(decode(await store.get("lock")), "owner-1");
      await store.delete("lock");
      assert.equal(await store.putIfAbsent("lock", text("owner-3")), true);
      assert.equal(decode(await store.get("lock")), "owner-3");
    });

    it("putIfAbsent lets exactly one of several concurrent writers win", async (store) => {
      if (!store.putIfAbsent) return;
      const putIfAbsent = store.putIfAbsent.bind(store);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => putIfAbsent("contended", text(`writer-${i}`))),
      );
      assert.equal(results.filter(Boolean).length, 1, `winners: ${JSON.stringify(results)}`);
      const winner = results.indexOf(true);
      assert.equal(decode(await store.get("contended")), `writer-${winner}`);
    });
  });
}

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import { openObjectStore } from "../../../src/objectstore/open.ts";
import { ObjectNotFoundError } from "../../../src/objectstore/types.ts";

async function tempStore(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), "skiff-fs-unit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, store: await openFilesystemStore(join(dir, "s"), { create: true }) };
}

test("put, get (whole and ranged), stat and delete", async (t) => {
  const { store } = await tempStore(t);
  await store.put("a/b/c", Buffer.from("hello world"));
  assert.equal(Buffer.from(await store.get("a/b/c")).toString(), "hello world");
  assert.equal(Buffer.from(await store.get("a/b/c", { offset: 6, length: 5 })).toString(), "world");
  await assert.rejects(store.get("a/b/c", { offset: 8, length: 5 }), /outside/);
  assert.equal((await store.stat("a/b/c"))?.size, 11);
  assert.equal(await store.stat("a/b/none"), undefined);
  await store.put("a/b/c", Buffer.from("new"));
  assert.equal(Buffer.from(await store.get("a/b/c")).toString(), "new");
  await store.delete("a/b/c");
  await store.delete("a/b/c");
  await assert.rejects(store.get("a/b/c"), ObjectNotFoundError);
});

test("a writer's object appears whole on commit; writes may land in any order; abort leaves nothing", async (t) => {
  const { dir, store } = await tempStore(t);
  const writer = await store.openWriter!("packs/d/p1");
  await writer.writeAt(Buffer.from("world"), 6);
  await writer.writeAt(Buffer.from("hello "), 0);
  assert.equal(await store.stat("packs/d/p1"), undefined, "nothing visible before the commit");
  assert.deepEqual(
    (await store.list("packs/")[Symbol.asyncIterator]().next()).done,
    true,
    "the temporary file is not listed",
  );
  await writer.commit();
  assert.equal(Buffer.from(await store.get("packs/d/p1")).toString(), "hello world");
  await assert.rejects(writer.writeAt(Buffer.from("x"), 0), /already committed/);

  const dropped = await store.openWriter!("packs/d/p2");
  await dropped.writeAt(Buffer.from("partial"), 0);
  await dropped.abort();
  assert.equal(await store.stat("packs/d/p2"), undefined);
  assert.deepEqual(await readdir(join(dir, "s", "packs", "d")), ["p1"], "no temporary file is left");
});

test("putIfAbsent writes once", async (t) => {
  const { store } = await tempStore(t);
  assert.equal(await store.putIfAbsent!("k", Buffer.from("1")), true);
  assert.equal(await store.putIfAbsent!("k", Buffer.from("2")), false);
  assert.equal(Buffer.from(await store.get("k")).toString(), "1");
});

test("list returns keys under a prefix in byte order and skips temporary files", async (t) => {
  const { dir, store } = await tempStore(t);
  for (const key of ["p/b", "p/a/z", "p/a-1", "p/ab", "q/x", "p/B"]) await store.put(key, Buffer.from(key));
  await writeFile(join(dir, "s", "p", ".tmp-leftover"), "x");
  const keys: string[] = [];
  for await (const info of store.list("p/")) keys.push(info.key);
  assert.deepEqual(keys, ["p/B", "p/a-1", "p/a/z", "p/ab", "p/b"]);
  const partial: string[] = [];
  for await (const info of store.list("p/a")) partial.push(info.key);
  assert.deepEqual(partial, ["p/a-1", "p/a/z", "p/ab"]);
  const none: string[] = [];
  for await (const info of store.list("missing/")) none.push(info.key);
  assert.deepEqual(none, []);
  assert.deepEqual(
    (await readdir(join(dir, "s", "p"))).filter((n) => n.startsWith(".tmp-")),
    [".tmp-leftover"],
  );
});

test("keys that escape the directory are refused; errors name the location", async (t) => {
  const { dir, store } = await tempStore(t);
  for (const key of ["../x", "/abs", "a//b", "a/./b", ".tmp-x"]) {
    await assert.rejects(store.put(key, Buffer.alloc(1)), /key/);
  }
  await assert.rejects(openFilesystemStore(join(dir, "nope")), new RegExp(`${join(dir, "nope")} does not exist`));
  await writeFile(join(dir, "file"), "x");
  await assert.rejects(openFilesystemStore(join(dir, "file")), /is not a directory/);
});

test("openObjectStore accepts paths and file URLs and rejects unknown schemes", async (t) => {
  const { dir } = await tempStore(t);
  assert.match((await openObjectStore(join(dir, "s"))).describe, /^file:\/\//);
  assert.match((await openObjectStore(`file://${join(dir, "s")}`)).describe, /^file:\/\//);
  await assert.rejects(openObjectStore("ftp://host/x"), /unsupported repository location scheme 'ftp:\/\/'/);
  await assert.rejects(openObjectStore(""), /empty/);
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type SmallFile, SmallFileWriterPool } from "../../../src/datamover/file-writer-pool.ts";
import { blobId, sealBlob, splitMasterKey } from "../../../src/repository/crypto.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-writer-pool-"));
const master = randomBytes(64);
const keys = splitMasterKey(master);
const setup = { master, chown: false, sparse: false, overwrite: false };
const pool = new SmallFileWriterPool(2, setup);
const overwriting = new SmallFileWriterPool(1, { ...setup, overwrite: true });
after(async () => {
  await pool.close();
  await overwriting.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, size: number, extra: Partial<SmallFile> = {}): SmallFile {
  return {
    temporary: join(dir, `.tmp-${name}`),
    path: join(dir, name),
    mode: 0o640,
    uid: 0,
    gid: 0,
    mtime: 1_600_000_000.5,
    size,
    ...extra,
  };
}

function sealed(data: Buffer, compress: boolean) {
  const id = blobId(keys, data);
  return { id, record: sealBlob(keys, id, data, compress) };
}

describe("SmallFileWriterPool", () => {
  it("creates many files with content, mode and mtime, renamed into place", async () => {
    const writes = Array.from({ length: 100 }, (_, i) =>
      pool.write(file(`f${i}`, `file ${i}`.length), { data: Buffer.from(`file ${i}`) }),
    );
    const written = await Promise.all(writes);
    assert.equal(written[7], 6);
    assert.equal(readFileSync(join(dir, "f42"), "utf8"), "file 42");
    assert.equal(lstatSync(join(dir, "f42")).mode & 0o7777, 0o640);
    assert.equal(lstatSync(join(dir, "f42")).mtimeMs, 1_600_000_000_500);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith(".tmp-")),
      [],
    );
  });

  it("opens sealed records (plain or compressed) on its threads, in batches larger than one buffer", async () => {
    const datas = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0 ? randomBytes(100_000 + i) : Buffer.alloc(90_000 + i, `text ${i} `),
    );
    await Promise.all(datas.map((d, i) => pool.write(file(`s${i}`, d.length), sealed(d, i % 2 === 1))));
    for (const [i, d] of datas.entries()) assert.ok(readFileSync(join(dir, `s${i}`)).equals(d), `file s${i}`);
  });

  it("names the file when it cannot be created or its record is damaged, and leaves no temporary file", async () => {
    const missing = join(dir, "no-such-dir", "x");
    await assert.rejects(
      pool.write({ ...file("x", 1), temporary: `${missing}.tmp`, path: missing }, { data: Buffer.from("x") }),
      /cannot restore '.*no-such-dir\/x': ENOENT/,
    );
    const damaged = sealed(randomBytes(5000), false);
    damaged.record[100]! ^= 1;
    await assert.rejects(pool.write(file("damaged", 5000), damaged), /cannot restore '.*damaged': .*authentication/);
    await assert.rejects(pool.write(file("short", 10), { data: Buffer.from("123") }), /restored 3 bytes, expected 10/);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith(".tmp-") || n === "damaged" || n === "short"),
      [],
    );
  });

  it("replaces a directory in the way only when overwriting", async () => {
    mkdirSync(join(dir, "in-the-way", "child"), { recursive: true });
    await assert.rejects(pool.write(file("in-the-way", 4), { data: Buffer.from("data") }), /in-the-way/);
    assert.equal(readdirSync(dir).filter((n) => n === ".tmp-in-the-way").length, 0);
    await overwriting.write(file("in-the-way", 4), { data: Buffer.from("data") });
    assert.equal(readFileSync(join(dir, "in-the-way"), "utf8"), "data");
  });
});

describe("SmallFileWriterPool when threads go away", () => {
  it("fails files still being batched when closed, and later ones at once", async () => {
    const closing = new SmallFileWriterPool(1, setup);
    await closing.write(file("before-close", 1), { data: Buffer.from("x") });
    const queued = assert.rejects(closing.write(file("queued", 1), { data: Buffer.from("y") }), /writer thread/);
    await closing.close();
    await queued;
    await assert.rejects(closing.write(file("after", 1), { data: Buffer.from("z") }), /writer thread/);
  });
});

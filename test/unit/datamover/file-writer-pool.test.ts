import assert from "node:assert/strict";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SmallFileWriterPool } from "../../../src/datamover/file-writer-pool.ts";
import type { SmallFileJob } from "../../../src/datamover/file-writer-worker.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-writer-pool-"));
const pool = new SmallFileWriterPool(2);
after(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function job(name: string, data: Uint8Array, extra: Partial<SmallFileJob> = {}): SmallFileJob {
  return {
    temporary: join(dir, `.tmp-${name}`),
    path: join(dir, name),
    data,
    mode: 0o640,
    uid: 0,
    gid: 0,
    mtime: 1_600_000_000.5,
    chown: false,
    sparse: false,
    overwrite: false,
    ...extra,
  };
}

describe("SmallFileWriterPool", () => {
  it("creates many files with content, mode and mtime, renamed into place", async () => {
    const writes = Array.from({ length: 100 }, (_, i) => pool.write(job(`f${i}`, Buffer.from(`file ${i}`))));
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

  it("names the file when it cannot be created, and leaves no temporary file", async () => {
    const missing = join(dir, "no-such-dir", "x");
    await assert.rejects(
      pool.write({ ...job("x", Buffer.from("x")), temporary: `${missing}.tmp`, path: missing }),
      /cannot restore '.*no-such-dir\/x': ENOENT/,
    );
  });

  it("replaces a directory in the way only when overwriting", async () => {
    mkdirSync(join(dir, "in-the-way", "child"), { recursive: true });
    await assert.rejects(pool.write(job("in-the-way", Buffer.from("data"))), /in-the-way/);
    assert.equal(readdirSync(dir).filter((n) => n === ".tmp-in-the-way").length, 0);
    await pool.write(job("in-the-way", Buffer.from("data"), { overwrite: true }));
    assert.equal(readFileSync(join(dir, "in-the-way"), "utf8"), "data");
  });
});

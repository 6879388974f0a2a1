import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { JobError } from "../../../src/datamover/batch-worker-pool.ts";
import { sumFileSizes } from "../../../src/datamover/estimate.ts";
import type { SealedFile } from "../../../src/datamover/file-reader-worker.ts";
import { SmallFileReader } from "../../../src/datamover/small-file-reader.ts";
import { splitSealed } from "../../../src/repository/sealed-objects.ts";
import { newRepository, tempDir } from "../repository/helpers.ts";

test("small files are sealed by the reader thread or, when it falls behind with --parallel 3+, the main thread", async (t) => {
  const { repo } = await newRepository(t);
  const dir = join(await tempDir(), "files");
  mkdirSync(dir);
  const files = Array.from({ length: 300 }, (_, i) => ({ path: join(dir, `f${i}`), data: randomBytes(1 + i * 37) }));
  for (const f of files) writeFileSync(f.path, f.data);
  const reader = new SmallFileReader(repo, { parallelFiles: 4 });
  try {
    // All at once: the backlog makes the main thread take some of them.
    const sealed = await Promise.all(
      files.map((f) => reader.read({ path: f.path, expectedSize: f.data.length }, f.path)),
    );
    const byMain = sealed.filter((s) => !(s instanceof Uint8Array) && s.shares === 0).length;
    assert.ok(byMain > 0 && byMain < files.length, `${byMain} of ${files.length} sealed on the main thread`);
    for (const [i, result] of sealed.entries()) {
      assert.ok(!(result instanceof Uint8Array));
      const file = result as SealedFile;
      const { id, record } = splitSealed(file.buffer, file.at, file.length);
      const ref = await reader.sink!.add(id, record, file.size);
      reader.release(file);
      const back: Uint8Array[] = [];
      for await (const piece of repo.readObject(ref)) back.push(piece);
      assert.deepEqual(Buffer.concat(back), files[i]!.data);
    }
    const missing = Array.from({ length: 100 }, (_, i) =>
      reader.read({ path: join(dir, `missing${i}`), expectedSize: 10 }, `missing${i}`).then(
        () => assert.fail("a missing file was read"),
        (err: unknown) => {
          assert.ok(err instanceof JobError);
          assert.equal(err.code, "ENOENT");
          assert.match(err.message, new RegExp(`cannot read 'missing${i}'`));
        },
      ),
    );
    await Promise.all(missing);
  } finally {
    await reader.close();
  }
  // With fewer parallel files (two cores by default) the reader thread seals every one, however long the queue.
  const onlyReader = new SmallFileReader(repo, { parallelFiles: 2 });
  try {
    const sealed = await Promise.all(
      files.map((f) => onlyReader.read({ path: f.path, expectedSize: f.data.length }, f.path)),
    );
    assert.equal(sealed.filter((s) => !(s instanceof Uint8Array) && s.shares === 0).length, 0);
    for (const file of sealed) onlyReader.release(file as SealedFile);
  } finally {
    await onlyReader.close();
  }
});

test("the reader thread starts with the first small file, not before", async (t) => {
  const { repo } = await newRepository(t);
  const dir = join(await tempDir(), "tree");
  mkdirSync(join(dir, "a"), { recursive: true });
  writeFileSync(join(dir, "a", "f"), randomBytes(5000));
  // Threads of this process (Linux): a worker thread is one of them while it runs.
  const threads = () => readdirSync("/proc/self/task").length;
  const before = threads();
  const reader = new SmallFileReader(repo, { parallelFiles: 2 });
  try {
    // A backup of large files only (or the estimate, which runs on this thread) never pays for the reader.
    assert.equal(await sumFileSizes(dir), 5000);
    assert.equal(threads(), before, "no thread before the first small file");
    const sealed = (await reader.read({ path: join(dir, "a", "f"), expectedSize: 5000 }, "f")) as SealedFile;
    assert.equal(sealed.size, 5000, "a new thread read the file");
    assert.ok(threads() > before, "the reader thread started");
  } finally {
    await reader.close();
  }
});

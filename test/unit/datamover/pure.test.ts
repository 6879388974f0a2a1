import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { compareNames, isUnchangedFile, sameEntries, sortEntries } from "../../../src/datamover/entry-metadata.ts";
import { sumFileSizes } from "../../../src/datamover/estimate.ts";
import { Limiter } from "../../../src/datamover/limiter.ts";
import { selectParentSnapshot } from "../../../src/datamover/parent.ts";
import { type Progress, ProgressMeter } from "../../../src/datamover/progress.ts";
import { secondsFromNs } from "../../../src/datamover/restore-attributes.ts";
import type { SnapshotManifest, TreeEntry } from "../../../src/repository/types.ts";

const file: TreeEntry = {
  name: "a",
  type: "file",
  mode: 0o644,
  uid: 1,
  gid: 2,
  mtimeNs: "1600000000123456789",
  size: 10,
  content: { id: "c1", size: 10 },
  inode: "42",
  ctimeNs: "1600000000999999999",
};

describe("unchanged file detection", () => {
  it("reuses only when size, mtime, mode, owner, inode and ctime all match", () => {
    const current = { ...file, content: undefined };
    assert.equal(isUnchangedFile(current, file), true);
    for (const change of [
      { size: 11 },
      { mtimeNs: "1600000000123456788" },
      { mode: 0o600 },
      { uid: 7 },
      { gid: 7 },
      { inode: "43" },
      { ctimeNs: "1" },
      { type: "symlink" as const },
    ]) {
      assert.equal(isUnchangedFile({ ...current, ...change }, file), false, JSON.stringify(change));
    }
    assert.equal(isUnchangedFile(current, undefined), false);
    assert.equal(isUnchangedFile(current, { ...file, inode: undefined }), false, "no inode recorded: read again");
    assert.equal(isUnchangedFile(current, { ...file, content: undefined }), false, "non-empty without content");
  });
});

describe("entry order", () => {
  it("sorts by UTF-8 bytes, which differs from UTF-16 order for astral characters", () => {
    // U+FF5E (3 UTF-8 bytes EF BD 9E) sorts before U+1D11E (F0 ...) in bytes, after it in UTF-16 units.
    assert.ok(compareNames("\uff5e", "𝄞") < 0);
    assert.ok(compareNames("a", "b") < 0);
    assert.ok(compareNames("B", "a") < 0);
    const names = sortEntries([
      { ...file, name: "𝄞" },
      { ...file, name: "\uff5e" },
      { ...file, name: "Z" },
    ]).map((e) => e.name);
    assert.deepEqual(names, ["Z", "\uff5e", "𝄞"]);
  });

  it("compares listings field by field", () => {
    assert.equal(sameEntries([file], [{ ...file }]), true);
    assert.equal(sameEntries([file], [{ ...file, content: { id: "c2", size: 10 } }]), false);
    assert.equal(sameEntries([file], [{ ...file, subtree: "t" }]), false);
    assert.equal(sameEntries([file], []), false);
  });
});

describe("Limiter", () => {
  it("never runs more than the limit at once and runs everything", async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
          return i;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.equal(limiter.running, 0);
  });

  it("frees the slot of a failed task", async () => {
    const limiter = new Limiter(1);
    await assert.rejects(
      limiter.run(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await limiter.run(async () => "next"), "next");
  });

  it("rejects a nonsensical limit", () => {
    assert.throws(() => new Limiter(0), /positive integer/);
  });
});

describe("ProgressMeter", () => {
  it("throttles reports, never reports done above total, and always reports the end", () => {
    let clock = 0;
    const seen: Progress[] = [];
    const meter = new ProgressMeter({ onProgress: (p) => seen.push(p), intervalMs: 500, now: () => clock });
    meter.setTotal(100);
    meter.add(10);
    clock = 100;
    meter.add(10);
    clock = 600;
    meter.add(200);
    meter.finish();
    assert.deepEqual(seen, [
      { bytesDone: 0, totalBytes: 100 },
      { bytesDone: 220, totalBytes: 220 },
    ]);
    meter.add(5);
    meter.finish();
    assert.deepEqual(seen.at(-1), { bytesDone: 225, totalBytes: 225 }, "the end is reported despite the throttle");
  });
});

describe("parent selection", () => {
  const snap = (id: string, path: string, tags: Record<string, string>, startTime: string): SnapshotManifest => ({
    id,
    startTime,
    endTime: startTime,
    hostname: "h",
    source: { path, volumeMode: "Filesystem" },
    tags,
    stats: { files: 0, dirs: 0, bytes: 0, bytesRead: 0, bytesStored: 0, errors: 0 },
  });
  const all = [
    snap("old", "/v", { pvc: "a", backup: "b1" }, "2026-01-01T00:00:00.000Z"),
    snap("new", "/v", { pvc: "a", backup: "b2" }, "2026-01-02T00:00:00.000Z"),
    snap("other-pvc", "/v", { pvc: "b", backup: "b3" }, "2026-01-03T00:00:00.000Z"),
    snap("other-path", "/w", { pvc: "a", backup: "b4" }, "2026-01-04T00:00:00.000Z"),
  ];
  it("picks the latest snapshot of the same source with matching tags", () => {
    const criteria = { path: "/v", volumeMode: "Filesystem" as const, tags: { pvc: "a", backup: "b5" } };
    assert.equal(selectParentSnapshot(all, criteria), undefined, "every tag must match by default");
    assert.equal(selectParentSnapshot(all, { ...criteria, matchTags: ["pvc"] })?.id, "new");
    assert.equal(selectParentSnapshot(all, { ...criteria, tags: { pvc: "a", backup: "b1" } })?.id, "old");
    assert.equal(selectParentSnapshot(all, { ...criteria, volumeMode: "Block", matchTags: [] }), undefined);
  });
});

describe("secondsFromNs", () => {
  it("keeps sub-microsecond precision for present-day times", () => {
    const ns = 1_700_000_000_123_456_789n;
    const seconds = secondsFromNs(ns.toString());
    const back = BigInt(Math.round(seconds * 1e6)) * 1000n;
    assert.ok(back - ns < 1000n && ns - back < 1000n);
    assert.equal(secondsFromNs("0"), 0);
  });
});

describe("size estimate", () => {
  it("sums regular file sizes below a directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-estimate-"));
    try {
      mkdirSync(join(dir, "a", "b"), { recursive: true });
      writeFileSync(join(dir, "one"), Buffer.alloc(1000));
      writeFileSync(join(dir, "a", "b", "two"), Buffer.alloc(234));
      symlinkSync("one", join(dir, "link"));
      assert.equal(await sumFileSizes(dir), 1234);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("size estimate of large directories", () => {
  it("samples the files of a large directory and stays close to the sum, a slice at a time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-estimate-"));
    try {
      let sum = 0;
      for (let i = 0; i < 500; i++) {
        const size = 100 + ((i * 7919) % 3000);
        writeFileSync(join(dir, `f${i}`), Buffer.alloc(size));
        sum += size;
      }
      const estimate = await sumFileSizes(dir);
      assert.ok(Math.abs(estimate - sum) < sum * 0.15, `${estimate} is within 15% of ${sum}`);
      assert.equal(await sumFileSizes(dir, { sliceEntries: 7 }), estimate, "slices change nothing but the turns");
      const stop = new AbortController();
      stop.abort(new Error("backup finished"));
      await assert.rejects(sumFileSizes(dir, { signal: stop.signal }), /backup finished/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

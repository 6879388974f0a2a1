import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import { runMaintenance } from "../../../src/repository/maintenance.ts";
import { openRepository } from "../../../src/repository/open.ts";
import { verifyRepository } from "../../../src/repository/verify.ts";
import { collect, FAST, manifest, newRepository, PASSWORD, random, streamOf } from "./helpers.ts";

const writerScript = fileURLToPath(new URL("../../support/repository-writer.ts", import.meta.url));

/** Runs the writer until it has uploaded several packs past its snapshot, then kills it with SIGKILL. */
function runAndKill(repoDir: string): Promise<{ snapshot: string; object: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writerScript, repoDir, PASSWORD], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let found: { snapshot: string; object: string } | undefined;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /snapshot (\w+) (\w+)/.exec(out);
      if (m) found = { snapshot: m[1]!, object: m[2]! };
    });
    // Kill once two data packs beyond the snapshot's are stored (and more are being written).
    const poll = setInterval(async () => {
      if (found === undefined) return;
      const packs = await readdir(join(repoDir, "packs", "d")).catch(() => []);
      if (packs.filter((p) => !p.startsWith(".")).length >= 3) {
        clearInterval(poll);
        child.kill("SIGKILL");
      }
    }, 10);
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("exit", (_code, signal) => {
      clearInterval(poll);
      if (signal === "SIGKILL" && found) resolve(found);
      else reject(new Error(`writer ended without being killed: ${err}`));
    });
  });
}

test("a writer killed with SIGKILL leaves a repository that opens, verifies and takes the next backup", async (t) => {
  const { repo, dir } = await newRepository(t);
  await repo.close();
  const repoDir = join(dir, "repo");
  const killed = await runAndKill(repoDir);

  const store = await openFilesystemStore(repoDir);
  const after = await openRepository(store, PASSWORD, FAST);
  t.after(() => after.close());
  const report = await verifyRepository(after, { readData: true });
  assert.deepEqual(report.problems, []);
  assert.ok(report.unindexedPacks > 0, "the killed writer left packs no index names");
  const snapshot = await after.loadSnapshot(killed.snapshot);
  const [first] = await after.readTree(snapshot.root!);
  assert.equal(first?.content?.id, killed.object);
  assert.equal((await collect(after.readObject(first!.content!))).length, 300_000);

  // The next backup works, and so does full maintenance once the dead writer's lock and packs are old enough.
  const data = random(400_000);
  const ref = await after.writeObject(streamOf(data));
  const root = await after.writeTree([{ ...first!, name: "next", content: ref, size: ref.size }]);
  await after.saveSnapshot(manifest({ root }));
  const later = Date.now() + 48 * 3600_000;
  const gc = await runMaintenance(after, { full: true, now: () => later });
  assert.equal(gc.staleLocksRemoved, 1);
  assert.ok(gc.unindexedPacksDeleted > 0);
  const final = await verifyRepository(after, { readData: true });
  assert.deepEqual(final.problems, []);
  assert.equal(final.unindexedPacks, 0);
  assert.ok((await collect(after.readObject(ref))).equals(data));
});

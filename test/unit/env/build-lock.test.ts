import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { acquireFileLock } from "../../env/binaries.ts";

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function lockPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "skiff-unit-lock-"));
  dirs.push(dir);
  return join(dir, "component.lock");
}

describe("acquireFileLock", () => {
  it("makes a second taker wait until the first releases", async () => {
    const file = await lockPath();
    const events: string[] = [];
    const releaseFirst = await acquireFileLock(file);
    events.push("first acquired");
    let waitedFor = 0;
    const second = acquireFileLock(
      file,
      (pid) => {
        waitedFor = pid;
        events.push("second waiting");
      },
      20,
    ).then((release) => {
      events.push("second acquired");
      return release;
    });
    while (events.length < 2) await new Promise((r) => setTimeout(r, 10));
    events.push("first released");
    await releaseFirst();
    const releaseSecond = await second;
    assert.deepEqual(events, ["first acquired", "second waiting", "first released", "second acquired"]);
    assert.equal(waitedFor, process.pid);
    assert.equal(await readFile(file, "utf8"), String(process.pid));
    await releaseSecond();
  });

  it("takes over a lock left behind by a process that no longer runs", async () => {
    const file = await lockPath();
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid ?? 0;
    assert.ok(dead > 0);
    await writeFile(file, String(dead));
    let waited = false;
    const release = await acquireFileLock(
      file,
      () => {
        waited = true;
      },
      20,
    );
    assert.equal(waited, false);
    await release();
  });
});

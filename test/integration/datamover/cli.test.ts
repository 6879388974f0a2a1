/**
 * `skiff data-mover backup|restore` as the backup pod runs it: a child process against a real repository on the
 * filesystem store. Covers cancellation (SIGTERM, exit 143, no snapshot), a crash (SIGKILL) followed by verify
 * and a further backup, block mode, unreadable files, and clear errors for bad input.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { bytes, isRoot } from "../../support/datamover-tree.ts";

const main = fileURLToPath(new URL("../../../src/main.ts", import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every child started, so a failed test cannot leave one running (and keep this file's process alive). */
const children = new Set<ChildProcess>();

function start(
  args: string[],
  options: { uid?: number; gid?: number } = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [main, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SKIFF_LOG_LEVEL: "warn" },
    ...options,
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

function skiff(args: string[], options: { uid?: number; gid?: number } = {}): Promise<Run> {
  return start(args, options).done;
}

/** Resolves once the child's stdout has a progress line with some bytes done. */
function firstProgress(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (d: Buffer) => {
      text += d;
      if (/"doneBytes":[1-9]/.test(text)) {
        child.stdout!.off("data", onData);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

describe("skiff data-mover (CLI)", { timeout: 180_000 }, () => {
  let work: string;
  let repo: string;
  let passwordFile: string;
  let repoFlags: string[];
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "skiff-dm-cli-"));
    chmodSync(work, 0o755);
    repo = join(work, "repo");
    passwordFile = join(work, "password");
    writeFileSync(passwordFile, "cli test password\n");
    repoFlags = ["--repo", repo, "--password-file", passwordFile];
    const init = await skiff(["repo", "init", ...repoFlags]);
    assert.equal(init.code, 0, init.stderr);
  });
  /** `skiff data-mover restore` of `snapshot` into `target` with this repository, plus `extra` flags. */
  const restoreSnapshot = (snapshot: string, target: string, ...extra: string[]) =>
    skiff(["data-mover", "restore", ...repoFlags, "--snapshot", snapshot, "--target", target, ...extra]);
  after(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  it("backs up and restores a directory, printing progress lines and a summary", async () => {
    const source = join(work, "plain");
    mkdirSync(join(source, "sub"), { recursive: true });
    writeFileSync(join(source, "sub", "a"), bytes(1, 100_000));
    writeFileSync(join(source, "b"), "b");
    const backup = await skiff(["data-mover", "backup", ...repoFlags, "--source", source, "--tag", "pvc=plain"]);
    assert.equal(backup.code, 0, backup.stderr);
    const summary = lastJson(backup.stdout);
    assert.match(String(summary.snapshotID), /^[0-9a-f]{32}$/);
    assert.equal((summary.stats as { files: number }).files, 2);
    assert.equal(summary.emptySnapshot, false);
    assert.deepEqual(summary.source, { byPath: source, volumeMode: "Filesystem" });
    const progressLines = backup.stdout
      .trim()
      .split("\n")
      .slice(0, -1)
      .map((l) => JSON.parse(l));
    assert.ok(progressLines.length > 0);
    assert.deepEqual(Object.keys(progressLines[0]), ["totalBytes", "doneBytes"]);

    const target = join(work, "plain-restored");
    const restore = await restoreSnapshot(String(summary.snapshotID), target);
    assert.equal(restore.code, 0, restore.stderr);
    assert.ok(readFileSync(join(target, "sub", "a")).equals(bytes(1, 100_000)));

    const again = await restoreSnapshot(String(summary.snapshotID), target);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not empty.*--overwrite/);
  });

  it("explains bad input", async () => {
    const missing = await skiff(["data-mover", "backup", ...repoFlags, "--source", join(work, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /source '.*nope' does not exist/);
    const noSource = await skiff(["data-mover", "backup", ...repoFlags]);
    assert.equal(noSource.code, 2);
    assert.match(noSource.stderr, /--source is required/);
    const unknown = await restoreSnapshot("abcdef", join(work, "x"));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no snapshot 'abcdef'/);
    const wrongPassword = join(work, "wrong");
    writeFileSync(wrongPassword, "not it\n");
    const denied = await skiff([
      "data-mover",
      "backup",
      "--repo",
      repo,
      "--password-file",
      wrongPassword,
      "--source",
      work,
    ]);
    assert.equal(denied.code, 3);
    assert.match(denied.stderr, /wrong password/);
  });

  it("round-trips a block stream and restores it sparse", async () => {
    const image = join(work, "disk.img");
    const fd = openSync(image, "w");
    writeSync(fd, bytes(7, 1 << 20), 0, 1 << 20, 2 << 20);
    closeSync(fd);
    execFileSync("truncate", ["-s", String(6 << 20), image]);
    const backup = await skiff(["data-mover", "backup", ...repoFlags, "--volume-mode", "Block", "--source", image]);
    assert.equal(backup.code, 0, backup.stderr);
    const summary = lastJson(backup.stdout);
    assert.equal((summary.source as { volumeMode: string }).volumeMode, "Block");
    const target = join(work, "disk-restored.img");
    const restore = await restoreSnapshot(String(summary.snapshotID), target, "--sparse");
    assert.equal(restore.code, 0, restore.stderr);
    assert.ok(readFileSync(target).equals(readFileSync(image)));
    assert.ok(statSync(target).blocks * 512 <= (1 << 20) + 65536, "zero runs restored as holes");
  });

  it("a SIGTERM cancels: 'data path is canceled', exit 143, no snapshot saved", async () => {
    const fifo = join(work, "stream");
    execFileSync("mkfifo", [fifo]);
    const termLog = join(work, "termination-log");
    const run = start([
      "data-mover",
      "backup",
      ...repoFlags,
      "--volume-mode",
      "Block",
      "--source",
      fifo,
      "--termination-log",
      termLog,
    ]);
    const writer = openSync(fifo, "w");
    writeSync(writer, bytes(11, 4 << 20));
    await firstProgress(run.child);
    run.child.kill("SIGTERM");
    // The writer stays open: cancellation must not wait for the pending read of the stream.
    const result = await run.done;
    closeSync(writer);
    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stderr, /data path is canceled/);
    assert.equal(readFileSync(termLog, "utf8"), "data path is canceled");
    const snapshots = await skiff(["repo", "snapshots", ...repoFlags, "--json"]);
    assert.equal(snapshots.code, 0, snapshots.stderr);
    assert.ok(!snapshots.stdout.includes(fifo), "no snapshot of the cancelled stream");
  });

  it("after a backup is killed with SIGKILL the repository verifies and the next backup succeeds", async () => {
    const fifo = join(work, "killed-stream");
    execFileSync("mkfifo", [fifo]);
    const run = start(["data-mover", "backup", ...repoFlags, "--volume-mode", "Block", "--source", fifo]);
    const writer = openSync(fifo, "w");
    // Enough to fill packs, so some may be on storage when the process dies.
    writeSync(writer, bytes(12, 24 << 20));
    await firstProgress(run.child);
    run.child.kill("SIGKILL");
    const result = await run.done;
    closeSync(writer);
    assert.equal(result.signal, "SIGKILL");
    const verify = await skiff(["repo", "verify", ...repoFlags]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const source = join(work, "after-kill");
    mkdirSync(source);
    writeFileSync(join(source, "f"), bytes(13, 50_000));
    const next = await skiff(["data-mover", "backup", ...repoFlags, "--source", source]);
    assert.equal(next.code, 0, next.stderr);
  });

  it("skips and names an unreadable file, or fails with --fail-on-error", {
    skip: !isRoot && "needs root to switch users",
  }, async () => {
    // Root reads everything, so the backup runs as 'nobody' with one file only root may read.
    const source = join(work, "partly-unreadable");
    mkdirSync(source);
    writeFileSync(join(source, "readable"), "fine");
    writeFileSync(join(source, "secret"), "root only");
    chmodSync(join(source, "secret"), 0o600);
    const shared = join(work, "shared-repo");
    const sharedPassword = join(work, "shared-password");
    writeFileSync(sharedPassword, "shared\n");
    chmodSync(sharedPassword, 0o644);
    const flags = ["--repo", shared, "--password-file", sharedPassword];
    assert.equal((await skiff(["repo", "init", ...flags])).code, 0);
    execFileSync("chown", ["-R", "65534:65534", shared]);
    const asNobody = { uid: 65534, gid: 65534 };
    const backup = await skiff(["data-mover", "backup", ...flags, "--source", source], asNobody);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stderr, /skipped 'secret'/);
    const summary = lastJson(backup.stdout);
    assert.equal((summary.stats as { errors: number; files: number }).errors, 1);
    assert.deepEqual(
      (summary.skipped as Array<{ path: string }>).map((s) => s.path),
      ["secret"],
    );
    const strict = await skiff(["data-mover", "backup", ...flags, "--source", source, "--fail-on-error"], asNobody);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /secret/);
    chownSync(source, 0, 0);
  });
});

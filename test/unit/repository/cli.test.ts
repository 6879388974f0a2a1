import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runSkiff } from "../../support/run-skiff.ts";
import { tempDir } from "./helpers.ts";

const skiff = runSkiff;

test("repo init, connect, snapshots, verify and maintenance with clear errors and exit codes", async (t) => {
  const dir = await tempDir(t);
  const repo = join(dir, "repo");
  const pw = join(dir, "pw");
  const wrong = join(dir, "wrong");
  await writeFile(pw, "s3cret\n");
  await writeFile(wrong, "nope\n");

  const init = await skiff(["repo", "init", "--repo", repo, "--password-file", pw]);
  assert.equal(init.code, 0, init.err);
  assert.match(init.out, /created repository .* \(compression: none\)/);
  const zstd = await skiff(["repo", "init", "--repo", join(dir, "zstd"), "--password-file", pw, "--compression=zstd"]);
  assert.equal(zstd.code, 0, zstd.err);
  assert.match(zstd.out, /\(compression: zstd\)/);
  const badMode = await skiff([
    "repo",
    "init",
    "--repo",
    join(dir, "lz4"),
    "--password-file",
    pw,
    "--compression",
    "lz4",
  ]);
  assert.equal(badMode.code, 2);
  assert.match(badMode.err, /--compression must be one of none, zstd, not 'lz4'/);
  assert.equal((await skiff(["repo", "init", "--repo", repo, "--password-file", pw])).code, 1);

  const connect = await skiff(["repo", "connect", `--repo=file://${repo}`, "--json"], {
    SKIFF_REPO_PASSWORD: "s3cret",
  });
  assert.equal(connect.code, 0, connect.err);
  assert.equal(JSON.parse(connect.out).format, "skiff-repository v1");

  const bad = await skiff(["repo", "snapshots", "--repo", repo, "--password-file", wrong]);
  assert.equal(bad.code, 3);
  assert.match(bad.err, /wrong password/);
  const missing = await skiff(["repo", "snapshots", "--repo", join(dir, "none"), "--password-file", pw]);
  assert.equal(missing.code, 4);
  assert.match(missing.err, /does not exist/);
  const noPassword = await skiff(["repo", "snapshots", "--repo", repo]);
  assert.equal(noPassword.code, 1);
  assert.match(noPassword.err, /SKIFF_REPO_PASSWORD/);
  assert.equal((await skiff(["repo", "snapshots", "--password-file", pw])).code, 2);

  const list = await skiff(["repo", "snapshots", "--repo", repo, "--password-file", pw, "--json"]);
  assert.deepEqual(JSON.parse(list.out), []);
  const table = await skiff(["repo", "snapshots", "--repo", repo, "--password-file", pw]);
  assert.match(table.out, /^ID\s+TIME\s+HOST/);
  const verify = await skiff(["repo", "verify", "--repo", repo, "--password-file", pw, "--read-data"]);
  assert.equal(verify.code, 0, verify.err);
  assert.match(verify.out, /no problems found/);
  const maintenance = await skiff(["repo", "maintenance", "--repo", repo, "--password-file", pw, "--json"]);
  assert.equal(maintenance.code, 0, maintenance.err);
  assert.equal(JSON.parse(maintenance.out).indexFilesAfter, 0);
});

test("SKIFF_DIRECT_WRITES turns direct writes off, and a value that is neither on nor off is refused by name", async (t) => {
  const dir = await tempDir(t);
  const repo = join(dir, "repo");
  const pw = join(dir, "pw");
  await writeFile(pw, "s3cret\n");
  const bad = await skiff(["repo", "init", "--repo", repo, "--password-file", pw], { SKIFF_DIRECT_WRITES: "sideways" });
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /SKIFF_DIRECT_WRITES must be 'on' or 'off', not 'sideways'/);

  const source = join(dir, "source");
  await mkdir(source);
  const big = randomBytes(3 << 20);
  await writeFile(join(source, "big.bin"), big);
  const off = { SKIFF_DIRECT_WRITES: "off" };
  assert.equal((await skiff(["repo", "init", "--repo", repo, "--password-file", pw], off)).code, 0);
  const common = ["--repo", repo, "--password-file", pw, "--json"];
  const backup = await skiff(["data-mover", "backup", ...common, "--source", source], off);
  assert.equal(backup.code, 0, backup.err);
  const snapshot = JSON.parse(backup.out.trim().split("\n").at(-1)!).snapshotID as string;
  const target = join(dir, "target");
  const restore = await skiff(["data-mover", "restore", ...common, "--snapshot", snapshot, "--target", target], off);
  assert.equal(restore.code, 0, restore.err);
  assert.ok((await readFile(join(target, "big.bin"))).equals(big));
});

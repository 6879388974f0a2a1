import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { readConfig, WrongPasswordError } from "../../../src/repository/config.ts";
import { openRepository } from "../../../src/repository/open.ts";
import { changePassword } from "../../../src/repository/password.ts";
import { runSkiff } from "../../support/run-skiff.ts";
import { collect, FAST, fileEntry, manifest, newRepository, PASSWORD, random, streamOf } from "./helpers.ts";

const skiff = runSkiff;

test("a changed password opens the repository and its data; the old one no longer does", async (t) => {
  const { repo, store } = await newRepository(t);
  const data = random(200_000);
  const ref = await repo.writeObject(streamOf(data));
  await repo.saveSnapshot(manifest({ root: await repo.writeTree([fileEntry("f", ref)]) }));
  const before = await readConfig(store);

  const after = await changePassword(store, PASSWORD, "a new passphrase");
  // Only the wrapping changed: same repository, same parameters, a fresh salt.
  const { kdf: oldKdf, masterKey: oldKey, ...oldRest } = before;
  const { kdf: newKdf, masterKey: newKey, ...newRest } = await readConfig(store);
  assert.deepEqual(newRest, oldRest);
  assert.notEqual(newKdf.salt, oldKdf.salt);
  assert.equal(newKdf.N, oldKdf.N);
  assert.notEqual(newKey, oldKey);
  assert.equal(after.masterKey, newKey);

  // The process that opened the repository before the change keeps working.
  assert.ok((await collect(repo.readObject(ref))).equals(data));
  await assert.rejects(openRepository(store, PASSWORD, FAST), WrongPasswordError);
  const reopened = await openRepository(store, "a new passphrase", FAST);
  t.after(() => reopened.close());
  assert.ok((await collect(reopened.readObject(ref))).equals(data));
  assert.equal((await reopened.listSnapshots()).length, 1);

  await assert.rejects(changePassword(store, PASSWORD, "third"), WrongPasswordError);
  await assert.rejects(changePassword(store, "a new passphrase", ""), /must not be empty/);
  await assert.rejects(changePassword(store, "a new passphrase", "a new passphrase"), /same as the current one/);
  assert.equal((await readConfig(store)).masterKey, newKey, "refused changes leave the config alone");
});

test("skiff repo change-password: files or environment, clear errors and exit codes", async (t) => {
  const { dir } = await newRepository(t);
  const location = join(dir, "repo");
  const newFile = join(dir, "new-password");
  await writeFile(newFile, "rotated secret\n");
  const env = { SKIFF_REPO_PASSWORD: PASSWORD };

  const missing = await skiff(["repo", "change-password", "--repo", location], env);
  assert.equal(missing.code, 1);
  assert.match(
    missing.err,
    /no new repository password: pass --new-password-file <file> or set SKIFF_NEW_REPO_PASSWORD/,
  );
  const wrong = await skiff(["repo", "change-password", "--repo", location, "--new-password-file", newFile], {
    SKIFF_REPO_PASSWORD: "not it",
  });
  assert.equal(wrong.code, 3);
  const unreadable = await skiff(
    ["repo", "change-password", "--repo", location, "--new-password-file", join(dir, "nope")],
    env,
  );
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.err, /cannot read the new repository password file .*nope/);
  assert.equal((await skiff(["repo", "change-password", "--repo", location, "--bogus"], env)).code, 2);

  const changed = await skiff(["repo", "change-password", "--repo", location, `--new-password-file=${newFile}`], env);
  assert.equal(changed.code, 0, changed.err);
  assert.match(changed.out, /changed the password of repository [0-9a-f-]{36}/);
  assert.ok(!changed.out.includes("rotated secret") && !changed.err.includes("rotated secret"));
  const viaEnv = await skiff(["repo", "change-password", "--repo", location], {
    SKIFF_REPO_PASSWORD: "rotated secret",
    SKIFF_NEW_REPO_PASSWORD: "third",
  });
  assert.equal(viaEnv.code, 0, viaEnv.err);
  assert.equal((await skiff(["repo", "connect", "--repo", location], { SKIFF_REPO_PASSWORD: "third" })).code, 0);
});

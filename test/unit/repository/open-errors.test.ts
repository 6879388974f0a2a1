import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import {
  NotARepositoryError,
  RepositoryExistsError,
  UnsupportedFormatError,
  WrongPasswordError,
} from "../../../src/repository/index.ts";
import { initRepository, openRepository } from "../../../src/repository/open.ts";
import { FAST, newRepository, PASSWORD, SMALL, tempDir } from "./helpers.ts";

test("a wrong password is refused with a clear error", async (t) => {
  const { store } = await newRepository(t);
  await assert.rejects(openRepository(store, "not the password", FAST), (err: unknown) => {
    assert.ok(err instanceof WrongPasswordError);
    assert.match(err.message, /wrong password for the repository at file:\/\//);
    return true;
  });
  const ok = await openRepository(store, PASSWORD, FAST);
  await ok.close();
});

test("an unknown format version is refused before the password is tried", async (t) => {
  const { dir } = await newRepository(t);
  const path = join(dir, "repo", "config");
  const config = JSON.parse(await readFile(path, "utf8"));
  await writeFile(path, JSON.stringify({ ...config, version: 2 }));
  const store = await openFilesystemStore(join(dir, "repo"));
  await assert.rejects(openRepository(store, PASSWORD, FAST), (err: unknown) => {
    assert.ok(err instanceof UnsupportedFormatError);
    assert.match(err.message, /version 2; this skiff reads skiff-repository version 1 only/);
    return true;
  });
});

test("altered parameters in the config make the key check fail", async (t) => {
  const { dir } = await newRepository(t);
  const path = join(dir, "repo", "config");
  const config = JSON.parse(await readFile(path, "utf8"));
  await writeFile(path, JSON.stringify({ ...config, packSize: 1024 }));
  const store = await openFilesystemStore(join(dir, "repo"));
  await assert.rejects(openRepository(store, PASSWORD, FAST), WrongPasswordError);
});

test("an unknown compression in the config is refused with an error naming it", async (t) => {
  const { dir } = await newRepository(t);
  const path = join(dir, "repo", "config");
  const config = JSON.parse(await readFile(path, "utf8"));
  await writeFile(path, JSON.stringify({ ...config, compression: "lz4" }));
  const store = await openFilesystemStore(join(dir, "repo"));
  await assert.rejects(
    openRepository(store, PASSWORD, FAST),
    /config object of file:\/\/.* has compression 'lz4'; this skiff knows none, zstd/,
  );
});

test("an empty directory is not a repository; a missing one is an error naming it; init twice fails", async (t) => {
  const dir = await tempDir(t);
  const store = await openFilesystemStore(join(dir, "empty"), { create: true });
  await assert.rejects(openRepository(store, PASSWORD, FAST), NotARepositoryError);
  await assert.rejects(openFilesystemStore(join(dir, "missing")), /missing does not exist/);
  const repo = await initRepository(store, PASSWORD, { ...SMALL, ...FAST });
  await repo.close();
  await assert.rejects(initRepository(store, PASSWORD, { ...SMALL, ...FAST }), RepositoryExistsError);
});

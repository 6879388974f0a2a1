/** The shared ObjectStore conformance suite on the filesystem backend (a fresh temp directory per test). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFilesystemStore } from "../../../src/objectstore/filesystem.ts";
import { objectStoreConformance } from "../../support/objectstore-conformance.ts";

objectStoreConformance("filesystem", async () => {
  const dir = await mkdtemp(join(tmpdir(), "skiff-fs-store-"));
  const store = await openFilesystemStore(join(dir, "repo"), { create: true });
  return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
});
